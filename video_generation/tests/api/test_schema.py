"""/api/schema/ and /api/docs/"""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    r = APIClient().get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    return r.json()


def test_it_serves_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert {"/api/video/generate/", "/api/video/status/{job_id}/", "/api/video/list_jobs/",
            "/api/video/{job_id}/cancel/", "/api/video/health/"} <= set(schema["paths"])


def test_it_documents_generate(schema):
    operation = schema["paths"]["/api/video/generate/"]["post"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("/VideoGenerationRequest")
    assert {"202", "400", "401", "429", "500"} <= set(operation["responses"])

    request = schema["components"]["schemas"]["VideoGenerationRequest"]
    assert {"product_title", "scenes", "image_url", "avatar_id", "voice_id", "avatar_script"} <= set(
        request["required"]
    )
    assert "oneOf" in request["properties"]["avatar_position"]
    assert request["properties"]["scenes"]["maxItems"] == 20


def test_it_documents_job_errors(schema):
    status_op = schema["paths"]["/api/video/status/{job_id}/"]["get"]
    cancel_op = schema["paths"]["/api/video/{job_id}/cancel/"]["post"]
    assert {"200", "401", "404"} <= set(status_op["responses"])
    assert {"200", "404", "409"} <= set(cancel_op["responses"])


def test_it_documents_the_paginated_list(schema):
    operation = schema["paths"]["/api/video/list_jobs/"]["get"]
    params = {p["name"] for p in operation["parameters"]}
    assert {"status", "page"} <= params
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]) >= {
        "count", "next", "previous", "results",
    }


def test_it_leaves_health_open(schema):
    operation = schema["paths"]["/api/video/health/"]["get"]
    assert operation.get("security") in ([], [{}], None) or {} in operation["security"]
    assert {"200", "503"} <= set(operation["responses"])


def test_it_serves_the_docs_page():
    r = APIClient().get("/api/docs/")
    assert r.status_code == 200


def test_it_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
