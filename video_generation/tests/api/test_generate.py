"""POST /api/video/generate/"""

from unittest import mock

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db

URL = "/api/video/generate/"


def scene(**overrides):
    data = {
        "visual_description": "Headphones on a modern desk with soft lighting",
        "camera_movement": "slow 360 rotation",
        "mood": "professional and premium",
        "duration": 8,
    }
    data.update(overrides)
    return data


def payload(**overrides):
    data = {
        "product_title": "Premium Wireless Headphones",
        "scenes": [scene(), scene(duration=6), scene(duration=4)],
        "image_url": "https://cdn.example.com/headphones.jpg",
        "avatar_id": "josh_lite3_20230714",
        "voice_id": "d7bbcdd6964c47bdaae26decade4a933",
        "avatar_script": "Introducing our revolutionary wireless headphones.",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pipeline():
    """create_job replaced: it saves a plain job row from the validated data, with a fixed quote."""

    def fake_create_job(*, user, data):
        position = data["avatar_position"]
        return VideoJob.objects.create(
            user=user, product_title=data["product_title"], scenes_data=data["scenes"],
            avatar_script=data["avatar_script"], avatar_id=data["avatar_id"], voice_id=data["voice_id"],
            image_url=data["image_url"], avatar_scale=position["scale"], avatar_x=position["x"],
            avatar_y=position["y"], aspect_ratio=data["aspect_ratio"],
            quote={"credits": 3, "estimated_time_seconds": 420},
        )

    with mock.patch("video_generation.views.create_job", side_effect=fake_create_job) as create_job:
        yield mock.Mock(create_job=create_job)


def sent_data(pipeline):
    return pipeline.create_job.call_args.kwargs["data"]


def test_it_requires_a_token(pipeline):
    r = APIClient().post(URL, payload(), format="json")
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    pipeline.create_job.assert_not_called()


def test_it_rejects_a_bad_token(pipeline):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    r = client.post(URL, payload(), format="json")
    assert r.status_code == 401
    assert "detail" in r.json()


def test_it_starts_a_job(api_client, user, pipeline):
    r = api_client.post(URL, payload(), format="json")

    assert r.status_code == 202
    job = VideoJob.objects.get()
    assert r.json() == {
        "job_id": str(job.id),
        "status": "pending",
        "message": "Video generation started",
        "estimated_time_seconds": 420,
        "credits": 3,
    }
    assert pipeline.create_job.call_args.kwargs["user"] == user


def test_it_applies_defaults(api_client, pipeline):
    body = payload(scenes=[{k: v for k, v in scene().items() if k != "duration"}])
    r = api_client.post(URL, body, format="json")

    assert r.status_code == 202
    data = sent_data(pipeline)
    assert data["avatar_position"] == {"scale": 0.8, "x": 0.7, "y": 0.8}
    assert data["aspect_ratio"] == "9:16"
    assert data["scenes"][0]["duration"] == 8
    assert "product_id" not in data or data["product_id"] is None


def test_it_turns_a_preset_name_into_numbers(api_client, pipeline):
    r = api_client.post(URL, payload(avatar_position="top_left"), format="json")

    assert r.status_code == 202
    assert sent_data(pipeline)["avatar_position"] == {"scale": 0.8, "x": -0.7, "y": -0.8}


def test_it_fills_a_partial_position_with_defaults(api_client, pipeline):
    r = api_client.post(URL, payload(avatar_position={"scale": 0.5}), format="json")

    assert r.status_code == 202
    assert sent_data(pipeline)["avatar_position"] == {"scale": 0.5, "x": 0.7, "y": 0.8}


def test_it_passes_the_full_request_through(api_client, pipeline):
    body = payload(product_id="SKU-1", aspect_ratio="16:9", webhook_url="https://hooks.example.com/v",
                   avatar_position={"scale": 0.6, "x": -0.2, "y": 0.3})
    r = api_client.post(URL, body, format="json")

    assert r.status_code == 202
    data = sent_data(pipeline)
    assert data["product_id"] == "SKU-1"
    assert data["aspect_ratio"] == "16:9"
    assert data["webhook_url"] == "https://hooks.example.com/v"
    assert data["avatar_position"] == {"scale": 0.6, "x": -0.2, "y": 0.3}
    assert [s["duration"] for s in data["scenes"]] == [8, 6, 4]


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"scenes": []}, ("scenes",), "at least 1"),
        ({"scenes": [scene()] * 21}, ("scenes",), "no more than 20"),
        ({"scenes": [scene(duration=5)]}, ("scenes", "0", "duration"), "4, 6 or 8"),
        ({"avatar_position": {"scale": 1.5}}, ("avatar_position", "scale"), "less than or equal to 1.0"),
        ({"avatar_position": {"x": -1.1}}, ("avatar_position", "x"), "greater than or equal to -1.0"),
        ({"avatar_position": "middle_left"}, ("avatar_position",), "Unknown preset"),
        ({"avatar_script": "x" * 5001}, ("avatar_script",), "no more than 5000"),
        ({"avatar_script": "   "}, ("avatar_script",), "Must contain visible text"),
        ({"aspect_ratio": "4:3"}, ("aspect_ratio",), "not a valid choice"),
        ({"image_url": "not a url"}, ("image_url",), "spaces or control characters"),
        ({"image_url": "ftp://cdn.example.com/a.jpg"}, ("image_url",), "http and https"),
        ({"colour": "red"}, ("colour",), "Unknown field"),
    ],
    ids=["no-scenes", "21-scenes", "duration-5", "scale-1.5", "x-minus-1.1", "bad-preset",
         "script-too-long", "blank-script", "bad-aspect-ratio", "bad-image-url", "ftp-image-url",
         "unknown-field"],
)
def test_it_rejects_invalid_requests(api_client, pipeline, settings, overrides, path, fragment):
    settings.HEYGEN_MAX_SCRIPT_CHARS = 5000
    r = api_client.post(URL, payload(**overrides), format="json")

    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "Validation error"
    node = body["details"]
    for key in path:
        node = node[key]
    assert any(fragment in message for message in node), node
    pipeline.create_job.assert_not_called()


def test_it_lists_every_missing_required_field(api_client, pipeline):
    r = api_client.post(URL, {}, format="json")

    assert r.status_code == 400
    assert set(r.json()["details"]) == {
        "product_title", "scenes", "image_url", "avatar_id", "voice_id", "avatar_script",
    }


def test_it_rejects_a_body_that_is_not_an_object(api_client, pipeline):
    r = api_client.post(URL, [1, 2], format="json")

    assert r.status_code == 400
    assert r.json()["error"] == "Validation error"


def test_it_rejects_malformed_json(api_client, pipeline):
    r = api_client.post(URL, "{not json", content_type="application/json")

    assert r.status_code == 400
    assert "error" in r.json()


@pytest.mark.parametrize(
    "overrides",
    [
        {"scenes": [scene(duration=4)]},
        {"scenes": [scene(duration=8)]},
        {"scenes": [scene()]},
        {"scenes": [scene()] * 20},
        {"avatar_position": {"scale": 0.1, "x": 1.0, "y": -1.0}},
        {"avatar_position": {"scale": 1.0, "x": -1.0, "y": 1.0}},
        {"avatar_position": "center"},
        {"aspect_ratio": "16:9"},
        {"product_id": None, "webhook_url": None},
        {"avatar_script": "x" * 5000},
    ],
    ids=["duration-4", "duration-8", "1-scene", "20-scenes", "scale-0.1-x-1", "scale-1.0-x-minus-1",
         "preset-center", "landscape", "nulls", "script-at-limit"],
)
def test_it_accepts_boundary_values(api_client, pipeline, settings, overrides):
    settings.HEYGEN_MAX_SCRIPT_CHARS = 5000
    r = api_client.post(URL, payload(**overrides), format="json")

    assert r.status_code == 202, r.json()


def test_it_limits_how_many_videos_a_user_starts(api_client, pipeline, settings):
    settings.GENERATE_RATE_LIMIT = "2/min"

    assert api_client.post(URL, payload(), format="json").status_code == 202
    assert api_client.post(URL, payload(), format="json").status_code == 202
    r = api_client.post(URL, payload(), format="json")

    assert r.status_code == 429
    body = r.json()
    assert body["error"] == "Rate limit exceeded"
    assert body["rate_limit"] == "2/min"  # names the limit it went over
    assert isinstance(body["retry_after"], int) and 0 < body["retry_after"] <= 60
    assert r.headers["Retry-After"] == str(body["retry_after"])
    assert pipeline.create_job.call_count == 2


def test_the_default_limit_is_ten_videos_an_hour(api_client, pipeline):
    answers = [api_client.post(URL, payload(), format="json").status_code for _ in range(11)]
    assert answers == [202] * 10 + [429]


def test_a_request_that_fails_validation_does_not_use_up_the_limit(api_client, pipeline, settings):
    settings.GENERATE_RATE_LIMIT = "1/min"
    assert api_client.post(URL, payload(scenes=[]), format="json").status_code == 400
    assert api_client.post(URL, payload(), format="json").status_code == 202


def test_the_limit_is_per_user(api_client, pipeline, settings, other_user):
    settings.GENERATE_RATE_LIMIT = "1/min"
    other = APIClient()
    other.force_authenticate(other_user)
    assert api_client.post(URL, payload(), format="json").status_code == 202
    assert other.post(URL, payload(), format="json").status_code == 202
    assert api_client.post(URL, payload(), format="json").status_code == 429


def test_it_hides_unexpected_errors(api_client, pipeline, caplog, monkeypatch):
    import logging

    monkeypatch.setattr(logging.getLogger("video_generation"), "propagate", True)
    pipeline.create_job.side_effect = RuntimeError("db password=hunter2 exploded")

    with caplog.at_level(logging.ERROR, logger="video_generation"):
        r = api_client.post(URL, payload(), format="json")

    assert r.status_code == 500
    assert r.json() == {"error": "Internal server error", "message": "An unexpected error occurred"}
    assert b"hunter2" not in r.content and b"Traceback" not in r.content
    assert any("hunter2" in (record.exc_text or "") or record.exc_info for record in caplog.records)


def test_it_only_allows_post(api_client, pipeline):
    r = api_client.get(URL)

    assert r.status_code == 405
    assert "error" in r.json()
