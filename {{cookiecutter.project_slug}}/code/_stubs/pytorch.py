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

import json

import torch

from uai.arch.pytorch_model import PyTorchModel


class {{ cookiecutter.main_class }}(PyTorchModel):
    """Answers a TorchScript model's output, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.pt, resolved from conf.json.
        return torch.jit.load(self.model_file, map_location="cpu").eval()

    def execute(self, data, batch_size):
        answers = [None] * batch_size
        by_shape = {}
        for index, request in enumerate(data[:batch_size]):
            example = tensor(request)
            if example is None:
                answers[index] = bad_request("the body must be one example as a JSON array of numbers")
            else:
                by_shape.setdefault(tuple(example.shape), {})[index] = example
        with torch.inference_mode():
            for shape, group in by_shape.items():
                try:
                    outputs = self.model(torch.stack(list(group.values())))
                except RuntimeError as error:  # the model's own shape check
                    reason = str(error).strip().splitlines()[-1][:200]
                    outputs = [bad_request(f"the model cannot take an example of shape {list(shape)}: {reason}")]
                    outputs *= len(group)
                for index, output in zip(group, outputs):
                    answers[index] = output if isinstance(output, tuple) else output.tolist()
        return answers


def tensor(request):
    """The body as a float32 tensor, or None when it is not a numeric JSON array."""
    try:
        example = torch.tensor(json.loads(request.read()), dtype=torch.float32)
    except (ValueError, TypeError, RuntimeError):
        return None
    return example if example.dim() > 0 else None


def bad_request(message):
    return json.dumps({"error": message}), 400, {"Content-Type": "application/json"}
