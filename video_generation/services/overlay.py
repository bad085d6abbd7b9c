"""On-screen text (a scene's ``text_overlay``): which characters can be shown, where the text goes, how it looks.

The compositor draws the text itself (a generative model does not spell reliably). Each text is laid out here
and rendered once to a small transparent PNG, which ``compose.compose_final`` overlays only during its scene,
fading in and out.

Font
    DejaVu Sans Bold, committed beside this package (``video_generation/fonts/``, with its licence). A character
    is drawable when the font's character map has it. Emoji are refused even where DejaVu has a monochrome
    glyph (they would not look like the emoji the customer typed); symbols that are text, such as ✓ ★ € …, pass.
    Characters outside the Basic Multilingual Plane are refused too, so that the rule is one JSON Schema pattern
    (``drawable_pattern``) that the API publishes. ``drawable_code_points`` is the one rule; the API's validator
    (its pattern and its message, ``refusal``) and the compositor's layout follow it.

Layout (``layout_text``)
    * Safe area: the frame less ``SAFE_MARGIN`` of its width and height on every side.
    * The text goes into one of the parts of the safe area the presenter box leaves free: above it, below it,
      left or right of it (``GAP_FRACTION`` of the frame's short side away from the box). The largest font
      size (from ``MAX_SIZE_FRACTION`` down to ``MIN_SIZE_FRACTION`` of the short side) at which the wrapped text
      fits one of them in at most ``MAX_LINES`` lines wins; at equal size the larger region wins. Above is
      top-aligned, below is bottom-aligned, beside is top-aligned; the block is centred across its region.
    * Wrapping is greedy on the font's own advance widths (Pillow); a word wider than the line is broken
      between characters. Explicit line breaks are kept; other runs of white space become one space.
    * Text too long for any region at the smallest size keeps the lines that fit and ends with "…". If the
      presenter leaves no free region at all (a full-frame presenter), the text goes to the top of the safe area.
Style
    White text on a rounded dark backing box (black at ``BACKING_ALPHA``), padding ``PADDING`` x the font size.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .geometry import Box

FONT_PATH = Path(__file__).resolve().parent.parent / "fonts" / "DejaVuSans-Bold.ttf"

SAFE_MARGIN = 0.05
GAP_FRACTION = 0.02
MAX_SIZE_FRACTION = 0.065
MIN_SIZE_FRACTION = 0.03
SIZE_STEP = 2  # pixels
MAX_LINES = 4
LINE_HEIGHT = 1.25  # x the font size
PADDING = 0.45  # x the font size
BACKING_ALPHA = 165
FADE_SECONDS = 0.3
ELLIPSIS = "…"

_BREAKS = re.compile(r"\r\n|[\n\r\u2028\u2029]")
# Pictographic emoji blocks, skin tones, and the characters that turn text into emoji (presentation selector,
# zero-width joiner, keycap).
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x1F3FB, 0x1F3FF), (0xFE0F, 0xFE0F), (0x200D, 0x200D), (0x20E3, 0x20E3),
                 (0xE0020, 0xE007F))


@dataclass(frozen=True)
class TextOverlay:
    """A text shown from ``start`` to ``end`` seconds of the finished video."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class TextLayout:
    box: Box  # where the rendered block goes in the frame
    lines: tuple[str, ...]
    font_size: int


# --------------------------------------------------------------------------------------------- characters


@lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(FONT_PATH), lazy=True) as font:
        return frozenset(font.getBestCmap())


def _is_emoji(code: int) -> bool:
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def _is_control(code: int) -> bool:
    return unicodedata.category(chr(code)) == "Cc" and chr(code) not in "\t\n\r"


@lru_cache(maxsize=1)
def drawable_code_points() -> frozenset[int]:
    """What on-screen text may contain: the font's characters and the white space (shown as a space), in the
    Basic Multilingual Plane (so the rule can be published as a JSON Schema pattern), less emoji and controls."""
    spaces = {code for code in range(0x10000) if chr(code).isspace()}
    return frozenset(code for code in _cmap() | spaces
                     if code < 0x10000 and not 0xD800 <= code <= 0xDFFF and not _is_emoji(code)
                     and not _is_control(code))


def drawable_pattern() -> str:
    """``drawable_code_points`` as a regular expression that means the same in Python and ECMA-262."""
    ranges: list[list[int]] = []
    for code in sorted(drawable_code_points()):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = (f"\\u{low:04X}" if low == high else f"\\u{low:04X}-\\u{high:04X}" for low, high in ranges)
    return f"^[{''.join(parts)}]*$"


def _describe(chars: list[str]) -> str:
    return ", ".join(f"{c} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})" for c in chars)


def refusal(text: str) -> str | None:
    """Why ``text`` cannot be drawn on screen (naming the characters), or None if it can."""
    refused = [char for char in dict.fromkeys(text) if ord(char) not in drawable_code_points()]
    emoji = [char for char in refused if _is_emoji(ord(char))]
    controls = [char for char in refused if _is_control(ord(char))]
    others = [char for char in refused if char not in emoji and char not in controls]
    problems = []
    if emoji:
        problems.append(f"emoji cannot be shown as on-screen text: {_describe(emoji)}")
    if controls:
        problems.append(f"control characters are not allowed: {', '.join(f'U+{ord(c):04X}' for c in controls)}")
    if others:
        problems.append(f"the on-screen font cannot draw: {_describe(others)}")
    if not problems:
        return None
    message = "; ".join(problems)
    return message[0].upper() + message[1:] + "."


# ----------------------------------------------------------------------------------------------- layout


@lru_cache(maxsize=64)
def font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT_PATH), size)


def paragraphs(text: str) -> list[str]:
    """The text's lines as written, each with its white space collapsed; blank lines dropped."""
    lines = (" ".join(part.split()) for part in _BREAKS.split(text))
    return [line for line in lines if line]


def text_width(text: str, size: int) -> float:
    return font(size).getlength(text)


def _break_word(word: str, size: int, width: float) -> list[str]:
    pieces, current = [], ""
    for char in word:
        if current and text_width(current + char, size) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def wrap(text: str, size: int, width: float) -> list[str]:
    """Greedy word wrap of ``text`` so every line is at most ``width`` pixels wide at ``size``."""
    lines: list[str] = []
    for paragraph in paragraphs(text):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if text_width(candidate, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            pieces = _break_word(word, size, width) if text_width(word, size) > width else [word]
            lines.extend(pieces[:-1])
            current = pieces[-1]
        if current:
            lines.append(current)
    return lines


def safe_area(frame_w: int, frame_h: int) -> Box:
    mx, my = round(frame_w * SAFE_MARGIN), round(frame_h * SAFE_MARGIN)
    return Box(mx, my, frame_w - 2 * mx, frame_h - 2 * my)


def _without_band(safe: Box, band: Box, gap: int) -> Box:
    """The safe area less a band across its top or its bottom (and the gap beside it)."""
    if band.top - safe.top > safe.bottom - band.bottom:  # the band is in the lower part
        return Box(safe.left, safe.top, safe.width, max(0, band.top - gap - safe.top))
    top = min(safe.bottom, band.bottom + gap)
    return Box(safe.left, top, safe.width, safe.bottom - top)


def free_regions(safe: Box, presenter: Box | None, gap: int) -> list[tuple[str, Box]]:
    """The parts of the safe area clear of the presenter box (by ``gap``), largest first."""
    if presenter is None or not presenter.intersects(safe):
        return [("above", safe)]
    bounds = {
        "above": (safe.left, safe.top, safe.right, presenter.top - gap),
        "below": (safe.left, presenter.bottom + gap, safe.right, safe.bottom),
        "left": (safe.left, safe.top, presenter.left - gap, safe.bottom),
        "right": (presenter.right + gap, safe.top, safe.right, safe.bottom),
    }
    regions = [(name, Box(left, top, right - left, bottom - top))
               for name, (left, top, right, bottom) in bounds.items() if right > left and bottom > top]
    return sorted(regions, key=lambda item: item[1].width * item[1].height, reverse=True)


def _block_size(lines: list[str], size: int) -> tuple[int, int]:
    pad = round(size * PADDING)
    width = max((text_width(line, size) for line in lines), default=0)
    return int(width + 0.999) + 2 * pad, len(lines) * round(size * LINE_HEIGHT) + 2 * pad


def _place(where: str, region: Box, width: int, height: int) -> Box:
    left = region.left + (region.width - width) // 2
    top = region.bottom - height if where == "below" else region.top
    return Box(left, top, width, height)


def _fit(text: str, size: int, where: str, region: Box) -> TextLayout | None:
    pad = round(size * PADDING)
    lines = wrap(text, size, region.width - 2 * pad)
    if not lines or len(lines) > MAX_LINES:
        return None
    width, height = _block_size(lines, size)
    if width > region.width or height > region.height:
        return None
    return TextLayout(_place(where, region, width, height), tuple(lines), size)


def _sizes(frame_w: int, frame_h: int) -> range:
    short = min(frame_w, frame_h)
    return range(round(short * MAX_SIZE_FRACTION), round(short * MIN_SIZE_FRACTION) - 1, -SIZE_STEP)


def _truncated(text: str, size: int, where: str, region: Box) -> TextLayout:
    """The smallest size, as many lines as fit the region (at least one), the last ending with an ellipsis."""
    pad = round(size * PADDING)
    lines = wrap(text, size, region.width - 2 * pad)
    room = max(1, min(MAX_LINES, (region.height - 2 * pad) // round(size * LINE_HEIGHT)))
    if len(lines) > room:
        kept = lines[:room]
        last = kept[-1]
        while last and text_width(last + ELLIPSIS, size) > region.width - 2 * pad:
            last = last[:-1].rstrip()
        kept[-1] = last + ELLIPSIS
        lines = kept
    width, height = _block_size(lines, size)
    return TextLayout(_place(where, region, min(width, region.width), height), tuple(lines), size)


def layout_text(text: str, frame_w: int, frame_h: int, presenter: Box | None, *,
                reserved: Box | None = None) -> TextLayout:
    """Where and how big ``text`` is drawn; the rule is in the module docstring. ``reserved``, a band across the
    top or the bottom of the safe area (the captions'), is kept clear as well."""
    safe = safe_area(frame_w, frame_h)
    if reserved is not None:
        safe = _without_band(safe, reserved, round(min(frame_w, frame_h) * GAP_FRACTION))
    gap = round(min(frame_w, frame_h) * GAP_FRACTION)
    regions = free_regions(safe, presenter, gap) or [("above", safe)]
    sizes = _sizes(frame_w, frame_h)
    for size in sizes:
        for where, region in regions:
            placed = _fit(text, size, where, region)
            if placed:
                return placed
    smallest = sizes[-1]
    one_line = round(smallest * LINE_HEIGHT) + 2 * round(smallest * PADDING)
    roomy = [(where, region) for where, region in regions if region.height >= one_line] or [("above", safe)]
    where, region = roomy[0]
    return _truncated(text, smallest, where, region)


# ----------------------------------------------------------------------------------------------- render


def render(layout: TextLayout, path: Path) -> Path:
    """The text block as a transparent PNG of exactly ``layout.box``'s size."""
    from PIL import Image, ImageDraw

    size = layout.font_size
    pad, line_h = round(size * PADDING), round(size * LINE_HEIGHT)
    image = Image.new("RGBA", (layout.box.width, layout.box.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, layout.box.width - 1, layout.box.height - 1), radius=pad,
                           fill=(0, 0, 0, BACKING_ALPHA))
    face = font(size)
    for n, line in enumerate(layout.lines):
        baseline_top = pad + n * line_h + (line_h - size) // 2
        draw.text((layout.box.width / 2, baseline_top), line, font=face, fill=(255, 255, 255, 255), anchor="ma")
    image.save(path, optimize=False, compress_level=1)
    return Path(path)
