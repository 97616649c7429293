"""Routes: UAI's `POST /service` and `GET /initialized`, health, readiness and metrics, the
OpenAPI document, and the console page (`httpserver.console`).

`service` comes first: Django tries patterns in order, so the hot path resolves at once
and the routes after it cost it nothing. `httpserver.openapi` documents every route here.
"""

from django.urls import path

from httpserver import console, openapi, views

urlpatterns = [
    path("service", views.service),
    path("initialized", views.initialized),
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    path("metrics", views.metrics),
    path("openapi.json", openapi.document),
    path("", console.page),
    *(path(f"console/{name}", console.asset_view(name)) for name in console.ASSETS),
    path("console/info", console.info),
    path("console/sample", console.sample),
    path("console/check", console.check),
]

handler404 = views.not_found
handler500 = views.server_error
