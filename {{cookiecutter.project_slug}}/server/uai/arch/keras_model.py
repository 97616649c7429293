"""`KerasAiUcloudModel`: base class for Keras models (conf section `keras`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class KerasAiUcloudModel(AiUcloudModel):
    """Sets model_arch_file (<dir>/<name>.json|yaml), model_weight_file and model_file (<dir>/<name>.h5)."""

    framework = "keras"
