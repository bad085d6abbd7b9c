"""HeyGenService's catalogue calls (GET /v3/avatars/looks, GET /v3/voices) against a respx-mocked HeyGen."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import respx

from video_generation.services import heygen_service
from video_generation.services.errors import PermanentError, RetryableError
from video_generation.services.heygen_service import AvatarLook, Voice
from video_saas import metrics

API = "https://api.heygen.com"


def look(look_id: str, avatar_type: str = "studio_avatar", **extra) -> dict:
    return {"id": look_id, "name": look_id.title(), "avatar_type": avatar_type, "gender": "Female",
            "default_voice_id": "v1", "preview_image_url": f"https://cdn.example/{look_id}.png",
            "preview_video_url": None, "supported_api_engines": ["avatar_iv"], **extra}


def voice(voice_id: str, **extra) -> dict:
    return {"voice_id": voice_id, "name": voice_id, "language": "English", "gender": "male",
            "preview_audio_url": f"https://cdn.example/{voice_id}.mp3", "support_pause": True,
            "support_locale": False, "type": "public", **extra}




def test_it_reads_every_page_of_looks_by_following_the_cursor(mock, service):
    route = mock.get(f"{API}/v3/avatars/looks").mock(side_effect=[
        respx.MockResponse(200, json={"data": [look("a"), look("b")], "has_more": True, "next_token": "t2"}),
        respx.MockResponse(200, json={"data": [look("c")], "has_more": False, "next_token": None}),
    ])

    listing = service.list_avatar_looks()

    assert [item.avatar_id for item in listing.items] == ["a", "b", "c"] and listing.complete
    first, second = (call.request.url.params for call in route.calls)
    assert (first.get("limit"), first.get("token")) == ("50", None)
    assert (second.get("limit"), second.get("token")) == ("50", "t2")
    assert route.calls[0].request.headers["X-Api-Key"] == "test-heygen-key"


def test_a_look_says_whether_it_renders_transparent_from_its_type(mock, service):
    mock.get(f"{API}/v3/avatars/looks").respond(200, json={"data": [
        look("studio"), look("photo", "photo_avatar"), look("twin", "video_avatar")], "has_more": False})

    looks = {item.avatar_id: item for item in service.list_avatar_looks().items}

    assert (looks["studio"].transparent, looks["photo"].transparent, looks["twin"].transparent) == (True, False, None)
    assert looks["studio"] == AvatarLook(avatar_id="studio", name="Studio", gender="female",
                                         avatar_type="studio_avatar", default_voice_id="v1",
                                         preview_image_url="https://cdn.example/studio.png", preview_video_url="",
                                         transparent=True)


def test_it_stops_at_the_page_limit_and_says_the_listing_is_incomplete(mock, service):
    route = mock.get(f"{API}/v3/avatars/looks").respond(
        200, json={"data": [look("a")], "has_more": True, "next_token": "again"})

    listing = service.list_avatar_looks(max_pages=3)

    assert route.call_count == 3 and not listing.complete and len(listing.items) == 3


def test_it_passes_the_voice_filters_to_heygen_and_reads_the_voices(mock, service):
    route = mock.get(f"{API}/v3/voices").respond(200, json={"data": [voice("v1"), {"name": "no id"}],
                                                            "has_more": False})

    listing = service.list_voices(gender="male", language="English")

    params = route.calls.last.request.url.params
    assert (params["gender"], params["language"], params["limit"]) == ("male", "English", "100")
    assert listing.items == (Voice(voice_id="v1", name="v1", language="English", gender="male",
                                   preview_audio_url="https://cdn.example/v1.mp3"),)


def test_a_refused_key_is_a_permanent_error_and_an_outage_a_retryable_one(mock, service):
    mock.get(f"{API}/v3/voices").respond(401, json={"error": {"code": "unauthorized", "message": "bad key"}})
    mock.get(f"{API}/v3/avatars/looks").respond(503, json={"error": {"code": "internal_error", "message": "down"}})

    with pytest.raises(PermanentError):
        service.list_voices()
    with pytest.raises(RetryableError):
        service.list_avatar_looks()


def test_a_page_without_a_list_is_not_taken_for_an_empty_catalogue(mock, service):
    mock.get(f"{API}/v3/voices").respond(200, json={"data": {"voices": []}})

    with pytest.raises(RetryableError):
        service.list_voices()


def test_the_catalogue_calls_are_counted_under_their_own_operations(mock, service):
    mock.get(f"{API}/v3/voices").respond(200, json={"data": [], "has_more": False})
    before = metrics.PROVIDER_REQUESTS.labels("heygen", "voices", "success")._value.get()

    service.list_voices()

    assert metrics.PROVIDER_REQUESTS.labels("heygen", "voices", "success")._value.get() == before + 1
    assert {"avatars", "voices"} <= set(metrics.OPERATIONS["heygen"])


def test_a_listing_that_outlasts_the_catalogue_timeout_is_given_up(mock, service, settings, monkeypatch):
    settings.HEYGEN_CATALOG_TIMEOUT_SECONDS = 10
    clock = iter([0.0, 4.0, 8.0, 12.0])  # the deadline is fixed at 0 s; each page starts later
    monkeypatch.setattr(heygen_service, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    route = mock.get(f"{API}/v3/voices").respond(200, json={"data": [voice("v1")], "has_more": True,
                                                            "next_token": "next"})

    with pytest.raises(RetryableError) as caught:
        service.list_voices()

    assert caught.value.code == "catalog_timeout" and route.call_count == 2
