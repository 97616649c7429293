"""`MXNetAiUcloudModel`: base class for MXNet models (conf section `mxnet`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class MXNetAiUcloudModel(AiUcloudModel):
    """Sets model_prefix (<dir>/<name>) and num_epoch, for mx.model.load_checkpoint(prefix, epoch)."""

    framework = "mxnet"
