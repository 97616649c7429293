"""The console page: try the model from a browser, served by the server itself.

`GET /` is a small self-contained page (static/console/: HTML, one script, one style
sheet, an icon; no CDN, no external URL) that polls /readyz, sends bodies to POST
/service and shows the answers. Its data routes: `console/info` (model, limit,
samples), `console/sample?name=` (a sample's body) and `console/check?name=` (does this
answer match the sample's expected one; the rules are `httpserver.samples`).

Every console response carries a strict Content-Security-Policy (scripts, styles and
images from this origin only, no framing), nosniff and no-referrer. With the `console`
knob off every route here answers the usual JSON 404. Nothing here runs for POST
/service: these routes come after it in urls.py and none of this is middleware.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from uai.frameworks import framework_section

from httpserver import runtime, views
from httpserver.errors import BadRequest, NotFound
from httpserver.samples import Sample, find_samples, samples_dir
from httpserver.version import runtime_info

STATIC = Path(__file__).resolve().parent / "static" / "console"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: For everything that is not the page: nothing it holds may run, even opened directly.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


@dataclasses.dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _read_assets() -> dict[str, Asset]:
    """The page's files, read once: they are part of the image and never change under it."""
    assets = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in _TYPES:
            body = path.read_bytes()
            assets[path.name] = Asset(body, _TYPES[path.suffix], f'"{hashlib.sha256(body).hexdigest()[:16]}"')
    return assets


ASSETS = _read_assets()
PAGE = ASSETS.pop("index.html")


def enabled() -> bool:
    """The `console` knob of this process (its default before the runtime boots)."""
    return runtime.current_settings().console


def route(*methods: str, policy: str = DATA_POLICY):
    """A console view: a JSON 404 whatever the method while the knob is off; otherwise the
    server's method check and JSON errors (`views.endpoint`), and the security headers."""

    def decorate(view):
        @functools.wraps(view)
        async def secured(request: HttpRequest) -> HttpResponse:
            response = await view(request)
            response["Content-Security-Policy"] = policy
            for name, value in SECURITY_HEADERS.items():
                response[name] = value
            return response

        checked = views.endpoint(*methods)(secured)

        @functools.wraps(checked)
        async def switched(request: HttpRequest) -> HttpResponse:
            if not enabled():
                return views.not_found(request)
            return await checked(request)

        return switched

    return decorate


def _static(asset: Asset, request: HttpRequest) -> HttpResponse:
    """The asset, or 304 when the browser's copy is current (it revalidates every time)."""
    if request.headers.get("If-None-Match") == asset.etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(asset.body, content_type=asset.content_type)
    response["ETag"] = asset.etag
    response["Cache-Control"] = "no-cache"
    return response


@route("GET", policy=PAGE_POLICY)
async def page(request: HttpRequest) -> HttpResponse:
    """The console page (HTML; its script and style sheet are console/ assets)."""
    return _static(PAGE, request)


def asset_view(name: str):
    """The view of one of the page's files, `console/<name>`."""

    @route("GET")
    async def asset(request: HttpRequest) -> HttpResponse:
        return _static(ASSETS[name], request)

    asset.__doc__ = f"The console page's {name}."
    return asset


@route("GET")
async def info(request: HttpRequest) -> HttpResponse:
    """What the page shows about this server: the model, the body limit, the samples."""
    current = runtime.installed()
    settings = runtime.current_settings()
    payload = {
        "model": model_facts(current),
        "max_body_bytes": settings.max_body_bytes,
        **runtime_info(),
        "samples": [sample_facts(sample) for sample in find_samples(samples_dir())],
    }
    response = HttpResponse(json.dumps(payload), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@route("GET")
async def sample(request: HttpRequest) -> HttpResponse:
    """One sample's request body, with its content type (`?name=`)."""
    chosen = named_sample(request)
    response = HttpResponse(chosen.body, content_type=chosen.content_type)
    response["Content-Disposition"] = f'attachment; filename="{chosen.body_path.name}"'
    return response


@route("POST")
async def check(request: HttpRequest) -> HttpResponse:
    """Whether the body posted (an answer of POST /service) is the sample's expected answer."""
    chosen = named_sample(request)
    problem = chosen.mismatch(request.body)
    payload = {"sample": chosen.name, "match": problem is None, "problem": problem}
    return HttpResponse(json.dumps(payload), content_type="application/json")


def named_sample(request: HttpRequest) -> Sample:
    """The sample `?name=` names; 400 without a name, 404 for an unknown one."""
    name = request.GET.get("name")
    if not name:
        raise BadRequest("name the sample: ?name=<sample name>")
    for candidate in find_samples(samples_dir()):
        if candidate.name == name:
            return candidate
    raise NotFound(f"no sample named {name!r} in samples/")


def model_facts(current: runtime.Runtime | None) -> dict:
    """The model's class, module, framework (its conf section) and status."""
    if current is None:
        return {"name": "model", "module": None, "framework": "self", "status": "loading"}
    http_server = (current.model.conf or {}).get("http_server") or {}
    exec_section = http_server.get("exec") or {}
    instance = current.model.instance
    return {
        "name": exec_section.get("main_class") or type(instance).__name__,
        "module": exec_section.get("main_file"),
        "framework": framework_section(http_server)[0],
        "status": current.status,
    }


def sample_facts(sample: Sample) -> dict:
    expected = None if sample.expected_path is None else ("json" if sample.expects_json else "exact")
    return {
        "name": sample.name,
        "file": sample.body_path.name,
        "content_type": sample.content_type,
        "size": sample.body_path.stat().st_size,
        "expected": expected,
    }
