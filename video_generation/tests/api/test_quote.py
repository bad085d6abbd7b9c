"""POST /api/video/quote/: the price of a brief, creating nothing."""

import pytest
from rest_framework.test import APIClient

from devstack.briefs import headphones_brief
from video_generation.models import VideoJob

URL = "/api/video/quote/"
pytestmark = pytest.mark.django_db


def brief(**overrides) -> dict:
    return {**headphones_brief("https://cdn.example.com/headphones.jpg"), **overrides}


def test_it_prices_the_brief_and_creates_nothing(api_client, user):
    response = api_client.post(URL, brief(), format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"credits", "estimated_cost_usd", "duration_seconds", "broll_seconds", "narration_seconds",
                         "estimated_time_seconds", "quality", "broll_audio", "model", "scene_transitions",
                         "broll_fit", "scene_plan"}
    assert (body["credits"], body["duration_seconds"], body["quality"], body["broll_audio"]) == \
        (3, 22.0, "standard", False)
    assert body["estimated_cost_usd"] == "5.6800"  # 22 s of silent Veo standard at $0.20 + 19.2 s of HeyGen at $4/min
    assert (body["scene_transitions"], body["broll_fit"]) == ("continuous", "extend")  # the defaults
    assert not VideoJob.objects.exists()
    assert user.profile.held_credits == 0


def test_the_cost_choices_change_the_quote_not_the_credits(api_client):
    cheap = api_client.post(URL, brief(quality="fast"), format="json").json()
    loud = api_client.post(URL, brief(broll_audio=True), format="json").json()
    assert (cheap["credits"], loud["credits"]) == (3, 3)
    assert (cheap["model"], cheap["estimated_cost_usd"]) == ("veo-3.1-fast-generate-001", "3.4800")
    assert loud["estimated_cost_usd"] == "10.0800"


def test_the_generate_answer_holds_what_the_quote_said(api_client, user):
    quote = api_client.post(URL, brief(), format="json").json()
    accepted = api_client.post("/api/video/generate/", brief(), format="json").json()
    assert accepted["credits"] == quote["credits"]
    assert VideoJob.objects.get().quote == quote


@pytest.mark.parametrize(("overrides", "field"), [
    ({"quality": "ultra"}, "quality"), ({"broll_audio": "yes"}, "broll_audio"), ({"scenes": []}, "scenes"),
    ({"image_url": "http://169.254.169.254/latest"}, "image_url"), ({"surprise": 1}, "surprise"),
    ({"broll_fit": "stretch"}, "broll_fit"), ({"broll_fit": None}, "broll_fit"),
    ({"scene_transitions": "wipe"}, "scene_transitions"), ({"scene_transitions": 1}, "scene_transitions")])
def test_it_refuses_what_generate_refuses(api_client, overrides, field):
    response = api_client.post(URL, brief(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_it_needs_a_token():
    assert APIClient().post(URL, brief(), format="json").status_code == 401


def test_a_long_narration_with_extend_is_quoted_with_its_padding_clips(api_client):
    script = " ".join(["word"] * 75)  # 30 s at 150 words a minute, over 22 s of scenes
    extend = api_client.post(URL, brief(avatar_script=script), format="json").json()
    loop = api_client.post(URL, brief(avatar_script=script, broll_fit="loop"), format="json").json()
    assert [clip["padding"] for clip in extend["scene_plan"][0]["clips"]] == [False, False, False, True, True]
    assert (extend["broll_seconds"], loop["broll_seconds"]) == (36.0, 22.0)
    assert float(extend["estimated_cost_usd"]) - float(loop["estimated_cost_usd"]) == pytest.approx(14 * 0.20)
    assert extend["duration_seconds"] == loop["duration_seconds"] == 30.0
