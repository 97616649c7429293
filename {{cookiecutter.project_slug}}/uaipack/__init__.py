"""uaipack: the logic behind a model service project's invoke tasks.

`tasks.py` stays thin; everything it does lives here, importable and unit-tested.
"""

import functools


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
