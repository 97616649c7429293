"""`TFAiUcloudModel`: base class for TensorFlow models (conf section `tensorflow`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class TFAiUcloudModel(AiUcloudModel):
    """Sets model_dir (a SavedModel folder) and the optional input, output, tag and signature keys."""

    framework = "tensorflow"
