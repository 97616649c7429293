"""`OnnxModel`: base class for ONNX models (conf section `onnx`); imports no framework."""

from uai.arch.base_model import AiUcloudModel


class OnnxModel(AiUcloudModel):
    """Sets model_file (<dir>/<name>.onnx, for an onnxruntime InferenceSession)."""

    framework = "onnx"
