"""Django settings for the inference server: no database, no admin, no sessions, no templates.

Only what varies per deployment reads the environment. The service's own knobs (batching,
limits, workers) live in the conf's `server` section, see `httpserver.config`.
"""

import os
import secrets

# -- Core ---------------------------------------------------------------------------------------
# Nothing here signs data (no sessions, no CSRF), so a per-process random key is enough.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
# An inference container sits behind a load balancer or orchestrator that picks the host name.
ALLOWED_HOSTS = [host for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",") if host]
ROOT_URLCONF = "httpserver.urls"
WSGI_APPLICATION = "httpserver.wsgi.application"
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
USE_TZ = True
# Every message the server writes is its own English; the image drops Django's catalogs.
USE_I18N = False
# Django exports TIME_ZONE as the process TZ; keep log times in the container's zone.
TIME_ZONE = os.environ.get("TZ") or "UTC"

# -- Requests -----------------------------------------------------------------------------------
# No middleware: the access line and request metrics are written by httpserver.handler, the one
# place every request passes (refused bodies too). Errors map to JSON in httpserver.views.
MIDDLEWARE: list[str] = []
# The body limit is server.max_body_bytes, enforced by the view with a 413; Django's own
# check would answer 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = None

# -- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
        "access": {"()": "httpserver.logs.AccessFormatter"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Written in bulk by a background thread: a write per line slows every request.
        "access": {"class": "httpserver.logs.BufferedStreamHandler", "formatter": "access"},
    },
    "loggers": {
        "httpserver.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # 404s and 500s are answered (and logged) by httpserver.views; keep Django quiet about them.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": os.environ.get("UAI_LOG_LEVEL", "INFO").upper()},
}
