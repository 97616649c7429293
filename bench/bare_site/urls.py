"""One route: POST /service -> the model's execute on a batch of one, in the request thread."""

import importlib
import json
import os

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from httpserver.inputs import RequestInput

_module, _class = os.environ["BENCH_MODEL"].rsplit(".", 1)
MODEL = getattr(importlib.import_module(_module), _class)({"http_server": {"exec": {}}})


@csrf_exempt
def service(request):
    result = MODEL.execute(
        [RequestInput(request.body, request.META.get("CONTENT_TYPE", ""), request.META)], 1
    )[0]
    if isinstance(result, bytes):
        response = HttpResponse(result, content_type="application/octet-stream")
    else:
        response = HttpResponse(json.dumps(result), content_type="application/json")
    response["Content-Length"] = str(len(response.content))
    return response


urlpatterns = [path("service", service)]
