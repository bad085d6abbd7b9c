"""compose.py on small generated media: solid colours, so pixels can be checked after a real ffmpeg run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video_generation.services.compose import (
    FRAME_SIZES,
    Box,
    ComposeError,
    Placement,
    compose_final,
    fit_to_size,
    join_chains,
    niced,
    normalize,
    presenter_box,
    probe,
)
from video_generation.tests.services.media_factory import (
    PRESENTER_BODY,
    ffmpeg,
    frame_at,
    make_broll,
    make_corrupt,
    make_presenter,
)

BLUE = (0, 0, 255)
MAGENTA = (255, 0, 255)
PRESENTER_SIZE = (360, 640)
BOTTOM_RIGHT = Placement(0.8, 0.7, 0.8)
TOP_LEFT = Placement(0.5, -1.0, -1.0)


def _close(pixel, rgb, tol: int = 40) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, dtype=int) - np.asarray(rgb)) <= tol))


def _green_pixels(frame: np.ndarray) -> int:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return int(((g > 150) & (r < 110) & (b < 110)).sum())


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    return {
        "broll_916": make_broll(d / "broll_916.mp4", 2, "9:16", "#0000FF"),
        "broll_169": make_broll(d / "broll_169.mp4", 2, "16:9", "#0000FF"),
        "broll_long": make_broll(d / "broll_long.mp4", 3, "9:16", "#0000FF"),
        "broll_silent": make_broll(d / "broll_silent.mp4", 2, "9:16", "#0000FF", with_audio=False),
        "alpha": make_presenter(d / "alpha.webm", 2, "alpha", size=PRESENTER_SIZE),
        "alpha_long": make_presenter(d / "alpha_long.webm", 3, "alpha", size=PRESENTER_SIZE),
        "chroma": make_presenter(d / "chroma.mp4", 2, "chroma", "#00FF00", size=PRESENTER_SIZE),
        "chroma_silent": make_presenter(
            d / "chroma_silent.mp4", 2, "chroma", "#00FF00", size=PRESENTER_SIZE, with_audio=False
        ),
    }


# ------------------------------------------------------------------------------------------ presenter_box


class TestPresenterBox:
    def test_it_scales_the_presenter_to_a_fraction_of_the_frame_height_keeping_its_aspect(self):
        box = presenter_box(720, 1280, 1080, 1920, Placement(0.5, 0, 0))
        assert (box.width, box.height) == (360, 640)

    def test_it_centres_the_presenter_at_zero_zero(self):
        assert presenter_box(720, 1280, 1080, 1920, Placement(0.5, 0, 0)) == Box(180, 320, 360, 640)

    def test_it_puts_the_presets_where_their_names_say(self):
        w, h = FRAME_SIZES["9:16"]
        br = presenter_box(w, h, 1080, 1920, Placement(0.8, 0.7, 0.8))
        assert br == Box(left=122, top=230, width=576, height=1024)  # (144/2)*1.7, (256/2)*1.8
        bl = presenter_box(w, h, 1080, 1920, Placement(0.8, -0.7, 0.8))
        assert (bl.left, bl.top) == (22, 230)
        tr = presenter_box(w, h, 1080, 1920, Placement(0.8, 0.7, -0.8))
        assert (tr.left, tr.top) == (122, 26)
        tl = presenter_box(w, h, 1080, 1920, Placement(0.8, -0.7, -0.8))
        assert (tl.left, tl.top) == (22, 26)
        assert presenter_box(w, h, 1080, 1920, Placement(1.0, 0, 0)) == Box(0, 0, 720, 1280)

    def test_it_puts_the_presenter_flush_against_the_edges_at_plus_minus_one(self):
        assert presenter_box(1280, 720, 720, 1280, Placement(0.5, -1, -1)) == Box(0, 0, 202, 360)
        assert presenter_box(1280, 720, 720, 1280, Placement(0.5, 1, 1)) == Box(1078, 360, 202, 360)

    def test_it_clamps_coordinates_and_scale_so_the_presenter_never_leaves_the_frame(self):
        assert presenter_box(1280, 720, 720, 1280, Placement(0.5, 5, -9)) == Box(1078, 0, 202, 360)
        big = presenter_box(1280, 720, 720, 1280, Placement(3.0, 0, 0))
        assert big.height == 720
        tiny = presenter_box(1280, 720, 720, 1280, Placement(0.0, 0, 0))
        assert tiny.height == 72  # scale is clamped to 0.1

    def test_it_rounds_the_box_to_even_sizes(self):
        box = presenter_box(720, 1280, 1000, 1777, Placement(0.33, 0.1, 0.2))
        assert box.width % 2 == 0 and box.height % 2 == 0

    def test_it_shrinks_a_landscape_presenter_to_the_frame_width_in_a_portrait_frame(self):
        box = presenter_box(720, 1280, 1920, 1080, Placement(1.0, 0.3, 0.3))
        assert box.width == 720 and box.height == 404  # 720 * 1080 / 1920 = 405 -> even
        assert box.left == 0 and 0 <= box.top <= 1280 - box.height


# ------------------------------------------------------------------------------------------ compose_final


@pytest.mark.parametrize("aspect_ratio", ["9:16", "16:9"])
def test_it_composes_a_delivery_format_mp4_for_each_aspect_ratio(media, tmp_path, aspect_ratio):
    broll = media["broll_916" if aspect_ratio == "9:16" else "broll_169"]
    out = tmp_path / "final.mp4"
    info = compose_final(broll=broll, presenter=media["alpha"], placement=BOTTOM_RIGHT,
                         aspect_ratio=aspect_ratio, output=out)  # fmt: skip
    assert (info.width, info.height) == FRAME_SIZES[aspect_ratio]
    assert info.video_codec == "h264" and info.audio_codec == "aac" and info.has_audio
    assert info.fps == 24
    assert info.duration == pytest.approx(2.0, abs=0.1)
    assert probe(out) == info
    assert [p.name for p in tmp_path.iterdir()] == ["final.mp4"]  # no temp file left behind


def test_it_covers_the_frame_with_b_roll_of_the_other_orientation(media, tmp_path):
    info = compose_final(broll=media["broll_169"], presenter=None, placement=BOTTOM_RIGHT,
                         aspect_ratio="9:16", output=tmp_path / "o.mp4")  # fmt: skip
    assert (info.width, info.height) == (720, 1280)
    frame = frame_at(tmp_path / "o.mp4", 0.5)
    assert _close(frame[5, 5], BLUE) and _close(frame[-5, -5], BLUE)  # no letterbox bars


@pytest.mark.parametrize(
    ("presenter", "keying"), [("alpha", "alpha"), ("chroma", "chroma")], ids=["alpha_webm", "chroma_mp4"]
)
@pytest.mark.parametrize("placement", [BOTTOM_RIGHT, TOP_LEFT], ids=["bottom_right", "top_left"])
def test_it_puts_the_presenter_where_the_coordinates_say_and_removes_the_background(
    media, tmp_path, presenter, keying, placement
):
    out = tmp_path / "final.mp4"
    compose_final(broll=media["broll_916"], presenter=media[presenter], presenter_keying=keying,
                  key_color="#00FF00", placement=placement, aspect_ratio="9:16", output=out)  # fmt: skip
    box = presenter_box(720, 1280, *PRESENTER_SIZE, placement)
    frame = frame_at(out, 1.0)

    centre = frame[box.top + box.height // 2, box.left + box.width // 2]
    assert _close(centre, MAGENTA), centre
    # Inside the presenter's box but outside its body: transparent / keyed, so the blue B-roll shows.
    body_left, body_top, _, _ = PRESENTER_BODY
    inside_box_outside_body = frame[
        box.top + int(box.height * body_top / 2), box.left + int(box.width * body_left / 2)
    ]
    assert _close(inside_box_outside_body, BLUE), inside_box_outside_body
    # Far away from the box: B-roll.
    far_x = 5 if box.left + box.width // 2 > 360 else 715
    far_y = 5 if box.top + box.height // 2 > 640 else 1275
    assert _close(frame[far_y, far_x], BLUE)
    assert _green_pixels(frame) == 0  # the key colour is gone everywhere


def test_it_keeps_the_whole_presenter_when_it_is_longer_than_the_b_roll(media, tmp_path):
    out = tmp_path / "final.mp4"
    info = compose_final(broll=media["broll_916"], presenter=media["alpha_long"], placement=BOTTOM_RIGHT,
                         aspect_ratio="9:16", output=out)  # fmt: skip
    assert info.duration == pytest.approx(3.0, abs=0.1)
    last = frame_at(out, 2.9)  # the B-roll holds its last frame under the presenter
    box = presenter_box(720, 1280, *PRESENTER_SIZE, BOTTOM_RIGHT)
    assert _close(last[5, 5], BLUE)
    assert _close(last[box.top + box.height // 2, box.left + box.width // 2], MAGENTA)


def test_it_keeps_the_whole_b_roll_and_holds_the_presenter_when_the_b_roll_is_longer(media, tmp_path):
    out = tmp_path / "final.mp4"
    info = compose_final(broll=media["broll_long"], presenter=media["chroma"], presenter_keying="chroma",
                         placement=BOTTOM_RIGHT, aspect_ratio="9:16", output=out)  # fmt: skip
    assert info.duration == pytest.approx(3.0, abs=0.1)
    last = frame_at(out, 2.9)  # the presenter's last frame stays on screen
    box = presenter_box(720, 1280, *PRESENTER_SIZE, BOTTOM_RIGHT)
    assert _close(last[box.top + box.height // 2, box.left + box.width // 2], MAGENTA)


def test_it_always_writes_an_audio_stream_even_when_no_input_has_sound(media, tmp_path):
    info = compose_final(broll=media["broll_silent"], presenter=media["chroma_silent"],
                         presenter_keying="chroma", placement=BOTTOM_RIGHT, aspect_ratio="9:16",
                         output=tmp_path / "o.mp4")  # fmt: skip
    assert info.has_audio and info.audio_codec == "aac"
    import av

    with av.open(str(tmp_path / "o.mp4")) as c:
        a = c.streams.audio[0]
        assert (a.codec_context.sample_rate, a.codec_context.channels) == (44100, 2)
        assert float(a.duration * a.time_base) == pytest.approx(2.0, abs=0.1)


def test_it_renders_the_b_roll_alone_with_audio_when_there_is_no_presenter(media, tmp_path):
    info = compose_final(broll=media["broll_silent"], presenter=None, placement=BOTTOM_RIGHT,
                         aspect_ratio="16:9", output=tmp_path / "o.mp4")  # fmt: skip
    assert (info.width, info.height, info.has_audio) == (1280, 720, True)
    assert _close(frame_at(tmp_path / "o.mp4", 1.0)[360, 640], BLUE)


def test_it_raises_compose_error_without_paths_on_a_corrupt_input(media, tmp_path):
    (tmp_path / "secret-dir").mkdir()
    bad = make_corrupt(tmp_path / "secret-dir" / "broken.mp4")
    with pytest.raises(ComposeError) as excinfo:
        compose_final(broll=bad, presenter=media["alpha"], placement=BOTTOM_RIGHT, aspect_ratio="9:16",
                      output=tmp_path / "o.mp4")  # fmt: skip
    assert "secret-dir" not in str(excinfo.value)
    assert not (tmp_path / "o.mp4").exists()


def test_it_raises_compose_error_with_ffmpegs_stderr_when_ffmpeg_fails(media, tmp_path):
    # A header PyAV accepts but whose packets ffmpeg cannot decode: keep the real header, wreck the rest.
    data = bytearray(media["broll_916"].read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 :] = b"\x00" * (len(data) - mdat - 8)
    broken = tmp_path / "hidden" / "garbled.mp4"
    broken.parent.mkdir()
    broken.write_bytes(bytes(data))
    try:
        compose_final(broll=broken, presenter=None, placement=BOTTOM_RIGHT, aspect_ratio="9:16",
                      output=tmp_path / "o.mp4")  # fmt: skip
    except ComposeError as exc:
        assert str(tmp_path) not in str(exc)
    # ffmpeg may also just skip undecodable frames; either way nothing half-written is left behind.
    assert not any(p.name.endswith(".part.mp4") for p in tmp_path.iterdir())


def test_it_rejects_an_unknown_aspect_ratio_or_key_colour(media, tmp_path):
    with pytest.raises(ValueError):
        compose_final(broll=media["broll_916"], presenter=None, placement=BOTTOM_RIGHT, aspect_ratio="4:3",
                      output=tmp_path / "o.mp4")  # fmt: skip
    with pytest.raises(ValueError):
        compose_final(broll=media["broll_916"], presenter=media["chroma"], presenter_keying="chroma",
                      key_color="green;drawtext", placement=BOTTOM_RIGHT, aspect_ratio="9:16",
                      output=tmp_path / "o.mp4")  # fmt: skip


# ------------------------------------------------------------------------------------------ join / normalize


def test_it_joins_three_chains_with_crossfades_into_the_expected_duration(tmp_path):
    chains = [
        make_broll(tmp_path / "a.mp4", 2, "9:16", "#FF0000"),
        make_broll(tmp_path / "b.mp4", 2, "9:16", "#00FF00", with_audio=False),
        make_broll(tmp_path / "c.mp4", 2, "16:9", "#0000FF", size=(640, 360)),
    ]
    info = join_chains(chains, tmp_path / "joined.mp4", crossfade=0.5)
    assert info.duration == pytest.approx(6.0 - 2 * 0.5, abs=0.1)
    assert (info.width, info.height, info.fps, info.has_audio) == (720, 1280, 24, True)
    assert _close(frame_at(tmp_path / "joined.mp4", 0.5)[640, 360], (255, 0, 0))
    assert _close(frame_at(tmp_path / "joined.mp4", 4.8)[640, 360], BLUE)


def test_it_normalizes_a_single_chain(media, tmp_path):
    info = join_chains([media["broll_silent"]], tmp_path / "one.mp4")
    assert (info.width, info.height, info.has_audio, info.video_codec) == (720, 1280, True, "h264")
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_it_normalizes_any_input_to_the_delivery_format(media, tmp_path):
    info = normalize(media["alpha"], tmp_path / "n.mp4", aspect_ratio="16:9")
    assert (info.width, info.height, info.fps) == (1280, 720, 24)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


def test_it_probes_a_presenter_webm(media):
    info = probe(media["alpha"])
    assert (info.width, info.height, info.video_codec, info.has_audio) == (360, 640, "vp9", True)
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_it_raises_compose_error_when_probing_a_corrupt_or_missing_file(tmp_path):
    with pytest.raises(ComposeError):
        probe(make_corrupt(tmp_path / "x.mp4"))
    with pytest.raises(ComposeError):
        probe(tmp_path / "missing.mp4")


class TestPriority:
    @staticmethod
    def child_niceness() -> int:
        """The niceness a command run through niced() sees."""
        import subprocess
        import sys

        probe = niced([sys.executable, "-c", "import os; print(os.nice(0))"])
        return int(subprocess.run(probe, capture_output=True, text=True, check=True).stdout)

    def test_ffmpeg_runs_ten_nice_levels_below_the_worker_by_default(self, monkeypatch):
        import os

        monkeypatch.delenv("COMPOSE_FFMPEG_NICE", raising=False)
        assert self.child_niceness() == min(19, os.nice(0) + 10)

    def test_the_level_comes_from_the_environment_and_zero_turns_it_off(self, monkeypatch):
        import os

        monkeypatch.setenv("COMPOSE_FFMPEG_NICE", "3")
        assert self.child_niceness() == min(19, os.nice(0) + 3)
        monkeypatch.setenv("COMPOSE_FFMPEG_NICE", "0")
        assert niced(["ffmpeg", "-version"]) == ["ffmpeg", "-version"]


def test_it_fits_an_oversized_broll_under_a_byte_limit_keeping_its_length_size_and_audio(tmp_path):
    broll = make_broll(tmp_path / "broll.mp4", 4.0, size=(360, 640))
    noisy = tmp_path / "noisy.mp4"  # pseudo-random pixels: a big file, like busy real footage
    ffmpeg("-i", str(broll), "-vf", "noise=alls=60:allf=t", "-c:v", "libx264", "-preset", "ultrafast",
           "-crf", "12", "-c:a", "copy", "-f", "mp4", str(noisy))
    limit = 500_000  # about 0.9 Mbit/s for 4 s
    assert noisy.stat().st_size > 3 * limit

    info = fit_to_size(noisy, tmp_path / "fitted.mp4", max_bytes=limit)

    assert (tmp_path / "fitted.mp4").stat().st_size <= limit
    assert info.duration == pytest.approx(4.0, abs=0.1)
    assert (info.width, info.height) == (360, 640) and info.has_audio


def test_it_refuses_to_squeeze_a_video_below_a_watchable_bit_rate(tmp_path):
    broll = make_broll(tmp_path / "broll.mp4", 6.0)
    with pytest.raises(ComposeError, match="cannot be made smaller than 1000 bytes"):
        fit_to_size(broll, tmp_path / "fitted.mp4", max_bytes=1000)
