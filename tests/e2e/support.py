"""Constants shared by the end-to-end tests and their fixtures (a module name no other test folder uses)."""

import uuid

USERNAME = "e2e-user"
PASSWORD = "pw-" + uuid.uuid4().hex  # unique, so finding it anywhere means it leaked
SMOKE_LABEL = "ai.uaipack.smoke"
