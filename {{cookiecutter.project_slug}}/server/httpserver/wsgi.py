"""WSGI entry point, as UAI started it: `gunicorn -c gunicorn.conf.py httpserver.wsgi`.

Importing it (once per worker process, after the fork) boots the runtime: the batching
loop starts and the model loads in the background.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")

application = get_wsgi_application()

from httpserver import runtime  # noqa: E402  (Django must be set up first)

runtime.drop_request_signals()
runtime.boot()
