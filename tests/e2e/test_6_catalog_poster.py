"""Through real processes and the sandbox: the avatar and voice catalogue, a brief refused for an avatar the
catalogue does not list before anything is paid for, and a finished video's poster and preview."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from .media import frames_at, probe

pytestmark = pytest.mark.e2e

SHORT_SCRIPT = "Premium sound, all day comfort. Order yours today."


def get(e2e, path: str, **params):
    response = e2e.http.get(f"{e2e.api_urls['v3']}{path}", params=params, headers=e2e._headers())
    assert response.status_code == 200, response.text
    return response.json()


def test_the_catalogue_lists_the_sandboxs_avatars_and_voices_with_previews(e2e):
    avatars = {a["avatar_id"]: a for a in get(e2e, "/api/catalog/avatars/")["results"]}
    assert avatars["josh_lite3_20230714"]["transparent"] is True
    assert avatars["lukas_photo_20240311"]["transparent"] is False
    preview = e2e.http.get(avatars["josh_lite3_20230714"]["preview_image_url"])
    assert preview.status_code == 200 and Image.open(io.BytesIO(preview.content)).format == "PNG"
    german = get(e2e, "/api/catalog/voices/", language="german")["results"]
    assert [voice["gender"] for voice in german] == ["male"]
    assert "d7bbcdd6964c47bdaae26decade4a933" in {v["voice_id"] for v in get(e2e, "/api/catalog/voices/")["results"]}


def test_an_unknown_avatar_is_refused_before_any_provider_call(e2e):
    before = len(e2e.ledger())
    response = e2e.http.post(f"{e2e.api_urls['v3']}/api/video/generate/", headers=e2e._headers(),
                             json=e2e.brief(scenes=1, avatar_id="nobody_20990101", script=SHORT_SCRIPT))
    assert response.status_code == 400 and "avatar_id" in response.json()["details"]
    assert e2e.ledger()[before:] == []  # no Veo clip, no HeyGen render


@pytest.mark.timeout(600)
def test_a_finished_video_has_a_poster_that_is_its_own_frame_and_a_short_silent_preview(e2e, tmp_path):
    brief = e2e.brief(scenes=1, script=SHORT_SCRIPT)
    brief["scenes"][0]["duration"] = 4
    job = e2e.wait(e2e.submit(brief, interval=1.0), 400)
    assert job["status"] == "completed", (job["status"], job.get("error_message"))
    video = e2e.download(job, tmp_path / "final.mp4")
    duration = probe(video).duration

    poster = e2e.http.get(job["poster_url"], follow_redirects=True)
    assert poster.status_code == 200
    image = Image.open(io.BytesIO(poster.content))
    assert image.format == "JPEG" and image.size == (720, 1280)
    pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    assert pixels.std() > 10, "a uniform frame is no poster"
    [same] = frames_at(video, [duration / 3])
    assert np.abs(pixels - same.astype(np.int16)).mean() < 8

    preview = tmp_path / "preview.mp4"
    preview.write_bytes(e2e.http.get(job["preview_url"], follow_redirects=True).content)
    info = probe(preview)
    assert info.duration <= 3.05 and not info.has_audio and (info.width, info.height) == (360, 640)
