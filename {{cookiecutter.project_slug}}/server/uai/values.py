"""How a yes/no is written in a conf, in invoke.yaml and in an environment variable: read here, once.

The server's bool knobs (`httpserver.config`), a Keras section's `all_one_file`
(`uai.frameworks`) and the tools' yes/no settings (`uaipack.settings`) all use `yes_no`,
so `yes`, `true`, `1` and `on` mean the same everywhere. It imports nothing.
"""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", ""})


def yes_no(value: object) -> bool:
    """`value` as a bool: a bool as it is, None as no, else one of the words above (any case).

    Raises ValueError (naming the value) for anything else; callers add which key it was.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not yes or no")
