"""{{ cookiecutter.project_name }}: a self-defined (pure Python) inference service.

Files expected: none; this model needs no file in {{ cookiecutter.model_dir }}/.
`execute` receives a list of requests, each readable like a file (`.read()`, `.body`);
every body here is a JSON list of class scores, e.g. the softmax output of a digit
classifier. It returns, for each request in order, the index of the highest score as
text: `[0.0, 0.1, 0.9]` -> "2". Replace the body of `execute` with your own model.
"""

import json

from uai.arch.base_model import AiUcloudModel
from uai.examples import refusal


class {{ cookiecutter.main_class }}(AiUcloudModel):
    """Answers the arg-max of a JSON list of scores, one answer per request."""

    def __init__(self, conf):
        super().__init__(conf)

    def load_model(self):
        # A self-defined service loads whatever it needs here; this one needs nothing.
        return None

    def execute(self, data, batch_size):
        return [self.predict_one(request) for request in data[:batch_size]]

    @staticmethod
    def predict_one(request):
        """One answer; a bad body gets a 400 of its own, not a failure of the whole batch."""
        try:
            scores = [float(score) for score in json.loads(request.read())]
        except (ValueError, TypeError):
            scores = []
        if not scores:
            return refusal("the body must be a non-empty JSON list of numbers, e.g. [0.1, 0.9]")
        return str(max(range(len(scores)), key=scores.__getitem__))
