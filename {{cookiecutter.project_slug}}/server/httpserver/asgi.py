"""ASGI entry point: what the image serves, through `httpserver.workers.ServiceWorker`.

UAI's start command (`gunicorn -c gunicorn.conf.py httpserver.wsgi`) stays as it was;
gunicorn.conf.py picks the worker that runs this application on uvicorn. Importing it
(once per worker process, after the fork) boots the runtime: the batching loop starts
and the model loads in the background.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "httpserver.settings")
django.setup()

from httpserver import runtime  # noqa: E402  (Django must be set up first)
from httpserver.handler import ServiceHandler  # noqa: E402

application = ServiceHandler()
runtime.boot()
