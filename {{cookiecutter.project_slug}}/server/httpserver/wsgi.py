"""WSGI entry point, the module UAI's start command names (`gunicorn -c gunicorn.conf.py
httpserver.wsgi`). Our gunicorn worker serves `httpserver.asgi` instead (see
`httpserver.workers`); this application is for other WSGI servers, where the async views
run through Django's adapter, correct but slower.

Importing it (once per worker process, after the fork) boots the runtime: the batching
loop starts and the model loads in the background.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")

application = get_wsgi_application()

from httpserver import runtime  # noqa: E402  (Django must be set up first)

runtime.boot()
