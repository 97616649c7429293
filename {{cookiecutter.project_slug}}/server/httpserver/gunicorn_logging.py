"""gunicorn's logger for the inference server: `logger_class` in gunicorn.conf.py."""

from __future__ import annotations

from gunicorn.glogging import Logger


class ServerLogger(Logger):
    """gunicorn's logger, deciding once (not per request) that gunicorn's access log is off.

    The server writes its own access line (`httpserver.middleware`); gunicorn's `access()`
    re-read five settings per request to find it has nothing to do (measured: about 2 % of
    an echo request).
    """

    def setup(self, cfg):
        super().setup(cfg)
        self._access_on = bool(
            cfg.accesslog
            or cfg.logconfig
            or cfg.logconfig_dict
            or cfg.logconfig_json
            or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        )

    def access(self, resp, req, environ, request_time):
        if self._access_on:
            super().access(resp, req, environ, request_time)
