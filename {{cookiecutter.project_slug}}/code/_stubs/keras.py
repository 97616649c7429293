"""{{ cookiecutter.project_name }}: a Keras model served with Keras 3 on the JAX backend (CPU).

Files expected in `{{ cookiecutter.model_dir }}/`, by UAI's conf keys (any one layout):
- `{{ cookiecutter.model_name }}.json` (or `.yaml`, `model_arch_type`) with the architecture and
  `{{ cookiecutter.model_name }}.h5` with the weights (`all_one_file: false`, UAI's default);
- `{{ cookiecutter.model_name }}.h5` holding the whole model (`all_one_file: true`);
- `{{ cookiecutter.model_name }}.keras`, Keras 3's own format (`model.save("....keras")`), used
  whenever it is there.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the model's input shape without the batch dimension,
e.g. `[5.1, 3.5, 1.4, 0.2]` for an input of shape (None, 4). It returns, in order, the
model's output for that example as a JSON list; a body of the wrong shape gets a 400 of its
own. All valid examples go through the model in one call.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is imported; requirements.txt has jax

import keras  # noqa: E402
import numpy as np  # noqa: E402

from uai.arch.keras_model import KerasAiUcloudModel  # noqa: E402
from uai.examples import answer_valid, json_array, shape_refusal  # noqa: E402


class {{ cookiecutter.main_class }}(KerasAiUcloudModel):
    """Answers a Keras model's output, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # Paths come from conf.json: model_file (.keras or .h5), model_arch_file, model_weight_file.
        if self.model_file.endswith(".keras") or str(self.all_one_file).lower() in ("true", "yes", "1"):
            model = keras.models.load_model(self.model_file, compile=False)
        else:
            model = keras.models.model_from_json(architecture_json(self.model_arch_file))
            model.load_weights(self.model_weight_file)
        self.example_shape = list(model.inputs[0].shape[1:])
        return model

    def execute(self, data, batch_size):
        return answer_valid(
            data, batch_size,
            parse=lambda request: json_array(request, "float32", self.example_shape),
            predict=lambda examples: keras.ops.convert_to_numpy(
                self.model(np.stack(examples), training=False)
            ).tolist(),
            refused=shape_refusal(self.example_shape),
        )


def architecture_json(path):
    """The architecture file as JSON text; Keras 3 reads no YAML, so a .yaml file is converted."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    if path.endswith((".yaml", ".yml")):
        import yaml

        text = json.dumps(yaml.safe_load(text))
    return text
