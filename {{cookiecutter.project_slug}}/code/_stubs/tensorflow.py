"""{{ cookiecutter.project_name }}: a TensorFlow SavedModel served with tensorflow-cpu.

Files expected: a SavedModel in `{{ cookiecutter.model_dir }}/` (`saved_model.pb` and
`variables/`), written with `tf.saved_model.save(module, "{{ cookiecutter.model_dir }}")` or
`model.export("{{ cookiecutter.model_dir }}")` for a Keras model. The conf section's optional
UAI keys pick what is called: `signature` (default `serving_default`), `input` (default its
only input), `output` (default its first output by name) and `tag` (default `serve`).
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as JSON, nested to the input's shape without the batch dimension, e.g.
`[5.1, 3.5, 1.4, 0.2]` for an input of shape [None, 4]. It returns, in order, the output for
that example as a JSON list; a body of the wrong shape gets a 400 of its own. All valid
examples go through the signature in one call.
"""

import numpy as np
import tensorflow as tf

from uai.arch.tf_model import TFAiUcloudModel
from uai.examples import answer_valid, json_array, shape_refusal


class {{ cookiecutter.main_class }}(TFAiUcloudModel):
    """Answers one output of a SavedModel signature, one JSON list per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_dir is the SavedModel folder, resolved from conf.json.
        tags = [getattr(self, "tag", None) or "serve"]
        saved_model = tf.saved_model.load(self.model_dir, tags=tags)
        self.function = saved_model.signatures[getattr(self, "signature", None) or "serving_default"]
        inputs = self.function.structured_input_signature[1]
        self.input_name = getattr(self, "input", None) or next(iter(inputs))
        self.output_name = getattr(self, "output", None) or sorted(self.function.structured_outputs)[0]
        spec = inputs[self.input_name]
        self.dtype, self.example_shape = spec.dtype.as_numpy_dtype, spec.shape.as_list()[1:]
        return saved_model  # keeps the variables alive

    def execute(self, data, batch_size):
        return answer_valid(
            data, batch_size,
            parse=lambda request: json_array(request, self.dtype, self.example_shape),
            predict=self.predict,
            refused=shape_refusal(self.example_shape),
        )

    def predict(self, examples):
        outputs = self.function(**{self.input_name: tf.constant(np.stack(examples))})
        return outputs[self.output_name].numpy().tolist()
