"""`GET /openapi.json`: the OpenAPI 3.1 description of every route, built from what serves them.

Nothing here is a second copy: the paths and their methods are the URL patterns (urls.py)
and their views' `methods`; the error answers are the `ServiceError` family
(`httpserver.errors`, its codes, statuses, messages and headers); the result types are
`httpserver.results`'; the request and answer examples are the project's samples
(`httpserver.samples`). What is written here is what only this document says: one
description per view. A route without one fails the build of the document (and a test).
It is built per request (rarely asked; always true to the samples on disk).
"""

from __future__ import annotations

import inspect
import json
import re

from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver

from httpserver import console, errors, metrics, results, runtime, views
from httpserver.config import ServerSettings
from httpserver.samples import Sample, find_samples, samples_dir
from httpserver.version import VERSION

OPENAPI_VERSION = "3.1.0"
#: Larger samples are examples by reference (the console serves them), not inlined.
INLINE_LIMIT = 64 * 1024
ERROR = {"$ref": "#/components/schemas/Error"}
STATUS = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}


@views.endpoint("GET")
async def document(request: HttpRequest) -> HttpResponse:
    """This document: OpenAPI 3.1 of every route, with the project's samples as examples."""
    settings = runtime.current_settings()
    body = json.dumps(build(settings, find_samples(samples_dir())), indent=1)
    response = HttpResponse(body, content_type="application/json")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-cache"
    return response


def build(settings: ServerSettings, samples: list[Sample]) -> dict:
    """The whole document for these knobs and samples, from the routes Django resolves."""
    paths = {}
    for pattern in get_resolver().url_patterns:
        view = pattern.callback
        if view.__module__ == console.__name__ and not settings.console:
            continue  # switched off: these routes answer 404
        route = "/" + str(pattern.pattern)
        describe = OPERATIONS.get(view.__name__)
        if describe is None:
            raise LookupError(f"route {route} ({view.__name__}) has no description in httpserver.openapi")
        operation = {
            "summary": inspect.getdoc(view).splitlines()[0],
            **describe(route=route, settings=settings, samples=samples),
        }
        operation["responses"].update(error_responses(settings, view.methods, operation.pop("errors", ())))
        paths[route] = {
            method.lower(): {"operationId": f"{method.lower()}_{slug(route)}", **operation}
            for method in view.methods
            if method != "HEAD"
        }
    model = console.model_facts(runtime.installed())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{model['name']} inference service",
            "version": VERSION,
            "description": f"A UAI inference service ({model['framework']}): POST a body to /service, "
            "get the model's answer. Made with uaipack.",
        },
        "paths": paths,
        "components": {"schemas": {"Error": error_schema()}},
    }


def slug(route: str) -> str:
    return re.sub(r"\W+", "_", route).strip("_") or "page"


# -- errors -------------------------------------------------------------------------------------


def error_family() -> list[type[errors.ServiceError]]:
    """`ServiceError` and every subclass, however deep, in definition order."""
    family, pending = [], [errors.ServiceError]
    while pending:
        kind = pending.pop(0)
        family.append(kind)
        pending.extend(kind.__subclasses__())
    return family


def error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "enum": sorted({kind.code for kind in error_family()})},
            "message": {"type": "string", "description": "one sentence for the client to read"},
        },
    }


def error_instance(kind: type[errors.ServiceError], settings: ServerSettings, methods: tuple[str, ...]):
    """The error as this route and these knobs raise it (its message says the real limit)."""
    arguments = {"limit": settings.max_body_bytes, "seconds": settings.request_timeout_s, "allowed": methods}
    wanted = [name for name in inspect.signature(kind).parameters if name != "message"]
    if any(name not in arguments for name in wanted):
        return kind.__new__(kind)  # a signature this module does not know: the class's own attributes
    return kind(**{name: arguments[name] for name in wanted})


def error_responses(settings: ServerSettings, methods: tuple[str, ...], statuses) -> dict:
    """One response per status (405 and 500 on every route), listing the codes answered with it."""
    wanted = {405, 500, *statuses}
    by_status: dict[int, list] = {}
    for kind in error_family():
        if kind.status in wanted:
            by_status.setdefault(kind.status, []).append(error_instance(kind, settings, methods))
    responses = {}
    for status, found in sorted(by_status.items()):
        if status == 500 and 500 not in statuses:
            found = [error for error in found if type(error) is errors.ServiceError]
        headers = header_specs(found)
        responses[str(status)] = {
            "description": "; ".join(f"`{error.code}`" for error in found),
            **({"headers": headers} if headers else {}),
            "content": {
                results.JSON: {
                    "schema": {**ERROR, "properties": {"error": {"enum": [error.code for error in found]}}},
                    "examples": {
                        error.code: {"value": {"error": error.code, "message": error.message}}
                        for error in found
                        if "message" in vars(error)
                    },
                }
            },
        }
    return responses


def header_specs(found: list[errors.ServiceError]) -> dict:
    """The headers these errors send, each saying which code sends which value."""
    values: dict[str, list[str]] = {}
    for error in found:
        for name, value in error.headers.items():
            values.setdefault(name, []).append(f"`{error.code}`: {value}")
    return {
        name: {"description": "; ".join(sent), "schema": {"type": "string"}} for name, sent in values.items()
    }


# -- samples as examples ----------------------------------------------------------------------------


def request_example(sample: Sample, settings: ServerSettings) -> dict:
    """A sample's body as an example: inline when it is small JSON or text, else by reference."""
    summary = f"samples/{sample.body_path.name}"
    size = sample.body_path.stat().st_size
    kind = sample.content_type
    if size <= INLINE_LIMIT and (kind == results.JSON or kind.startswith("text/")):
        text = sample.body.decode("utf-8", "replace")
        try:
            return {"summary": summary, "value": json.loads(text) if kind == results.JSON else text}
        except ValueError:
            pass
    example = {"summary": summary, "description": f"{size} bytes of {kind}"}
    if settings.console:
        example["externalValue"] = f"console/sample?name={sample.name}"
    return example


def answer_examples(samples: list[Sample]) -> dict[str, dict]:
    """The samples' expected answers, by the content type the server sends them with."""
    by_type: dict[str, dict] = {}
    for sample in samples:
        if sample.expected_path is None:
            continue
        expected, summary = sample.expected, f"the expected answer to samples/{sample.body_path.name}"
        if sample.expects_json:
            by_type.setdefault(results.JSON, {})[sample.name] = {
                "summary": summary,
                "value": json.loads(expected),
            }
            continue
        try:
            value = {"value": expected.decode("utf-8")}
            media = results.TEXT
        except UnicodeDecodeError:
            value, media = {"description": f"{len(expected)} bytes"}, results.BINARY
        by_type.setdefault(media, {})[sample.name] = {"summary": summary, **value}
    return by_type


# -- one description per view ---------------------------------------------------------------------


def json_answer(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {results.JSON: {"schema": schema}}}


def describe_service(settings: ServerSettings, samples: list[Sample], **_) -> dict:
    content = {
        results.JSON: {"schema": {"description": "any JSON document"}},
        results.TEXT: {"schema": {"type": "string"}},
        results.BINARY: {},
        "*/*": {},
    }
    for sample in samples:
        media = content.setdefault(sample.content_type, {})
        media.setdefault("examples", {})[sample.name] = request_example(sample, settings)
    answers = {
        results.JSON: {"schema": {"description": "execute returned a dict, list, number, bool or None"}},
        results.TEXT: {"schema": {"type": "string", "description": "execute returned a str"}},
        results.BINARY: {},
        "*/*": {},
    }
    for media, named in answer_examples(samples).items():
        answers[media]["examples"] = named
    return {
        "description": "One request body in, the model's answer out. Requests arriving together are "
        "batched into one execute call.",
        "requestBody": {
            "description": f"any content type, at most {settings.max_body_bytes} bytes "
            "(server.max_body_bytes); execute gets the raw bytes and the content type",
            "required": True,
            "content": content,
        },
        "responses": {
            "200": {
                "description": "the model's answer: JSON for dicts, lists and numbers, text for a str, "
                "bytes as application/octet-stream; a (body, status, headers) result sets its own",
                "content": answers,
            }
        },
        "errors": sorted({kind.status for kind in error_family()} - {404}),
    }


def describe_initialized(**_) -> dict:
    schema = {"type": "string", "enum": ["YES", "NO"]}
    return {
        "responses": {
            "200": {"description": "YES once loaded", "content": {results.TEXT: {"schema": schema}}}
        }
    }


def describe_healthz(**_) -> dict:
    stalled = {**ERROR, "required": ["error", "message", "status"]}
    stalled["properties"] = {"status": {"enum": ["stalled", "stopping"]}}
    kinds = (errors.Stalled.__new__(errors.Stalled), errors.ShuttingDown())
    return {
        "responses": {
            "200": json_answer({**STATUS, "properties": {"status": {"const": "alive"}}}),
            "503": {
                **json_answer(stalled, "; ".join(f"`{kind.code}`" for kind in kinds)),
                "headers": header_specs(kinds),
            },
        }
    }


def describe_readyz(**_) -> dict:
    waiting = {**ERROR, "required": ["error", "message", "status"]}
    waiting["properties"] = {"status": {"enum": ["loading", "failed", "stalled", "stopping"]}}
    kinds = (
        errors.NotReady(),
        errors.ModelFailed(),
        errors.Stalled.__new__(errors.Stalled),
        errors.ShuttingDown(),
    )
    not_ready = json_answer(waiting, "; ".join(f"`{kind.code}`" for kind in kinds))
    return {
        "responses": {
            "200": json_answer({**STATUS, "properties": {"status": {"const": "ready"}}}, "ready"),
            "503": {**not_ready, "headers": header_specs(kinds)},
        }
    }


def describe_metrics(**_) -> dict:
    text = {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}}
    answer = {"description": "Prometheus text format, the whole server", "content": text}
    return {"responses": {"200": answer}}


def describe_document(**_) -> dict:
    return {"responses": {"200": json_answer({"type": "object"}, "this OpenAPI document")}}


def describe_page(**_) -> dict:
    html = {console.PAGE.content_type: {"schema": {"type": "string"}}}
    return {"responses": {"200": {"description": "the console page", "content": html}}}


def describe_asset(route: str, **_) -> dict:
    asset = console.ASSETS[route.rsplit("/", 1)[1]]
    return {"responses": {"200": {"description": "a file of the page", "content": {asset.content_type: {}}}}}


def describe_info(**_) -> dict:
    return {"responses": {"200": json_answer({"type": "object"}, "model, body limit, version, samples")}}


NAME = {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}}


def describe_sample(**_) -> dict:
    body = {"description": "the sample's body, with its content type", "content": {"*/*": {}}}
    return {"parameters": [NAME], "responses": {"200": body}, "errors": [400, 404]}


def describe_check(**_) -> dict:
    verdict = {
        "type": "object",
        "properties": {"sample": {"type": "string"}, "match": {"type": "boolean"}, "problem": {}},
    }
    return {
        "parameters": [NAME],
        "requestBody": {
            "description": "an answer of POST /service",
            "required": True,
            "content": {"*/*": {}},
        },
        "responses": {"200": json_answer(verdict, "whether it is the expected answer, else what differs")},
        "errors": [400, 404, 413],
    }


OPERATIONS = {
    "service": describe_service,
    "initialized": describe_initialized,
    "healthz": describe_healthz,
    "readyz": describe_readyz,
    "metrics": describe_metrics,
    "document": describe_document,
    "page": describe_page,
    "asset": describe_asset,
    "info": describe_info,
    "sample": describe_sample,
    "check": describe_check,
}
