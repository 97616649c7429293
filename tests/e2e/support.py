"""Constants shared by the end-to-end tests and their fixtures (a module name no other test folder uses)."""

import uuid

from uaipack.smoke import SMOKE_LABEL  # the label smoke-test containers carry

USERNAME = "e2e-user"
PASSWORD = "pw-" + uuid.uuid4().hex  # unique, so finding it anywhere means it leaked
__all__ = ["PASSWORD", "SMOKE_LABEL", "USERNAME"]
