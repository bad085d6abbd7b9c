"""services/overlay.py: which characters pass, how text wraps, where it goes (no ffmpeg here)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from video_generation.services.compose import FRAME_SIZES, Placement, presenter_box
from video_generation.services.geometry import Box
from video_generation.services.overlay import (
    ELLIPSIS,
    drawable_pattern,
    font,
    layout_text,
    refusal,
    render,
    safe_area,
    wrap,
)

PLACEMENTS = {"bottom_right": Placement(0.8, 0.7, 0.8), "top_left": Placement(0.8, -0.7, -0.8),
              "small_centre": Placement(0.4, 0, 0), "bottom_left": Placement(0.8, -0.7, 0.8)}
LONG = "Forty hours of battery, active noise cancelling, and a case that charges wirelessly on any pad"


class TestRefusal:
    def test_text_the_font_draws_passes(self):
        assert refusal("Ünïcode ✓ ★ 40 h — €99 … ß\nnew line") is None

    def test_a_character_without_a_glyph_is_named(self):
        assert refusal("Hi 中") == "The on-screen font cannot draw: 中 (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)."

    def test_emoji_are_refused_even_where_the_font_has_a_monochrome_glyph(self):
        message = refusal("Great 😀 deal")
        assert message is not None and "😀 (U+1F600 GRINNING FACE)" in message and message.startswith("Emoji")

    def test_control_characters_are_refused_and_tab_and_new_line_pass(self):
        assert refusal("a\tb\nc\r\n") is None
        assert refusal("a\x00b\x7f") == "Control characters are not allowed: U+0000, U+007F."

    def test_the_published_pattern_accepts_exactly_what_refusal_lets_through(self):
        pattern = re.compile(drawable_pattern())
        for code in [*range(0xD800), *range(0xE000, 0x10000), 0x1F600, 0x1D400]:
            char = chr(code)
            assert bool(pattern.search(f"ok {char} ok")) is (refusal(char) is None), hex(code)

    def test_the_pattern_uses_only_escapes_that_mean_the_same_in_ecma_262(self):
        body = drawable_pattern()[2:-3]
        assert re.fullmatch(r"(?:\\u[0-9A-F]{4}(?:-\\u[0-9A-F]{4})?)+", body)

    def test_emoji_presentation_selectors_and_joiners_are_refused(self):
        assert "U+FE0F" in refusal("❤️")
        assert "U+200D" in refusal("a\u200db")


class TestWrap:
    @pytest.mark.parametrize("width", [200, 400, 640])
    def test_every_line_fits_the_width_and_no_word_is_lost(self, width):
        lines = wrap(LONG, 40, width)
        assert len(lines) > 1
        assert all(font(40).getlength(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == LONG.replace(" ", "")  # narrow lines may break a long word

    def test_a_word_wider_than_the_line_is_broken_between_characters(self):
        lines = wrap("Supercalifragilisticexpialidocious", 40, 150)
        assert len(lines) > 1 and "".join(lines) == "Supercalifragilisticexpialidocious"
        assert all(font(40).getlength(line) <= 150 for line in lines)

    def test_explicit_line_breaks_are_kept_and_other_white_space_collapses(self):
        assert wrap("Top  line\n\n second\tline ", 40, 1000) == ["Top line", "second line"]


@pytest.mark.parametrize("aspect", ["9:16", "16:9"])
@pytest.mark.parametrize("placement", list(PLACEMENTS))
@pytest.mark.parametrize("text", ["40 h battery", LONG])
def test_the_text_stays_in_the_safe_area_and_clear_of_the_presenter(aspect, placement, text):
    w, h = FRAME_SIZES[aspect]
    presenter = presenter_box(w, h, 720, 1280, PLACEMENTS[placement])
    layout = layout_text(text, w, h, presenter)
    assert safe_area(w, h).contains(layout.box)
    assert not layout.box.intersects(presenter)
    pad = round(layout.font_size * 0.45)
    assert all(font(layout.font_size).getlength(line) <= layout.box.width - 2 * pad for line in layout.lines)
    assert " ".join(layout.lines) == " ".join(text.split())


def test_short_text_gets_a_large_size_for_the_frame():
    w, h = FRAME_SIZES["9:16"]
    layout = layout_text("40 h", w, h, presenter_box(w, h, 720, 1280, PLACEMENTS["bottom_right"]))
    assert layout.font_size >= 0.06 * w


def test_text_too_long_for_any_region_is_cut_with_an_ellipsis_inside_the_region():
    w, h = FRAME_SIZES["9:16"]
    presenter = presenter_box(w, h, 720, 1280, PLACEMENTS["bottom_right"])
    layout = layout_text(" ".join([LONG] * 5), w, h, presenter)
    assert layout.lines[-1].endswith(ELLIPSIS)
    assert not layout.box.intersects(presenter) and safe_area(w, h).contains(layout.box)


def test_render_writes_a_png_of_the_box_size_with_a_translucent_backing_and_white_text(tmp_path):
    w, h = FRAME_SIZES["16:9"]
    layout = layout_text("40 h battery", w, h, Box(900, 100, 300, 600))
    image = np.asarray(Image.open(render(layout, tmp_path / "t.png")).convert("RGBA"))
    assert image.shape == (layout.box.height, layout.box.width, 4)
    alphas = image[..., 3]
    assert (alphas == 255).any() and ((alphas > 0) & (alphas < 255)).any()
    assert (image[..., :3] == 255).all(axis=-1).any()


def test_a_presenter_filling_the_frame_leaves_the_text_at_the_top_of_the_safe_area():
    w, h = FRAME_SIZES["9:16"]
    presenter = presenter_box(w, h, 720, 1280, Placement(1.0, 0, 0))
    layout = layout_text("40 h battery", w, h, presenter)
    assert layout.box.top == safe_area(w, h).top and safe_area(w, h).contains(layout.box)


def test_a_thin_strip_beside_the_presenter_is_not_used_for_text_that_does_not_fit_anywhere():
    w, h = FRAME_SIZES["9:16"]
    presenter = Box(0, 100, w, h - 200)  # leaves strips of 100 - 64 - gap pixels above and below
    layout = layout_text(" ".join([LONG] * 5), w, h, presenter)
    assert layout.lines[-1].endswith(ELLIPSIS) and layout.box.top == safe_area(w, h).top
