"""{{ cookiecutter.project_name }}: an XGBoost Booster served by UAI-style inference code.

Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.json` or `.ubj`, saved
with `booster.save_model("{{ cookiecutter.model_name }}.json")` (for a scikit-learn style
`XGBClassifier`, `model.get_booster().save_model(...)`). UAI confs that name the whole file
(`"model_name": "xgb.model"`) work too.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as a JSON list of its numeric features, e.g. `[5.1, 3.5, 1.4, 0.2]`. It
returns, in order, `booster.predict` for that example: a number, or a list of class
probabilities for a multi-class model; a body that is not such a list gets a 400 of its own.
All valid examples go through one `predict` call.
"""

import numpy as np
import xgboost

from uai.arch.xgboost_model import XGBoostUcloudModel
from uai.examples import answer_valid, json_array, refusal


class {{ cookiecutter.main_class }}(XGBoostUcloudModel):
    """Answers `Booster.predict`, one JSON value per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>(.json|.ubj), resolved from conf.json.
        booster = xgboost.Booster()
        booster.load_model(self.model_file)
        return booster

    def execute(self, data, batch_size):
        width = self.model.num_features()
        return answer_valid(
            data, batch_size,
            parse=lambda request: json_array(request, "float32", (width,)),
            predict=lambda rows: self.model.predict(xgboost.DMatrix(np.stack(rows))).tolist(),
            refused=refusal(f"the body must be a JSON list of {width} numbers, one example's features"),
        )
