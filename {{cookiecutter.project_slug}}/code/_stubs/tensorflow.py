"""The inference class of this service: a TensorFlow SavedModel, run by tensorflow-cpu.

Model files: a SavedModel in the model folder (`saved_model.pb` and `variables/`), written with
`tf.saved_model.save(module, "<model_dir>")` or, for a Keras model, `model.export("<model_dir>")`.
The conf section's optional UAI keys pick what is called: `signature` (default
`serving_default`), `input` (default its only input), `output` (default its first output by
name) and `tag` (default `serve`).

Each request is one example, either
- an image (PNG, JPEG, BMP, GIF, WebP; `curl -T 2.png .../service`), decoded and fitted to the
  signature's input (e.g. [None, 28, 28, 1]: its size, grey or RGB; pixels divided by 255 as in
  UAI's TensorFlow example, `pixel_mean`/`pixel_std`), answered with the class index as text
  (`2` and a newline; JSON with scores when `image_answer` is `json`); or
- a JSON array nested to that input's shape without the batch dimension, answered with the
  output as a JSON list.
A body that is neither gets a 400 of its own. All examples go through the signature in one call.
"""

import tensorflow as tf
from uai.arch.tf_model import TFAiUcloudModel
from uai.examples import ModelInput


class MnistModel(TFAiUcloudModel):
    """Answers one output of a SavedModel signature (or an image's class) for each request."""

    def load_model(self):
        # self.model_dir is the SavedModel folder, resolved from conf.json.
        tags = [getattr(self, "tag", None) or "serve"]
        saved_model = tf.saved_model.load(self.model_dir, tags=tags)
        self.function = saved_model.signatures[getattr(self, "signature", None) or "serving_default"]
        inputs = self.function.structured_input_signature[1]
        self.input_name = getattr(self, "input", None) or next(iter(inputs))
        self.output_name = getattr(self, "output", None) or sorted(self.function.structured_outputs)[0]
        spec = inputs[self.input_name]
        self.inputs = ModelInput.for_model(
            self, shape=spec.shape.as_list()[1:], dtype=spec.dtype.as_numpy_dtype
        )
        return saved_model  # keeps the variables alive

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict)

    def predict(self, batch):
        return self.function(**{self.input_name: tf.constant(batch)})[self.output_name].numpy()
