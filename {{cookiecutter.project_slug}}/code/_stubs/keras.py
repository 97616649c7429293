"""The inference class of this service: a Keras model, on Keras 3 with the JAX backend (CPU).

Model files in the model folder, by UAI's conf keys (conf.json's `http_server.keras`), any one layout:
- `<model_name>.json` (or `.yaml`, `model_arch_type`) with the architecture and `<model_name>.h5`
  with the weights (`all_one_file: false`, UAI's default);
- `<model_name>.h5` holding the whole model (`all_one_file: true`);
- `<model_name>.keras`, Keras 3's own format (`model.save("....keras")`), used whenever it is there.

Each request is one example, either
- an image (PNG, JPEG, BMP, GIF, WebP; `curl -T 2.png .../service`), decoded and fitted to the
  model's input (its size, grey or RGB; pixels divided by 255 as in UAI's Keras example,
  `pixel_mean`/`pixel_std`), answered with the class index as text (`2` and a newline; JSON
  with scores when `image_answer` is `json`); or
- a JSON array nested to the model's input shape without the batch dimension, e.g. 784
  numbers for an input of shape (None, 784), answered with the model's output as a JSON list.
A body that is neither gets a 400 of its own. All examples go through the model in one call.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported; requirements.txt has jax

import keras  # noqa: E402
from uai.arch.keras_model import KerasAiUcloudModel  # noqa: E402
from uai.examples import ModelInput  # noqa: E402


class MnistModel(KerasAiUcloudModel):
    """Answers a Keras model's output (or an image's class) for each request."""

    def load_model(self):
        # Paths come from conf.json: model_file (.keras or .h5), model_arch_file, model_weight_file.
        if self.model_file.endswith(".keras") or str(self.all_one_file).lower() in ("true", "yes", "1"):
            model = keras.models.load_model(self.model_file, compile=False)
        else:
            model = keras.models.model_from_json(architecture_json(self.model_arch_file))
            model.load_weights(self.model_weight_file)
        self.inputs = ModelInput.for_model(self, shape=model.inputs[0].shape[1:])
        return model

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict)

    def predict(self, batch):
        return keras.ops.convert_to_numpy(self.model(batch, training=False))


def architecture_json(path):
    """The architecture file as JSON text; Keras 3 reads no YAML, so a .yaml file is converted."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        text = json.dumps(yaml.safe_load(text))
    return text
