"""`PyTorchModel`: base class for PyTorch models (conf section `pytorch`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class PyTorchModel(AiUcloudModel):
    """Sets model_file (<dir>/<name>.pt, a TorchScript file for torch.jit.load)."""

    framework = "pytorch"
