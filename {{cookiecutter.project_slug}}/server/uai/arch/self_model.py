"""`SelfDefinedModel`: base class for self-defined services that name no model files.

Any keys of the conf's own section become attributes; nothing is checked or imported.
"""

from uai.arch.base_model import AiUcloudModel


class SelfDefinedModel(AiUcloudModel):
    """A plain service: write load_model (optional) and execute(data, batch_size)."""

    framework = "self"
