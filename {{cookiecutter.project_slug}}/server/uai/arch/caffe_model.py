"""`CaffeAiUcloudModel`: base class for Caffe models (conf section `caffe`); imports no framework."""

import re

from uai.arch.base_model import AiUcloudModel


class CaffeAiUcloudModel(AiUcloudModel):
    """Sets model_arch_file (<dir>/<name>.prototxt) and model_weight_file (<dir>/<name>.caffemodel)."""

    framework = "caffe"

    def input_shape(self) -> list[int] | None:
        """The net's input blob shape (N, C, H, W) as its deploy .prototxt declares it, or None."""
        with open(self.model_arch_file, encoding="utf-8") as prototxt:
            return prototxt_input_shape(prototxt.read())


def prototxt_input_shape(text: str) -> list[int] | None:
    """The first input's dims in a deploy net's text: `input_dim:` lines, an `input_shape {}` block or
    an Input layer's `input_param { shape {} }`; None when it declares none."""
    text = re.sub(r"#[^\n]*", "", text)
    dims = re.findall(r"^\s*input_dim\s*:\s*(\d+)", text, re.M)
    if dims:
        return [int(dim) for dim in dims[:4]]
    block = re.search(r"(?:input_shape|input_param\s*:?\s*\{\s*shape)\s*:?\s*\{([^}]*)\}", text)
    return [int(dim) for dim in re.findall(r"dim\s*:\s*(\d+)", block.group(1))] if block else None
