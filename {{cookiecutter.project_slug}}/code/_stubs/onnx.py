"""{{ cookiecutter.project_name }}: an ONNX model served with onnxruntime (CPU).

Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.onnx`, a model whose
first input takes a batch of float32 examples (first dimension: the batch).
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the input's shape without the batch dimension, e.g.
`[5.1, 3.5, 1.4, 0.2]` for an input of shape [batch, 4]. It returns, in order, the model's
first output for that example as a JSON list; a body of the wrong shape gets a 400 of its
own. All valid examples go through one `session.run` call.
"""

import numpy as np
import onnxruntime

from uai.arch.onnx_model import OnnxModel
from uai.examples import answer_valid, json_array, shape_refusal


class {{ cookiecutter.main_class }}(OnnxModel):
    """Answers the first output of an ONNX model, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.onnx, resolved from conf.json.
        session = onnxruntime.InferenceSession(self.model_file, providers=["CPUExecutionProvider"])
        first_input = session.get_inputs()[0]
        self.input_name = first_input.name
        # Symbolic or unknown dimensions (None, "batch") accept any size.
        self.example_shape = [dim if isinstance(dim, int) else None for dim in first_input.shape[1:]]
        return session

    def execute(self, data, batch_size):
        return answer_valid(
            data, batch_size,
            parse=lambda request: json_array(request, "float32", self.example_shape),
            predict=lambda examples: self.model.run(None, {self.input_name: np.stack(examples)})[0].tolist(),
            refused=shape_refusal(self.example_shape),
        )
