"""`CaffeAiUcloudModel`: base class for Caffe models (conf section `caffe`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class CaffeAiUcloudModel(AiUcloudModel):
    """Sets model_arch_file (<dir>/<name>.prototxt) and model_weight_file (<dir>/<name>.caffemodel)."""

    framework = "caffe"
