"""How compose_final covers a narration longer than the B-roll (broll_fit), seen in the frames it writes: a moving
B-roll under a still presenter, so that any stretch with no change is the B-roll standing still."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video_generation.services import compose
from video_generation.services.compose import MAX_HOLD_SECONDS, Placement, compose_final, probe
from video_generation.tests.services.media_factory import frame_at, longest_still, make_broll, make_presenter

BOTTOM_RIGHT = Placement(0.8, 0.7, 0.8)
CROSSFADE = 0.5


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fit")
    return {
        "broll_6s": make_broll(d / "broll_6s.mp4", 6, "9:16", moving=True),
        "broll_10s": make_broll(d / "broll_10s.mp4", 10, "9:16", moving=True),
        "narration_12s": make_presenter(d / "narration_12s.mp4", 12, "chroma", size=(360, 640)),
        "narration_6s": make_presenter(d / "narration_6s.mp4", 6, "chroma", size=(360, 640)),
    }


def composed(media, tmp_path, *, broll="broll_6s", presenter="narration_12s", **options) -> Path:
    output = tmp_path / f"{options.get('broll_fit', 'default')}.mp4"
    compose_final(broll=media[broll], presenter=media[presenter], presenter_keying="chroma",
                  placement=BOTTOM_RIGHT, aspect_ratio="9:16", output=output, crossfade=CROSSFADE, **options)
    return output


def test_the_measure_sees_the_moving_broll_move(media):
    assert longest_still(media["broll_6s"]) == 0


@pytest.mark.parametrize("fit", ["loop", "extend"])
def test_a_long_narration_over_a_short_broll_never_freezes_with_loop_or_extend(media, tmp_path, fit):
    output = composed(media, tmp_path, broll_fit=fit)  # 12 s of narration over 6 s of B-roll
    info = probe(output)
    assert info.duration == pytest.approx(12.0, abs=0.05) and info.has_audio
    assert longest_still(output) <= MAX_HOLD_SECONDS


def test_hold_freezes_the_last_frame_for_the_rest_of_the_narration(media, tmp_path):
    output = composed(media, tmp_path, broll_fit="hold")
    assert probe(output).duration == pytest.approx(12.0, abs=0.05)
    assert longest_still(output) == pytest.approx(6.0, abs=0.2)


def difference(output: Path, at: float, other: float) -> float:
    """Mean absolute difference of two frames (the still presenter is the same in both)."""
    return float(np.abs(frame_at(output, at).astype(int) - frame_at(output, other).astype(int)).mean())


def test_the_loop_plays_the_broll_again_from_its_start_after_a_crossfade(media, tmp_path):
    output = composed(media, tmp_path, broll_fit="loop")
    again = 6.0 - CROSSFADE  # each pass starts as the one before begins its last crossfade
    for start, into in ((again, 1.0), (again, 3.0), (2 * again, 0.5)):  # the second pass, and the third
        assert difference(output, start + into, into) < 1.0  # the same picture (re-encoded: about 0.5)
    assert difference(output, 3.0, 1.0) > 2.5  # while two moments of one pass differ (about 3.7)


def test_extend_padding_beyond_the_narration_is_cut_where_the_presenter_ends(media, tmp_path):
    # a 10 s B-roll whose scenes are 4 s, padded to cover a narration estimated too long: the video ends with the 6 s
    # narration; without scenes_seconds the whole B-roll plays on (with the presenter's last frame)
    padded = composed(media, tmp_path, broll="broll_10s", presenter="narration_6s", broll_fit="extend",
                      scenes_seconds=4.0)
    assert probe(padded).duration == pytest.approx(6.0, abs=0.05)
    whole = composed(media, tmp_path, broll="broll_10s", presenter="narration_6s", broll_fit="hold")
    assert probe(whole).duration == pytest.approx(10.0, abs=0.05)


def ffmpeg_args(monkeypatch, tmp_path, media, **options) -> list[str]:
    seen = []
    monkeypatch.setattr(compose, "_run", lambda args, output, **kw: seen.append(args))
    monkeypatch.setattr(compose, "probe", lambda path: compose.MediaInfo(
        duration=6.0 if Path(path).name == "broll_6s.mp4" else 5.8, width=720, height=1280, fps=24.0,
        has_audio=True, video_codec="h264", audio_codec="aac"))
    compose_final(broll=media["broll_6s"], presenter=media["narration_6s"], presenter_keying="chroma",
                  placement=BOTTOM_RIGHT, aspect_ratio="9:16", output=tmp_path / "out.mp4", **options)
    return [str(arg) for arg in seen[0]]


def test_when_the_broll_covers_the_narration_every_fit_runs_the_very_same_ffmpeg_command(media, tmp_path,
                                                                                         monkeypatch):
    commands = [ffmpeg_args(monkeypatch, tmp_path, media, broll_fit=fit) for fit in ("hold", "loop", "extend")]
    assert commands[0] == commands[1] == commands[2]
    assert commands[0].count("-i") == 2  # the B-roll and the presenter, read once each


def test_a_shortfall_of_up_to_half_a_second_is_held_rather_than_looped(media, tmp_path, monkeypatch):
    # the narration "outlasts" the B-roll by 0.4 s, which the rules allow to freeze
    seen = []
    monkeypatch.setattr(compose, "_run", lambda args, output, **kw: seen.append(args))
    monkeypatch.setattr(compose, "probe", lambda path: compose.MediaInfo(
        duration=6.0 if Path(path).suffix == ".mp4" and "broll" in Path(path).name else 6.4, width=720,
        height=1280, fps=24.0, has_audio=True, video_codec="h264", audio_codec="aac"))
    compose_final(broll=media["broll_6s"], presenter=media["narration_12s"], presenter_keying="chroma",
                  placement=BOTTOM_RIGHT, aspect_ratio="9:16", output=tmp_path / "out.mp4", broll_fit="loop")
    assert [str(arg) for arg in seen[0]].count("-i") == 2


def test_an_unknown_fit_is_refused(media, tmp_path):
    with pytest.raises(ValueError, match="broll_fit"):
        composed(media, tmp_path, broll_fit="stretch")
