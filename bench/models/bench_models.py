"""The two benchmark models, written as UAI inference classes; both take a JSON list of 256 floats.

EchoModel answers each body unchanged: pure serving overhead. MatmulModel is batch
friendly: each call pays a fixed cost (BENCH_FIXED_MATMULS 240x240 float32 matmuls,
calibrated by the benchmark to about 2.5 ms) and each item a small one (its row @ a
fixed 256x256 float32 matrix, then argmax), like a classifier head on a feature vector.
"""

import json
import os

import numpy as np
from uai.arch.self_model import SelfDefinedModel


class EchoModel(SelfDefinedModel):
    def execute(self, data, batch_size):
        return [data[i].body for i in range(batch_size)]


class MatmulModel(SelfDefinedModel):
    def load_model(self):
        rng = np.random.default_rng(0)
        self.weights = rng.standard_normal((256, 256)).astype(np.float32)
        self.square = rng.standard_normal((240, 240)).astype(np.float32) / 16
        self.fixed_matmuls = int(os.environ.get("BENCH_FIXED_MATMULS", "1"))

    def execute(self, data, batch_size):
        rows = np.array([json.loads(data[i].body) for i in range(batch_size)], dtype=np.float32)
        for _ in range(self.fixed_matmuls):  # the per-call cost a real model's setup would have
            self.square @ self.square
        scores = rows @ self.weights
        best = scores.argmax(axis=1)
        return [{"class": int(best[i]), "score": float(scores[i, best[i]])} for i in range(batch_size)]
