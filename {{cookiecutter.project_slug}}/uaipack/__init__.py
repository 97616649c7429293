"""uaipack: the logic behind a model service project's invoke tasks.

`tasks.py` stays thin; everything it does lives here, importable and unit-tested.
"""

import functools
import importlib
import sys
from pathlib import Path
from types import ModuleType

#: The server runtime beside this package: the tools read its tables rather than copy them.
SERVER_DIR = Path(__file__).resolve().parents[1] / "server"


class UserError(Exception):
    """A problem the user can fix; its message is one sentence naming the thing and the fix."""


def exit_on_user_error(body):
    """Wrap an invoke task body: a UserError becomes invoke's Exit (one line, exit 1, no traceback)."""
    from invoke import Exit

    @functools.wraps(body)
    def run(*args, **kwargs):
        try:
            return body(*args, **kwargs)
        except UserError as error:
            raise Exit(f"error: {error}", code=1) from None

    return run


def server_module(name: str) -> ModuleType:
    """A module of server/ that imports no Django and no framework (`httpserver.config`'s knob
    table, `uai.frameworks`' model files, `uai.values`' yes/no): the one place each fact lives."""
    if str(SERVER_DIR) not in sys.path:
        sys.path.insert(0, str(SERVER_DIR))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and not name.startswith(error.name):
            raise  # the module is there; something it imports is not
        missing = SERVER_DIR.joinpath(*name.split(".")).with_suffix(".py")
        raise UserError(f"{missing} is missing; restore server/ from the template.") from None
