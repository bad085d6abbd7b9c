"""/api/schema/ and /api/docs/"""

import re

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


def test_the_docs_page_loads_only_pinned_assets_we_serve_ourselves():
    import re

    r = APIClient().get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html and "://" not in "".join(assets)
    for asset in assets:
        served = APIClient().get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_it_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_every_request_object_that_refuses_unknown_fields_says_so(schema):
    components = schema["components"]["schemas"]
    for name in ("VideoGenerationRequest", "Scene"):
        assert components[name]["additionalProperties"] is False, name
    position = components["VideoGenerationRequest"]["properties"]["avatar_position"]["oneOf"][1]
    assert position["additionalProperties"] is False


def test_required_strings_have_a_minimum_length_and_the_pattern_the_server_enforces(schema):
    from video_generation.validators import VISIBLE_TEXT_PATTERN

    request = schema["components"]["schemas"]["VideoGenerationRequest"]["properties"]
    scene = schema["components"]["schemas"]["Scene"]["properties"]
    for prop in (request["product_title"], request["avatar_id"], request["voice_id"], request["avatar_script"],
                 scene["visual_description"], scene["camera_movement"], scene["mood"]):
        assert prop["minLength"] == 1
        assert re.search(prop["pattern"], "Visible text")
        assert not re.search(prop["pattern"], "   ")
        assert not re.search(prop["pattern"], "nul\x00byte")
    assert request["avatar_script"]["maxLength"] == 5000
    assert len(VISIBLE_TEXT_PATTERN) > 10


def test_on_screen_text_publishes_the_pattern_of_what_its_font_can_draw(schema):
    from video_generation.services.overlay import drawable_pattern

    overlay = schema["components"]["schemas"]["Scene"]["properties"]["text_overlay"]
    assert overlay["pattern"] == drawable_pattern()
    assert re.search(overlay["pattern"], "Ünïcode ✓ €99\nsecond line")
    assert not re.search(overlay["pattern"], "中") and not re.search(overlay["pattern"], "😀")
    assert not re.search(overlay["pattern"], "nul\x00byte")


def test_generate_documents_every_error_it_can_answer(schema):
    responses = schema["paths"]["/api/video/generate/"]["post"]["responses"]
    assert {"202", "400", "401", "413", "422", "429", "500"} <= set(responses)
    too_large = responses["413"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][too_large]["properties"]) == {"error", "max_bytes"}



def test_it_documents_the_catalogue(schema):
    for kind, item in (("avatars", "CatalogAvatar"), ("voices", "CatalogVoice")):
        operation = schema["paths"][f"/api/catalog/{kind}/"]["get"]
        assert {"200", "401", "404", "503"} <= set(operation["responses"])
        assert {"gender", "page"} <= {parameter["name"] for parameter in operation["parameters"]}
        assert item in str(operation["responses"]["200"])
    voices = schema["paths"]["/api/catalog/voices/"]["get"]
    assert "language" in {parameter["name"] for parameter in voices["parameters"]}
    assert schema["components"]["schemas"]["CatalogAvatar"]["properties"]["transparent"]["nullable"] is True
