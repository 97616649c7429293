"""The inference server: a minimal Django project that serves a UAI inference class with batching.

Start it as UAI did: `cd <server root> && gunicorn -c gunicorn.conf.py httpserver.wsgi`.
"""
