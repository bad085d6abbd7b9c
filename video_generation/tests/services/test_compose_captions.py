"""compose_final burns the captions in with libass: each line on screen from its words' time, never over the
presenter's face (real ffmpeg, pixels compared with and without captions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video_generation.services import captions
from video_generation.services.compose import FRAME_SIZES, Placement, compose_final, presenter_box
from video_generation.services.geometry import Box, face_of
from video_generation.services.overlay import TextOverlay
from video_generation.tests.services.media_factory import frame_at, make_broll, make_presenter

PRESENTER_SIZE = (360, 640)
PLACEMENT = Placement(0.8, 0.7, 0.8)
SRT = """1
00:00:00,500 --> 00:00:01,500
Forty hours of battery

2
00:00:02,000 --> 00:00:02,800
Order yours today.
"""
CUE_STARTS = (0.5, 2.0)
DIFFERS, SAME = 8.0, 1.0  # mean absolute difference of a region, in 8-bit levels


@pytest.fixture(scope="module", params=["9:16", "16:9"])
def composed(request, tmp_path_factory) -> dict:
    aspect = request.param
    d = tmp_path_factory.mktemp(f"captions{aspect.replace(':', 'x')}")
    broll = make_broll(d / "broll.mp4", 3, aspect, "#0000FF")
    presenter = make_presenter(d / "presenter.webm", 3, "alpha", size=PRESENTER_SIZE)
    w, h = FRAME_SIZES[aspect]
    box = presenter_box(w, h, *PRESENTER_SIZE, PLACEMENT)
    track = captions.track(captions.words_from_srt(SRT), style="bold", position="auto", frame_w=w, frame_h=h,
                           presenter=box)
    common = {"broll": broll, "presenter": presenter, "placement": PLACEMENT, "aspect_ratio": aspect}
    compose_final(**common, output=d / "with.mp4", captions=track)
    compose_final(**common, output=d / "without.mp4")
    return {"with": d / "with.mp4", "without": d / "without.mp4", "track": track, "presenter": box,
            "common": common, "dir": d}


def _diff(a: Path, b: Path, seconds: float, box: Box) -> float:
    crop = (slice(box.top, box.bottom), slice(box.left, box.right))
    fa, fb = (frame_at(p, seconds)[crop].astype(int) for p in (a, b))
    return float(np.abs(fa - fb).mean())


@pytest.mark.parametrize("cue", [0, 1])
def test_a_caption_line_is_on_screen_within_100_ms_of_its_words(composed, cue):
    band = composed["track"].area.box
    start = CUE_STARTS[cue]
    assert _diff(composed["with"], composed["without"], start - 0.1, band) < SAME
    assert _diff(composed["with"], composed["without"], start + 0.1, band) > DIFFERS


def test_a_caption_leaves_after_its_words_and_a_short_linger(composed):
    band = composed["track"].area.box
    assert _diff(composed["with"], composed["without"], 1.9, band) < SAME  # 1.5 + 0.3 s linger < 1.9


@pytest.mark.parametrize("seconds", [0.6, 1.0, 1.4, 2.1, 2.5])
def test_captions_never_touch_the_presenters_face(composed, seconds):
    face = face_of(composed["presenter"])
    assert not composed["track"].area.box.intersects(face)
    assert _diff(composed["with"], composed["without"], seconds, face) < SAME


def test_nothing_outside_the_caption_band_changes(composed):
    band = composed["track"].area.box
    above = Box(0, 0, band.right, band.top - 4)
    assert _diff(composed["with"], composed["without"], 1.0, above) < SAME


def test_on_screen_text_keeps_clear_of_the_captions(composed):
    out = composed["dir"] / "both.mp4"
    text = TextOverlay("Forty hours of battery, all day comfort, premium sound", 0.0, 3.0)
    compose_final(**composed["common"], output=out, captions=composed["track"], overlays=[text])
    band = composed["track"].area.box
    # Before the first caption the band shows nothing but the B-roll and the presenter, text or no text.
    assert _diff(out, composed["without"], 0.3, band) < SAME


def test_captions_are_refused_without_a_presenter(composed, tmp_path):
    with pytest.raises(ValueError, match="presenter"):
        compose_final(broll=composed["with"], presenter=None, placement=PLACEMENT, aspect_ratio="9:16",
                      output=tmp_path / "p.mp4", captions=composed["track"])


def test_a_video_heygen_composed_gets_its_captions_when_normalized(composed, tmp_path):
    from video_generation.services.compose import normalize

    plain, captioned = tmp_path / "plain.mp4", tmp_path / "captioned.mp4"
    normalize(composed["without"], plain, aspect_ratio=composed["common"]["aspect_ratio"])
    normalize(composed["without"], captioned, aspect_ratio=composed["common"]["aspect_ratio"],
              captions=composed["track"])
    band = composed["track"].area.box
    assert _diff(captioned, plain, 0.3, band) < SAME
    assert _diff(captioned, plain, 0.7, band) > DIFFERS
