"""Oversized, deeply nested and malformed bodies: a clear 4xx every time, never a 500 or a logged traceback."""

import json
import logging

import pytest

from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db

URL = "/api/video/generate/"


@pytest.fixture
def errors_logged(caplog):
    caplog.set_level(logging.ERROR)
    yield caplog
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an error was logged"


def post_raw(api_client, body, content_type="application/json"):
    return api_client.generic("POST", URL, body, content_type=content_type)


def test_a_ten_megabyte_body_is_answered_413_before_it_is_read(api_client, errors_logged, settings):
    body = json.dumps({"product_title": "x" * (10 * 1024 * 1024)})

    r = post_raw(api_client, body)

    assert r.status_code == 413
    assert r.json() == {"error": f"Request body too large (the limit is {settings.REQUEST_MAX_BODY_BYTES} bytes)",
                        "max_bytes": settings.REQUEST_MAX_BODY_BYTES}
    assert not VideoJob.objects.exists()


def test_the_cap_is_a_setting(api_client, settings):
    settings.REQUEST_MAX_BODY_BYTES = 100
    assert post_raw(api_client, json.dumps({"product_title": "x" * 100})).status_code == 413
    assert post_raw(api_client, json.dumps({"product_title": "x"})).status_code == 400  # read, then validated


def test_the_cap_covers_every_url_not_only_the_api(client):
    r = client.generic("POST", "/admin/login/", "x" * (2 * 1024 * 1024), content_type="text/plain")
    assert r.status_code == 413


@pytest.mark.parametrize("body", [
    "[" * 1000 + "]" * 1000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    "[" * 17 + "]" * 17,
])
def test_json_nested_too_deep_is_a_400_naming_the_body(api_client, errors_logged, body, settings):
    r = post_raw(api_client, body)

    assert r.status_code == 400
    assert r.json() == {"error": "Invalid JSON", "details": {
        "body": [f"JSON nested deeper than {settings.REQUEST_MAX_JSON_DEPTH} levels is not accepted."]}}


def test_a_brief_nested_as_deep_as_briefs_are_is_read(api_client):
    r = post_raw(api_client, json.dumps({"scenes": [{"visual_description": {"a": [[["deep"]]]}}]}))
    assert r.status_code == 400
    assert r.json()["error"] == "Validation error"  # parsed, then refused by the serializer


@pytest.mark.parametrize(("body", "why"), [
    ("{", "not valid JSON"),
    ('{"a": NaN}', "NaN is not valid JSON"),
    ('{"a": Infinity}', "Infinity is not valid JSON"),
    (b'{"a": "\xff"}', "not valid utf-8"),
])
def test_a_malformed_body_is_a_400_with_details(api_client, errors_logged, body, why):
    r = post_raw(api_client, body)
    assert r.status_code == 400
    payload = r.json()
    assert payload["error"] == "Invalid JSON"
    assert why in payload["details"]["body"][0]


def test_a_form_encoded_body_is_refused_as_an_unsupported_media_type(api_client, errors_logged):
    r = post_raw(api_client, "product_title=x", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    assert "Unsupported media type" in r.json()["error"]


def test_a_body_that_is_not_an_object_is_a_validation_error(api_client, errors_logged):
    r = post_raw(api_client, "[1, 2, 3]")
    assert r.status_code == 400
    assert r.json()["details"]["non_field_errors"]


def test_an_unpaired_surrogate_escape_is_refused_as_invalid_json_but_a_pair_is_an_emoji(api_client, errors_logged):
    r = post_raw(api_client, '{"product_title": "broken \\ud800 text"}')
    assert r.status_code == 400
    assert "unpaired UTF-16 surrogate" in r.json()["details"]["body"][0]
    r = post_raw(api_client, '{"product_title": "smile \\ud83d\\ude00"}')
    assert r.json()["error"] == "Validation error"  # parsed fine; refused only for the missing fields
    assert "product_title" not in r.json()["details"]
