"""compose_final draws each scene's on-screen text in its own time span, clear of the presenter (real ffmpeg)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from video_generation.services.compose import FRAME_SIZES, Placement, compose_final, presenter_box
from video_generation.services.geometry import Box
from video_generation.services.overlay import TextOverlay, layout_text
from video_generation.tests.services.media_factory import frame_at, make_broll, make_presenter

PRESENTER_SIZE = (360, 640)
PLACEMENT = Placement(0.8, 0.7, 0.8)
# Scene 1 of three one-second scenes: the text fades in over 0.25 s from 1.0 and out over 0.25 s to 2.0.
SCENE_TEXT = TextOverlay("40 h battery, all-day comfort", 1.0, 2.0)
INSIDE, OUTSIDE = (1.4, 1.6), (0.3, 0.8, 2.2, 2.7)
DIFFERS, SAME = 20.0, 2.0  # mean absolute difference of a region, in 8-bit levels


@pytest.fixture(scope="module", params=["9:16", "16:9"])
def composed(request, tmp_path_factory) -> dict:
    aspect = request.param
    d = tmp_path_factory.mktemp(f"overlay{aspect.replace(':', 'x')}")
    broll = make_broll(d / "broll.mp4", 3, aspect, "#0000FF")
    presenter = make_presenter(d / "presenter.webm", 3, "alpha", size=PRESENTER_SIZE)
    common = {"broll": broll, "presenter": presenter, "placement": PLACEMENT, "aspect_ratio": aspect}
    compose_final(**common, output=d / "with.mp4", overlays=[SCENE_TEXT])
    compose_final(**common, output=d / "without.mp4")
    w, h = FRAME_SIZES[aspect]
    presenter_at = presenter_box(w, h, *PRESENTER_SIZE, PLACEMENT)
    return {"with": d / "with.mp4", "without": d / "without.mp4", "presenter": presenter_at, "common": common,
            "text": layout_text(SCENE_TEXT.text, w, h, presenter_at).box}


def _diff(a: Path, b: Path, seconds: float, box: Box) -> float:
    crop = (slice(box.top, box.bottom), slice(box.left, box.right))
    fa, fb = (frame_at(p, seconds)[crop].astype(int) for p in (a, b))
    return float(np.abs(fa - fb).mean())


@pytest.mark.parametrize("seconds", INSIDE)
def test_the_text_region_differs_during_its_scene(composed, seconds):
    assert _diff(composed["with"], composed["without"], seconds, composed["text"]) > DIFFERS


@pytest.mark.parametrize("seconds", OUTSIDE)
def test_the_text_region_is_untouched_outside_its_scene(composed, seconds):
    assert _diff(composed["with"], composed["without"], seconds, composed["text"]) < SAME


def test_the_text_fades_in(composed):
    full = _diff(composed["with"], composed["without"], 1.5, composed["text"])
    fading = _diff(composed["with"], composed["without"], 1.09, composed["text"])
    assert SAME < fading < full * 0.8


def test_the_text_never_touches_the_presenter_box(composed):
    assert not composed["text"].intersects(composed["presenter"])
    assert _diff(composed["with"], composed["without"], 1.5, composed["presenter"]) < SAME


def test_nothing_but_the_text_region_changes(composed):
    w, h = frame_at(composed["with"], 0).shape[1::-1]
    text = composed["text"]
    below = Box(0, text.bottom + 8, w, h - text.bottom - 8)
    assert _diff(composed["with"], composed["without"], 1.5, below) < SAME


def test_text_is_refused_without_a_presenter(composed, tmp_path):
    with pytest.raises(ValueError, match="presenter"):
        compose_final(broll=composed["with"], presenter=None, placement=PLACEMENT, aspect_ratio="9:16",
                      output=tmp_path / "p.mp4", overlays=[SCENE_TEXT])  # fmt: skip


def test_a_span_without_an_end_runs_to_the_end_of_the_video(composed, tmp_path):
    out = tmp_path / "to_the_end.mp4"
    compose_final(**composed["common"], output=out, overlays=[TextOverlay(SCENE_TEXT.text, 2.0, math.inf)])
    assert _diff(out, composed["without"], 1.5, composed["text"]) < SAME
    assert _diff(out, composed["without"], 2.6, composed["text"]) > DIFFERS
    assert _diff(out, composed["without"], 2.95, composed["text"]) > SAME  # fading out with the video's end
