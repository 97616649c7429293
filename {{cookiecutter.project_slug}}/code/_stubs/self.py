"""The inference class of this service: a self-defined (pure Python) service, no model file.

Each request body here is a JSON list of class scores, e.g. the softmax output of a digit
classifier; it is answered with the index of the highest score as text: `[0.0, 0.1, 0.9]` ->
"2". A body that is not such a list, for any reason, gets a 400 of its own and the rest of
the batch is answered. Replace the body of `execute` with your own model.
"""

import json

from uai.arch.base_model import AiUcloudModel
from uai.examples import refusal


class MnistModel(AiUcloudModel):
    """Answers the arg-max of a JSON list of scores, one answer per request."""

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
        except Exception:  # noqa: BLE001 - ValueError, TypeError, RecursionError (deep nesting), ...
            scores = []
        if not scores:
            return refusal("the body must be a non-empty JSON list of numbers, e.g. [0.1, 0.9]")
        return str(max(range(len(scores)), key=scores.__getitem__))
