"""{{ cookiecutter.project_name }}: an ONNX model served with onnxruntime (CPU).

Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.onnx`, a model whose
first input takes a batch of float32 examples (first dimension: the batch).
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the input's shape without the batch dimension, e.g.
`[5.1, 3.5, 1.4, 0.2]` for an input of shape [batch, 4]. It returns, in order, the model's
first output for that example as a JSON list; a body of the wrong shape gets a 400 of its
own. All valid examples go through one `session.run` call.
"""

import json

import numpy as np
import onnxruntime

from uai.arch.onnx_model import OnnxModel


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
        examples = {index: example(request, self.example_shape) for index, request in enumerate(data[:batch_size])}
        valid = {index: array for index, array in examples.items() if array is not None}
        answers = [bad_request(self.example_shape)] * batch_size
        if valid:
            outputs = self.model.run(None, {self.input_name: np.stack(list(valid.values()))})[0]
            for index, output in zip(valid, outputs):
                answers[index] = output.tolist()
        return answers


def example(request, shape):
    """The body as a float32 array of `shape` (None: any size), or None."""
    try:
        array = np.asarray(json.loads(request.read()), dtype=np.float32)
    except (ValueError, TypeError):
        return None
    if array.ndim != len(shape) or any(want not in (None, got) for want, got in zip(shape, array.shape)):
        return None
    return array


def bad_request(shape):
    shown = [dim if dim is not None else "any" for dim in shape]
    error = {"error": f"the body must be one example as a JSON array of shape {shown}"}
    return json.dumps(error), 400, {"Content-Type": "application/json"}
