"""What the console and OpenAPI tests share: a model and a samples/ folder of every kind."""

from __future__ import annotations

from pathlib import Path


class Doubles:
    """Answers every input with its body length as text."""

    def execute(self, data, batch_size):
        return [str(len(item.body)) for item in data]


def write_samples(folder: Path) -> Path:
    """A JSON body with a JSON answer, a text body with an exact one, an image with an exact
    answer, a body whose expected answer is missing, and a README that is no sample."""
    folder.mkdir()
    (folder / "scores.json").write_text("[0.5, 0.25]")
    (folder / "scores.expected.json").write_text('{"best": 0.5}')
    (folder / "hello.txt").write_text("hello")
    (folder / "hello.expected").write_text("5\n")
    (folder / "pixel.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    (folder / "pixel.expected").write_text("28")
    (folder / "lonely.bin").write_bytes(b"\x00\x01")
    (folder / "README.md").write_text("not a sample")
    return folder
