"""GET /api/catalog/avatars/ and /api/catalog/voices/, and generate/quote checking a brief's ids against them."""

from __future__ import annotations

import httpx
import pytest
import respx
from rest_framework.test import APIClient

from api_keys.services import issue_key
from devstack.briefs import headphones_brief
from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db

API = "https://api.heygen.com"
JOSH, HEART = "josh_lite3_20230714", "d7bbcdd6964c47bdaae26decade4a933"


def look(look_id: str, gender: str, avatar_type: str = "studio_avatar") -> dict:
    return {"id": look_id, "name": look_id, "avatar_type": avatar_type, "gender": gender,
            "default_voice_id": HEART, "preview_image_url": f"https://cdn.example/{look_id}.png"}


LOOKS = [look(JOSH, "male"), look("daisy", "female"), look("lukas_photo", "male", "photo_avatar")] + [
    look(f"extra_{i}", "female") for i in range(20)]
VOICES = [{"voice_id": HEART, "name": "Heart", "language": "English", "gender": "female"},
          {"voice_id": "lukas_de", "name": "Lukas", "language": "German", "gender": "male"}]


@pytest.fixture
def heygen(settings):
    settings.HEYGEN_CATALOG_VALIDATION = True
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.looks = router.get(f"{API}/v3/avatars/looks").respond(200, json={"data": LOOKS, "has_more": False})
        router.voices = router.get(f"{API}/v3/voices").respond(200, json={"data": VOICES, "has_more": False})
        yield router


def client_with(user, scopes) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(user=user, name='k', scopes=scopes).secret}")
    return client


def brief(**overrides) -> dict:
    return {**headphones_brief("https://cdn.example.com/headphones.jpg"), **overrides}


# --- the lists ------------------------------------------------------------------------------------------------

def test_it_lists_avatars_with_their_preview_and_whether_they_render_transparent(api_client, heygen):
    body = api_client.get("/api/catalog/avatars/").json()
    assert body["count"] == 23 and len(body["results"]) == 20 and body["next"].endswith("page=2")
    josh = body["results"][0]
    assert josh == {"avatar_id": JOSH, "name": JOSH, "gender": "male", "avatar_type": "studio_avatar",
                    "default_voice_id": HEART, "preview_image_url": f"https://cdn.example/{JOSH}.png",
                    "preview_video_url": "", "transparent": True}
    last = api_client.get("/api/catalog/avatars/", {"page": 2}).json()["results"]
    assert len(last) == 3


def test_it_filters_avatars_by_gender_and_voices_by_gender_and_language(api_client, heygen):
    men = api_client.get("/api/catalog/avatars/", {"gender": "MALE"}).json()["results"]
    assert [(a["avatar_id"], a["transparent"]) for a in men] == [(JOSH, True), ("lukas_photo", False)]
    german = api_client.get("/api/catalog/voices/", {"language": "german", "gender": "male"}).json()
    assert [v["voice_id"] for v in german["results"]] == ["lukas_de"] and german["count"] == 1
    assert api_client.get("/api/catalog/voices/", {"language": "Klingon"}).json()["count"] == 0


def test_a_page_out_of_range_is_not_found(api_client, heygen):
    assert api_client.get("/api/catalog/voices/", {"page": 9}).status_code == 404


def test_it_needs_a_key_with_the_read_scope(user, heygen):
    assert APIClient().get("/api/catalog/avatars/").status_code == 401
    assert client_with(user, ["jobs:write"]).get("/api/catalog/voices/").status_code == 403
    assert client_with(user, ["jobs:read"]).get("/api/catalog/voices/").status_code == 200


def test_every_user_sees_the_same_catalogue_and_nothing_of_another_user(user, other_user, heygen):
    VideoJob.objects.create(user=other_user, product_title="Bob's secret", scenes_data=[], avatar_script="x",
                            avatar_id="bobs_private_look", voice_id=HEART, image_url="https://cdn.example/b.png")
    alice = client_with(user, ["jobs:read"]).get("/api/catalog/avatars/").json()
    bob = client_with(other_user, ["jobs:read"]).get("/api/catalog/avatars/").json()
    assert alice == bob
    assert "bobs_private_look" not in str(alice) and "secret" not in str(alice)
    assert heygen.looks.call_count == 1  # the second user was answered from the cache


def test_it_answers_503_while_heygen_cannot_be_read(api_client, heygen):
    heygen.voices.side_effect = httpx.ConnectTimeout("no answer")
    response = api_client.get("/api/catalog/voices/")
    assert response.status_code == 503 and "catalogue" in response.json()["error"]


# --- generate and quote -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/video/generate/", "/api/video/quote/"])
def test_an_unknown_avatar_or_voice_is_refused_before_anything_is_made_or_paid_for(api_client, user, heygen, url):
    response = api_client.post(url, brief(avatar_id="no_such_look", voice_id="no_such_voice"), format="json")

    assert response.status_code == 400
    details = response.json()["details"]
    assert set(details) == {"avatar_id", "voice_id"} and "/api/catalog/avatars/" in details["avatar_id"][0]
    assert not VideoJob.objects.exists()
    user.profile.refresh_from_db()
    assert user.profile.held_credits == 0
    # the catalogue was the only thing asked: no render, no Veo call (respx lets nothing else through)
    assert {call.request.url.path for call in heygen.calls} <= {"/v3/avatars/looks", "/v3/voices"}


def test_the_ids_of_the_catalogue_are_accepted(api_client, heygen):
    response = api_client.post("/api/video/quote/", brief(avatar_id=JOSH, voice_id=HEART), format="json")
    assert response.status_code == 200


def test_a_submit_is_not_blocked_while_the_catalogue_cannot_be_read(api_client, heygen):
    heygen.looks.side_effect = httpx.ConnectTimeout("no answer")
    heygen.voices.respond(502, text="bad gateway")

    response = api_client.post("/api/video/generate/", brief(avatar_id="not_checked_now"), format="json")

    assert response.status_code == 202, response.json()
    assert VideoJob.objects.get().avatar_id == "not_checked_now"


def test_an_empty_or_malformed_page_is_not_found_rather_than_the_first_page(api_client, heygen):
    assert api_client.get("/api/catalog/avatars/", {"page": ""}).status_code == 404
    assert api_client.get("/api/catalog/avatars/", {"page": "two"}).status_code == 404


def test_a_filter_with_control_characters_is_refused_as_the_schema_says(api_client, heygen):
    response = api_client.get("/api/catalog/voices/", {"gender": "\x10\x00"})
    assert response.status_code == 400 and "gender" in response.json()["details"]
