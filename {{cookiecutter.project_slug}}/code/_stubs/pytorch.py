"""{{ cookiecutter.project_name }}: a PyTorch model served from a TorchScript file (CPU).

Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.pt`, a TorchScript
module that takes one float32 tensor whose first dimension is the batch. Make it from your
trained `nn.Module` with
    torch.jit.script(model.eval()).save("{{ cookiecutter.model_name }}.pt")
(or `torch.jit.trace(model.eval(), example_batch)` for models `script` cannot compile);
TorchScript needs no Python class of yours at load time.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the input's shape without the batch dimension, e.g.
`[5.1, 3.5, 1.4, 0.2]`. It returns, in order, the model's output for that example as a JSON
list. Examples of one shape go through the model in one call; a body that is not numeric
JSON, or whose shape the model rejects, gets a 400 of its own.
"""

import numpy as np
import torch

from uai.arch.pytorch_model import PyTorchModel
from uai.examples import answer_by_shape, json_array, refusal


class {{ cookiecutter.main_class }}(PyTorchModel):
    """Answers a TorchScript model's output, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.pt, resolved from conf.json.
        return torch.jit.load(self.model_file, map_location="cpu").eval()

    def execute(self, data, batch_size):
        return answer_by_shape(
            data, batch_size,
            parse=lambda request: json_array(request, "float32"),
            predict=self.predict,
            refused=refusal("the body must be one example as a JSON array of numbers"),
            model_errors=(RuntimeError,),  # the model's own shape check
        )

    def predict(self, examples):
        with torch.inference_mode():
            return self.model(torch.from_numpy(np.stack(examples))).tolist()
