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

import json

import numpy as np
import xgboost

from uai.arch.xgboost_model import XGBoostUcloudModel


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
        rows = {index: features(request, width) for index, request in enumerate(data[:batch_size])}
        valid = {index: row for index, row in rows.items() if row is not None}
        answers = [bad_request(width)] * batch_size
        if valid:
            predictions = self.model.predict(xgboost.DMatrix(np.stack(list(valid.values()))))
            for index, prediction in zip(valid, predictions):
                answers[index] = prediction.tolist()
        return answers


def features(request, width):
    """The body as a 1-D float32 array of `width` numbers, or None."""
    try:
        row = np.asarray(json.loads(request.read()), dtype=np.float32)
    except (ValueError, TypeError):
        return None
    return row if row.ndim == 1 and row.size == width else None


def bad_request(width):
    error = {"error": f"the body must be a JSON list of {width} numbers, one example's features"}
    return json.dumps(error), 400, {"Content-Type": "application/json"}
