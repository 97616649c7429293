"""The inference class of this service: an ONNX model, run by onnxruntime (CPU).

Model file in the model folder (conf.json's `http_server.onnx`): `<model_name>.onnx`, a model
whose first input takes a batch of float32 examples (first dimension: the batch).

Each request is one example, either
- an image (PNG, JPEG, BMP, GIF, WebP; `curl -T 2.png .../service`), decoded and fitted to the
  model's first input as the file declares it (e.g. [batch, 1, 28, 28]: its size, grey or RGB;
  pixels divided by 255, `pixel_mean`/`pixel_std`), answered with the class index as text
  (`2` and a newline; JSON with scores when `image_answer` is `json`); or
- a JSON array nested to that input's shape without the batch dimension, answered with the
  model's first output as a JSON list.
A body that is neither gets a 400 of its own. All examples go through one `session.run` call.
"""

import onnxruntime
from uai.arch.onnx_model import OnnxModel
from uai.examples import ModelInput


class MnistModel(OnnxModel):
    """Answers the first output of an ONNX model (or an image's class) for each request."""

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.onnx, resolved from conf.json.
        session = onnxruntime.InferenceSession(self.model_file, providers=["CPUExecutionProvider"])
        first_input = session.get_inputs()[0]
        self.input_name = first_input.name
        # Symbolic or unknown dimensions ("batch", None) take any size.
        shape = [dim if isinstance(dim, int) else None for dim in first_input.shape[1:]]
        self.inputs = ModelInput.for_model(self, shape=shape)
        return session

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict)

    def predict(self, batch):
        return self.model.run(None, {self.input_name: batch})[0]
