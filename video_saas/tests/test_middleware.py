"""Every request has an id: the client's X-Request-ID when it is sane, a new one otherwise; it is echoed in the
response, bound to the request's log lines, and kept on the jobs the request submits."""

import pytest

from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db

MISSING = "/api/nothing-here/"  # a 404: Django logs a warning line inside the request


@pytest.mark.parametrize("request_id", ["0f8fa1e2-9c3b-4d5e-8f70-123456789abc", "req-12345678",
                                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a" * 128])
def test_a_sane_request_id_is_kept_and_echoed(client, request_id, log_lines):
    response = client.get(MISSING, HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] == request_id
    (line,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == request_id


@pytest.mark.parametrize("request_id", ["short", "a" * 129, "has space 12345", 'quote"12345678', "new\nline12345",
                                        "emoji-😀-12345678", "semi;colon;1234", "user@example.com"])
def test_an_insane_request_id_is_replaced_by_a_new_one(client, request_id, log_lines):
    response = client.get(MISSING, HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] != request_id and len(response["X-Request-ID"]) == 32
    (line,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first, second = client.get(MISSING)["X-Request-ID"], client.get(MISSING)["X-Request-ID"]

    assert first != second and len(first) == len(second) == 32


def test_nothing_bound_in_one_request_leaks_into_the_next(client, log_lines):
    client.get(MISSING, HTTP_X_REQUEST_ID="req-first-0001")
    client.get(MISSING)

    first, second = [line for line in log_lines() if line["logger"] == "django.request"]
    assert first["request_id"] == "req-first-0001" and second["request_id"] not in ("", "req-first-0001")


def test_a_refused_body_is_answered_with_the_request_id_too(client, settings):
    settings.REQUEST_MAX_BODY_BYTES = 10

    response = client.post("/api/video/generate/", data="x" * 100, content_type="application/json",
                           HTTP_X_REQUEST_ID="req-too-large-01")

    assert response.status_code == 413 and response["X-Request-ID"] == "req-too-large-01"


def test_a_job_submitted_through_the_api_keeps_the_request_id(api_client, monkeypatch):
    from devstack.briefs import headphones_brief
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)
    brief = headphones_brief("https://cdn.example.com/headphones.jpg", scenes=1)

    response = api_client.post("/api/video/generate/", brief, format="json", HTTP_X_REQUEST_ID="req-submit-0001")

    assert response.status_code == 202, response.content
    assert response["X-Request-ID"] == "req-submit-0001"
    assert VideoJob.objects.get(id=response.json()["job_id"]).request_id == "req-submit-0001"
