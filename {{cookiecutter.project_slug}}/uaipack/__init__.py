"""uaipack: the logic behind a model service project's invoke tasks.

`tasks.py` stays thin; everything it does lives here, importable and unit-tested.
"""


class UserError(Exception):
    """A problem the user can fix; its message is one sentence naming the thing and the fix."""
