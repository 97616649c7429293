"""The inference class of this service: a scikit-learn model.

Model file in the model folder (conf.json's `http_server.sklearn`): `<model_name>.joblib`, any
fitted estimator or pipeline saved with `joblib.dump(model, "<model_name>.joblib")`.
Each request body is one example as a JSON list of its numeric features, e.g.
`[5.1, 3.5, 1.4, 0.2]`; it is answered with `model.predict` of that example (`0`, `12.5` as
JSON, `setosa` as text). A body that is not such a list gets a 400 of its own. All valid
examples go through one `predict` call.
"""

import joblib
from uai.arch.sklearn_model import SklearnModel
from uai.examples import ModelInput


class MnistModel(SklearnModel):
    """Answers `predict` of a joblib-saved estimator for each request."""

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.joblib, resolved from conf.json.
        model = joblib.load(self.model_file)
        self.inputs = ModelInput.for_model(
            self, shape=[getattr(model, "n_features_in_", None)], dtype="float64"
        )
        return model

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.model.predict)
