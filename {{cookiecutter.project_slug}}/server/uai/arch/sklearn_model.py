"""`SklearnModel`: base class for scikit-learn models (conf section `sklearn`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class SklearnModel(AiUcloudModel):
    """Sets model_file (<dir>/<name>.joblib, for joblib.load)."""

    framework = "sklearn"
