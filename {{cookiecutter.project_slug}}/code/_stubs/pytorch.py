"""The inference class of this service: a PyTorch model, from a TorchScript file (CPU).

Model file in the model folder (conf.json's `http_server.pytorch`): `<model_name>.pt`, a
TorchScript module that takes one float32 tensor whose first dimension is the batch. Make it
from your trained `nn.Module` with `torch.jit.script(model.eval()).save("<model_name>.pt")`
(or `torch.jit.trace(model.eval(), example_batch)` for models `script` cannot compile);
TorchScript needs no Python class of yours at load time.

Each request is one example, either
- an image (PNG, JPEG, BMP, GIF, WebP; `curl -T 2.png .../service`), decoded and fitted to the
  conf's `input_shape` (a TorchScript file does not declare its input; default [1, 28, 28],
  C x H x W), pixels divided by 255 (`pixel_mean`/`pixel_std`), answered with the class index as
  text (`2` and a newline; JSON with scores when `image_answer` is `json`); or
- a JSON array nested to the input's shape without the batch dimension, answered with the
  model's output as a JSON list.
Examples of one shape go through the model in one call; a body that is neither, or whose
shape the model rejects, gets a 400 of its own.
"""

import torch
from uai.arch.pytorch_model import PyTorchModel
from uai.examples import ModelInput


class MnistModel(PyTorchModel):
    """Answers a TorchScript model's output (or an image's class) for each request."""

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.pt, resolved from conf.json.
        self.inputs = ModelInput.for_model(self, shape=None)  # images: fitted to conf's input_shape
        return torch.jit.load(self.model_file, map_location="cpu").eval()

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict, model_errors=(RuntimeError,))

    def predict(self, batch):
        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).numpy()
