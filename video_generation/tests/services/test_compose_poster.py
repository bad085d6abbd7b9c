"""compose.poster and compose.preview: the still and the short loop a finished job gets, made with ffmpeg."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from video_generation.services import compose

from .media_factory import ffmpeg, frame_at

SECONDS = 6.0


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """6 s at 720x1280 with sound, whose colours turn all the way round over its length: every second looks
    different, and no frame is uniform."""
    path = tmp_path_factory.mktemp("poster") / "final.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=720x1280:r=24:d={SECONDS},hue=H=2*PI*t/{SECONDS}",
           "-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=44100:duration={SECONDS}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-f", "mp4", str(path))
    return path


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_poster_is_taken_a_third_of_the_way_in():
    assert compose.poster_time(24.0) == 8.0 and compose.poster_time(0.0) == 0.0


def test_the_poster_is_a_jpeg_of_the_videos_frame_at_that_time(video, tmp_path):
    out = tmp_path / "final-poster.jpg"

    compose.poster(video, out, at=2.0)

    image = Image.open(io.BytesIO(out.read_bytes()))
    assert image.format == "JPEG" and image.size == (720, 1280)
    poster = np.asarray(image.convert("RGB"))
    assert poster.std() > 20, "a uniform (e.g. black) frame is no poster"
    same, earlier = frame_at(video, 2.0), frame_at(video, 0.0)
    assert difference(poster, same) < 6, difference(poster, same)
    assert difference(poster, earlier) > 3 * difference(poster, same)


def test_the_preview_is_three_silent_seconds_at_half_size(video, tmp_path):
    out = tmp_path / "final-preview.mp4"

    info = compose.preview(video, out)

    assert not info.has_audio and info.video_codec == "h264"
    assert (info.width, info.height) == (360, 640)
    assert 2.9 <= info.duration <= 3.05, info.duration
    assert out.stat().st_size < video.stat().st_size / 2
    assert difference(frame_at(out, 1.0), np.asarray(Image.fromarray(frame_at(video, 1.0)).resize((360, 640)))) < 12


def test_a_video_shorter_than_the_preview_is_previewed_whole(tmp_path, video):
    short = tmp_path / "short.mp4"
    ffmpeg("-i", str(video), "-t", "1.5", "-c", "copy", "-f", "mp4", str(short))
    assert compose.preview(short, tmp_path / "p.mp4").duration <= 1.6


def test_a_poster_of_a_broken_video_is_a_compose_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(compose.ComposeError):
        compose.poster(broken, tmp_path / "p.jpg", at=0.0)
    assert not (tmp_path / "p.jpg").exists()
