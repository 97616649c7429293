"""Image requests: tell an image body from others, decode it, and fit it to a model's input.

UAI's vision examples read each request as an image file (`Image.open(data[i])`), resized it
to the net's input and fed its pixels, so `curl -T 2.jpeg .../service` answered `2`. This
module does that once for every stub: an `ImageInput` is made from the model's declared
input shape (or a conf key where the model file does not say it) and the framework
section's conf keys (`pixel_mean`, `pixel_std`, `channel_order`, `input_layout`, defaults
in `uai.frameworks`), and turns one PNG, JPEG, BMP, GIF or WebP body into one example:

    value = (pixel - pixel_mean) / pixel_std        # per channel when lists are given

Pillow decodes (OpenCV for the Caffe stub, which has it anyway); either is imported only
when an image arrives, and so is numpy.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: The first bytes of each image format taken (WebP is checked apart: RIFF....WEBP).
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
FORMATS = "PNG, JPEG, BMP, GIF or WebP"
CHANNEL_COUNTS = (1, 3, 4)


class NotAnImage(ValueError):
    """The body looks like an image but cannot be decoded or fitted; the message says why."""


def image_format(body: bytes, content_type: str = "") -> str | None:
    """The image format of a body (by its own magic bytes, else an image/* content type), or None."""
    for magic, name in MAGIC:
        if body.startswith(magic):
            return name
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "WebP"
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.removeprefix("image/").upper() if kind.startswith("image/") else None


@dataclasses.dataclass(frozen=True)
class ImageInput:
    """How one image becomes one example: the example's shape and layout, the size and channels
    images are fitted to (None: the image's own), the channel order and the pixel scaling."""

    shape: tuple[int | None, ...]
    layout: str  # NCHW, NHWC, HW (grey, no channel axis) or flat (H*W*C values)
    height: int | None
    width: int | None
    channels: int
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    channel_order: str = "RGB"
    decoder: str = "pillow"

    @classmethod
    def for_shape(
        cls, shape: Sequence[int | None], conf: Mapping[str, Any], decoder: str = "pillow"
    ) -> ImageInput | str:
        """The fit for a model whose one example has `shape` (no batch dimension), with the conf
        keys `conf` gives; or, when such an input takes no image, a sentence saying why."""
        shape = known_shape(shape)
        geometry = _geometry(shape, str(conf.get("input_layout") or "NCHW"))
        if isinstance(geometry, str):
            return geometry
        layout, height, width, channels = geometry
        return cls(
            shape,
            layout,
            height,
            width,
            channels,
            _per_channel(conf.get("pixel_mean", 0)),
            _per_channel(conf.get("pixel_std", 1)),
            str(conf.get("channel_order") or "RGB").upper(),
            decoder,
        )

    def example(self, body: bytes) -> np.ndarray:
        """One example (float32, of `shape`) from an image body; raises NotAnImage."""
        import numpy as np

        try:
            pixels = _decode_opencv(body, self) if self.decoder == "opencv" else _decode_pillow(body, self)
        except Exception as error:  # noqa: BLE001 - a decoder fails in many ways on hostile bytes
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise NotAnImage(f"the body cannot be decoded as an image ({reason})") from None
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        values = (pixels.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
        if self.layout == "NCHW":
            return np.ascontiguousarray(values.transpose(2, 0, 1))
        if self.layout == "HW":
            return values[:, :, 0]
        if self.layout == "flat":
            return values.reshape(-1)
        return values

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) an image of this size is resized to."""
        return self.height or height, self.width or width


def known_shape(shape: Sequence[int | None]) -> tuple[int | None, ...]:
    """`shape` as ints, an unknown dimension (None, 0, -1: any size) as None."""
    return tuple(None if dim is None or int(dim) < 1 else int(dim) for dim in shape)


def _geometry(shape: tuple[int | None, ...], preferred: str) -> tuple[str, int | None, int | None, int] | str:
    """(layout, height, width, channels) of an example shape, or why it takes no image."""
    shown = list(shape)
    if len(shape) == 3:
        first, last = shape[0] in CHANNEL_COUNTS, shape[-1] in CHANNEL_COUNTS
        layout = "NCHW" if first and not last else "NHWC" if last and not first else preferred
        if layout == "NCHW":
            return layout, shape[1], shape[2], shape[0] or 3
        return "NHWC", shape[0], shape[1], shape[2] or 3
    if len(shape) == 2:
        return "HW", shape[0], shape[1], 1
    if len(shape) == 1 and shape[0]:
        for channels in (1, 3):
            side = math.isqrt(shape[0] // channels)
            if side * side * channels == shape[0]:
                return "flat", side, side, channels
    return (
        f"the model's input {shown} is not an image (it takes H x W x C, C x H x W, H x W or a square H*W*C)"
    )


def _per_channel(value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return tuple(float(item) for item in values)


def _decode_pillow(body: bytes, fit: ImageInput) -> np.ndarray:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(body)) as image:
        image.seek(0)  # a GIF's first frame
        mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(fit.channels, "RGB")
        converted = image.convert(mode)
        height, width = fit.size_for(converted.height, converted.width)
        if (height, width) != (converted.height, converted.width):
            converted = converted.resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(converted)
    return pixels[:, :, ::-1] if fit.channel_order == "BGR" and pixels.ndim == 3 else pixels


def _decode_opencv(body: bytes, fit: ImageInput) -> np.ndarray:
    import cv2
    import numpy as np

    flag = cv2.IMREAD_GRAYSCALE if fit.channels == 1 else cv2.IMREAD_COLOR
    pixels = cv2.imdecode(np.frombuffer(body, np.uint8), flag)
    if pixels is None:
        raise ValueError("OpenCV cannot read it")
    height, width = fit.size_for(*pixels.shape[:2])
    if (height, width) != pixels.shape[:2]:
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_LINEAR)
    return pixels[:, :, ::-1] if fit.channel_order == "RGB" and pixels.ndim == 3 else pixels  # OpenCV is BGR
