"""The inference class of this service: an XGBoost Booster.

Model file in the model folder (conf.json's `http_server.xgboost`): `<model_name>.json` or
`.ubj`, saved with `booster.save_model("<model_name>.json")` (for a scikit-learn style
`XGBClassifier`, `model.get_booster().save_model(...)`). UAI confs that name the whole file
(`"model_name": "xgb.model"`) work too.
Each request body is one example as a JSON list of its numeric features, e.g.
`[5.1, 3.5, 1.4, 0.2]`; it is answered with `booster.predict` for that example: a number, or a
list of class probabilities for a multi-class model. A body that is not such a list gets a
400 of its own. All valid examples go through one `predict` call.
"""

import xgboost
from uai.arch.xgboost_model import XGBoostUcloudModel
from uai.examples import ModelInput


class MnistModel(XGBoostUcloudModel):
    """Answers `Booster.predict` for each request."""

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>(.json|.ubj), resolved from conf.json.
        booster = xgboost.Booster()
        booster.load_model(self.model_file)
        self.inputs = ModelInput.for_model(self, shape=[booster.num_features()])
        return booster

    def execute(self, data, batch_size):
        return self.inputs.answer(data[:batch_size], self.predict)

    def predict(self, batch):
        return self.model.predict(xgboost.DMatrix(batch))
