"""{{ cookiecutter.project_name }}: a scikit-learn model served by UAI-style inference code.

Files expected: `{{ cookiecutter.model_dir }}/{{ cookiecutter.model_name }}.joblib`, any fitted
estimator or pipeline saved with `joblib.dump(model, "{{ cookiecutter.model_name }}.joblib")`.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`); every
body is one example as a JSON list of its numeric features, e.g. `[5.1, 3.5, 1.4, 0.2]`. It
returns, in order, `model.predict` of each example (`0`, `12.5` as JSON, `setosa` as text); a body
that is not such a list gets a 400 of its own. All valid examples go through one `predict` call.
"""

import joblib
import numpy as np

from uai.arch.sklearn_model import SklearnModel
from uai.examples import answer_valid, json_array, refusal


class {{ cookiecutter.main_class }}(SklearnModel):
    """Answers `predict` of a joblib-saved estimator, one JSON value per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # self.model_file is <model_dir>/<model_name>.joblib, resolved from conf.json.
        return joblib.load(self.model_file)

    def execute(self, data, batch_size):
        width = getattr(self.model, "n_features_in_", None)
        count = f"{width} numbers" if width else "numbers"
        return answer_valid(
            data, batch_size,
            parse=lambda request: json_array(request, "float64", (width,)),
            # .item(): a number is sent as JSON, a text label as text
            predict=lambda rows: [value.item() for value in self.model.predict(np.stack(rows))],
            refused=refusal(f"the body must be a JSON list of {count}, one example's features"),
        )
