"""Minimal settings for the bare reference view: no middleware, no apps, no logging per request."""

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bare_site.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
MIDDLEWARE: list[str] = []
USE_TZ = True
TIME_ZONE = "UTC"
DATA_UPLOAD_MAX_MEMORY_SIZE = None
