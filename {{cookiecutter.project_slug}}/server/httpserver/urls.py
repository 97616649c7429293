"""Routes: UAI's `POST /service` and `GET /initialized`, plus health, readiness and metrics."""

from django.urls import path

from httpserver import views

urlpatterns = [
    path("service", views.service),
    path("initialized", views.initialized),
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    path("metrics", views.metrics),
]

handler404 = views.not_found
handler500 = views.server_error
