"""Captions: the narration's words and their times, grouped into short lines, placed clear of the presenter's face,
styled for libass (which ``compose.compose_final`` burns in) and kept as SubRip and WebVTT files.

Words and times (``Word``)
    From the provider's subtitle file when there is one (HeyGen v3 sends a SubRip file with every render): each
    cue's words share its time in proportion to their length (``words_from_srt``). Without one, the script is
    aligned to the voice track (``alignment.py``), which times the words it knows and spreads the others the same
    way (``spread``).

Lines (``group``)
    A caption is at most two rows, each at most the caption area's width at the style's font size. A caption ends
    at the end of a sentence, at a pause longer than ``PAUSE_SECONDS``, after a comma once it has
    ``MIN_WORDS_BEFORE_COMMA`` words, and when the next word would not fit. Its rows are balanced (of the splits
    that fit, the one with the narrowest wider row), and a second row of one word is avoided when the caption has
    three words or more. A caption of a single word takes the previous caption's last word, when the two are in
    one sentence (no orphan words). A caption shows from its first word's start to its last word's end plus
    ``LINGER_SECONDS``, never past the next caption's start. A word too wide for a row on its own is squeezed
    horizontally to fit.

Placement (``area``)
    Captions go in a band across the safe area (``overlay.safe_area``), two rows high: at the bottom, or at the
    top. ``auto`` and ``bottom`` try the bottom first, ``top`` the top; a band that would cross the presenter's
    face (``geometry.face_of``) is never used: the other band is. (A face is at most half the frame high, so at
    least one band is always clear of it.)

Styles
    ``bold``: white bold text with a black outline. ``clean``: white text on a translucent dark box, a little
    smaller. ``karaoke``: as bold, each word filling with ``KARAOKE_HIGHLIGHT`` as it is spoken (ASS ``\\kf``).
    The font is the on-screen text's (``overlay.FONT_PATH``); characters it cannot draw are left out, so a caption
    never shows empty boxes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import overlay
from .geometry import Box, face_of

STYLES = ("bold", "clean", "karaoke")
POSITIONS = ("auto", "top", "bottom")
FONT_FAMILY = "DejaVu Sans"  # the family name inside overlay.FONT_PATH (libass finds it in its fontsdir)
SIZE_FRACTION = {"bold": 0.058, "clean": 0.05, "karaoke": 0.058}  # em, of the frame's short side
LINE_HEIGHT = 1.25  # x the em
OUTLINE_FRACTION = 0.08  # bold and karaoke: the outline, x the em
BOX_PADDING_FRACTION = 0.25  # clean: the box's padding, x the em
MAX_ROWS = 2
PAUSE_SECONDS = 0.4
MIN_WORDS_BEFORE_COMMA = 3
LINGER_SECONDS = 0.3
MIN_SECONDS = 0.05  # a caption is on screen for at least a frame
KARAOKE_HIGHLIGHT = (255, 212, 0)

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–][\"'”’)\]]*$")
_MARKUP = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Caption:
    rows: tuple[tuple[Word, ...], ...]
    start: float
    end: float

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for row in self.rows for word in row)

    @property
    def text(self) -> str:
        return "\n".join(" ".join(word.text for word in row) for row in self.rows)


@dataclass(frozen=True)
class Area:
    where: str  # "top" or "bottom"
    box: Box  # the band the captions are drawn in (rows centred across it)
    font_size: int  # em, in pixels


@dataclass(frozen=True)
class Track:
    """Styled captions for one frame size: what is burned in and what is downloadable."""

    captions: tuple[Caption, ...]
    area: Area
    style: str
    frame: tuple[int, int]

    def ssa(self):
        """The captions as an ASS script for libass, in frame pixels (saved as .srt or .vtt it is plain text)."""
        import pysubs2

        width, height = self.frame
        script = pysubs2.SSAFile()
        script.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "2",
                            "ScaledBorderAndShadow": "yes"})
        script.styles["Default"] = _ssa_style(self.style, self.area, self.frame)
        for caption in self.captions:
            script.append(pysubs2.SSAEvent(start=_ms(caption.start), end=_ms(caption.end),
                                           text=_event_text(caption, self.style, self.area)))
        return script

    def save(self, path: Path) -> Path:
        """Write the track as the file type ``path``'s suffix names: .ass, .srt or .vtt."""
        self.ssa().save(str(path), format_=path.suffix.lstrip("."))
        return path


# ----------------------------------------------------------------------------------------------- words and times


def display_words(text: str) -> list[str]:
    """The words of a script or a cue as they are shown: markup removed, split on white space."""
    return _MARKUP.sub(" ", text).split()


def spread(words: Sequence[str], start: float, end: float) -> list[Word]:
    """``words`` timed from ``start`` to ``end``, each in proportion to its length (a space included)."""
    weights = [len(word) + 1 for word in words]
    total = sum(weights) or 1
    timed, at = [], start
    for word, weight in zip(words, weights, strict=True):
        length = (end - start) * weight / total
        timed.append(Word(word, round(at, 3), round(at + length, 3)))
        at += length
    return timed


def words_from_srt(text: str) -> list[Word]:
    """The words of a SubRip file, each cue's words spread over its time; [] for a file with no cues."""
    import pysubs2

    try:
        cues = pysubs2.SSAFile.from_string(text, format_="srt")
    except Exception:  # a malformed file is no file: the caller falls back to the voice track
        return []
    words: list[Word] = []
    for cue in sorted(cues, key=lambda event: event.start):
        if cue.end > cue.start:
            words += spread(display_words(cue.plaintext), cue.start / 1000, cue.end / 1000)
    return words


# ----------------------------------------------------------------------------------------------- placement


def font_size(style: str, frame_w: int, frame_h: int) -> int:
    return round(min(frame_w, frame_h) * SIZE_FRACTION[style])


def _pad(style: str, size: int) -> int:
    return round(size * (BOX_PADDING_FRACTION if style == "clean" else OUTLINE_FRACTION))


def area(style: str, position: str, frame_w: int, frame_h: int, presenter: Box | None) -> Area:
    """Where the captions go; the rule is in the module docstring."""
    size = font_size(style, frame_w, frame_h)
    safe = overlay.safe_area(frame_w, frame_h)
    height = round(MAX_ROWS * LINE_HEIGHT * size) + 2 * _pad(style, size)
    bands = {"bottom": Box(safe.left, safe.bottom - height, safe.width, height),
             "top": Box(safe.left, safe.top, safe.width, height)}
    order = ["top", "bottom"] if position == "top" else ["bottom", "top"]
    face = face_of(presenter) if presenter is not None else None
    clear = [where for where in order if face is None or not bands[where].intersects(face)]
    where = clear[0] if clear else order[0]  # a face is at most half the frame high: one band is always clear
    return Area(where, bands[where], size)


# ----------------------------------------------------------------------------------------------- lines


def _width(words: Sequence[Word], size: int) -> float:
    return overlay.text_width(" ".join(word.text for word in words), size)


def rows_of(words: Sequence[Word], size: int, width: float) -> tuple[tuple[Word, ...], ...] | None:
    """The words as one row, or two balanced rows, each at most ``width``; None when they do not fit."""
    words = tuple(words)
    if len(words) == 1 or _width(words, size) <= width:
        return (words,)
    splits = [(words[:k], words[k:]) for k in range(1, len(words))]
    fitting = [rows for rows in splits if all(_width(row, size) <= width for row in rows)]
    if len(words) >= 3:
        fitting = [rows for rows in fitting if len(rows[1]) > 1] or fitting
    if not fitting:
        return None
    return min(fitting, key=lambda rows: max(_width(row, size) for row in rows))


def _breaks_after(previous: Word, following: Word, count: int) -> bool:
    return bool(_SENTENCE_END.search(previous.text)
                or following.start - previous.end > PAUSE_SECONDS
                or (_CLAUSE_END.search(previous.text) and count >= MIN_WORDS_BEFORE_COMMA))


def group(words: Sequence[Word], size: int, width: float) -> list[Caption]:
    """The words as captions; the rule is in the module docstring."""
    groups: list[list[Word]] = []
    for word in words:
        current = groups[-1] if groups else None
        if current and not _breaks_after(current[-1], word, len(current)) and rows_of([*current, word], size, width):
            current.append(word)
        else:
            groups.append([word])
    _adopt_orphans(groups, size, width)
    captions = []
    for n, group_words in enumerate(groups):
        start = group_words[0].start
        following = groups[n + 1][0].start if n + 1 < len(groups) else None
        end = group_words[-1].end + LINGER_SECONDS
        if following is not None:
            end = min(end, following)
        captions.append(Caption(rows_of(group_words, size, width) or (tuple(group_words),), start,
                                max(end, start + MIN_SECONDS)))
    return captions


def _adopt_orphans(groups: list[list[Word]], size: int, width: float) -> None:
    """A caption of one word, in the same sentence as the caption before it, joins it or takes its last word."""
    for n in range(1, len(groups)):
        previous, current = groups[n - 1], groups[n]
        if len(current) != 1 or _SENTENCE_END.search(previous[-1].text):
            continue
        if current[0].start - previous[-1].end > PAUSE_SECONDS:
            continue
        if rows_of([*previous, *current], size, width):
            previous.extend(current)
            current.clear()
        elif len(previous) >= 3:
            current.insert(0, previous.pop())
    groups[:] = [group_words for group_words in groups if group_words]


def track(words: Sequence[Word], *, style: str, position: str, frame_w: int, frame_h: int,
          presenter: Box | None) -> Track:
    """The captions of ``words``, styled and placed for a frame with the presenter at ``presenter``."""
    if style not in STYLES or position not in POSITIONS:
        raise ValueError(f"style must be one of {STYLES} and position one of {POSITIONS}")
    placed = area(style, position, frame_w, frame_h, presenter)
    drawable = [Word(text, word.start, word.end) for word in words if (text := drawable_text(word.text))]
    width = placed.box.width - 2 * _pad(style, placed.font_size)
    return Track(tuple(group(drawable, placed.font_size, width)), placed, style, (frame_w, frame_h))


def drawable_text(text: str) -> str:
    """``text`` without the characters the caption font cannot draw, nor ASS's markup characters."""
    allowed = overlay.drawable_code_points()
    text = text.replace("{", "(").replace("}", ")").replace("\\", "/")
    return "".join(char for char in text if ord(char) in allowed and not char.isspace())


# ----------------------------------------------------------------------------------------------- ASS


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@lru_cache(maxsize=1)
def _ass_scale() -> float:
    """ASS font sizes are the font's line height (ascent + descent), not its em: the factor from one to the other."""
    ascent, descent = overlay.font(1000).getmetrics()
    return (ascent + descent) / 1000


def _color(rgb: tuple[int, int, int], alpha: int = 0):
    import pysubs2

    return pysubs2.Color(*rgb, alpha)


def _ssa_style(style: str, placed: Area, frame: tuple[int, int]):
    import pysubs2

    width, height = frame
    box = placed.box
    white, black = (255, 255, 255), (0, 0, 0)
    common = {
        "fontname": FONT_FAMILY, "fontsize": round(placed.font_size * _ass_scale()), "bold": True,
        "primarycolor": _color(white), "secondarycolor": _color(white), "shadow": 0,
        "marginl": box.left + _pad(style, placed.font_size),
        "marginr": width - box.right + _pad(style, placed.font_size),
        "marginv": (height - box.bottom if placed.where == "bottom" else box.top) + _pad(style, placed.font_size),
        "alignment": pysubs2.Alignment.BOTTOM_CENTER if placed.where == "bottom" else pysubs2.Alignment.TOP_CENTER,
    }
    if style == "clean":
        return pysubs2.SSAStyle(**common, borderstyle=3, outline=_pad(style, placed.font_size),
                                outlinecolor=_color(black, 96), backcolor=_color(black, 96))
    outline = {"borderstyle": 1, "outline": _pad(style, placed.font_size), "outlinecolor": _color(black),
               "backcolor": _color(black)}
    if style == "karaoke":
        return pysubs2.SSAStyle(**{**common, "primarycolor": _color(KARAOKE_HIGHLIGHT)}, **outline)
    return pysubs2.SSAStyle(**common, **outline)


def _event_text(caption: Caption, style: str, placed: Area) -> str:
    size, width = placed.font_size, placed.box.width - 2 * _pad(style, placed.font_size)
    widest = max(_width(row, size) for row in caption.rows)
    squeeze = f"{{\\fscx{max(1, int(100 * width / widest))}}}" if widest > width else ""
    if style != "karaoke":
        return squeeze + "\\N".join(" ".join(word.text for word in row) for row in caption.rows)
    words = caption.words
    lead = f"{{\\k{_cs(words[0].start - caption.start)}}}" if words[0].start > caption.start else ""
    parts, index = [], 0
    for row in caption.rows:
        shown = []
        for word in row:
            index += 1
            until = words[index].start if index < len(words) else word.end
            shown.append(f"{{\\kf{_cs(until - word.start)}}}{word.text}")
        parts.append(" ".join(shown))
    return squeeze + lead + "\\N".join(parts)


def _cs(seconds: float) -> int:
    return max(0, round(seconds * 100))
