"""`GET /openapi.json`: a valid OpenAPI 3.1 document of every route, from the routes, the error
family and the samples."""

import pytest
from django.test import Client
from django.urls import get_resolver
from httpserver import openapi
from httpserver.errors import ServiceError
from openapi_spec_validator import validate

from server.console_support import Doubles, write_samples


@pytest.fixture
def samples(tmp_path, monkeypatch):
    monkeypatch.setenv("UAI_SAMPLES_DIR", str(write_samples(tmp_path / "samples")))


@pytest.fixture
def document(serve, samples):
    serve(Doubles(), max_body_bytes=4096)
    answer = Client().get("/openapi.json")
    assert (answer.status_code, answer["Content-Type"]) == (200, "application/json")
    return answer.json()


def documented_codes(document: dict) -> set[str]:
    return {
        code
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
        for media in response.get("content", {}).values()
        for code in media.get("schema", {}).get("properties", {}).get("error", {}).get("enum", [])
    }


def test_the_document_passes_a_maintained_openapi_3_1_validator(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented_with_the_methods_it_answers(document):
    client = Client()
    for pattern in get_resolver().url_patterns:
        route = "/" + str(pattern.pattern)
        refused = client.generic("PATCH", route)
        allowed = {method.lower() for method in refused["Allow"].split(", ")} - {"head"}
        assert set(document["paths"][route]) == allowed, route
    assert {"/service", "/initialized", "/healthz", "/readyz", "/metrics", "/openapi.json", "/"} <= set(
        document["paths"]
    )


def test_every_error_code_of_the_server_is_documented_with_its_json_shape(document):
    family = openapi.error_family()
    assert ServiceError in family and len(family) > 5
    assert documented_codes(document) >= {kind.code for kind in family}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    too_large = document["paths"]["/service"]["post"]["responses"]["413"]["content"]["application/json"]
    assert too_large["examples"]["payload_too_large"]["value"]["message"] == (
        "the request body is over the limit of 4096 bytes (server.max_body_bytes)"
    )
    busy = document["paths"]["/service"]["post"]["responses"]["503"]
    assert "`busy`: 1" in busy["headers"]["Retry-After"]["description"]


def test_every_sample_is_an_example_of_the_request_and_its_expected_answer(document):
    service = document["paths"]["/service"]["post"]
    requests = service["requestBody"]["content"]
    assert requests["application/json"]["examples"]["scores"]["value"] == [0.5, 0.25]
    assert requests["text/plain"]["examples"]["hello"]["value"] == "hello"
    assert requests["image/png"]["examples"]["pixel"]["externalValue"] == "console/sample?name=pixel"
    named = {name for media in requests.values() for name in media.get("examples", {})}
    assert named == {"scores", "hello", "pixel", "lonely"}
    answers = service["responses"]["200"]["content"]
    assert answers["application/json"]["examples"]["scores"]["value"] == {"best": 0.5}
    assert answers["text/plain; charset=utf-8"]["examples"]["hello"]["value"] == "5"


def test_with_the_console_off_the_document_leaves_out_its_routes_and_stays_valid(serve, samples):
    serve(Doubles(), console=False)
    document = Client().get("/openapi.json").json()
    validate(document)
    assert not [path for path in document["paths"] if path == "/" or path.startswith("/console")]
    example = document["paths"]["/service"]["post"]["requestBody"]["content"]["image/png"]["examples"][
        "pixel"
    ]
    assert "externalValue" not in example and example["description"] == "28 bytes of image/png"


def test_a_route_without_a_description_fails_the_document(monkeypatch, document):
    monkeypatch.delitem(openapi.OPERATIONS, "metrics")
    with pytest.raises(LookupError, match=r"route /metrics \(metrics\) has no description"):
        openapi.build(openapi.ServerSettings(), [])
