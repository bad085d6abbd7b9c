"""The known script aligned to the voice that speaks it, offline: the captions' word times when the provider sends
none (no subtitle file, or one that cannot be read).

pocketsphinx (its US English acoustic model and dictionary ship in the wheel) force-aligns the words its
dictionary knows to the voice track, decoded to 16 kHz mono with PyAV. A word it does not know (a product name, a
number written as digits) is timed with its neighbours: the run of unknown words and the known words on either side
share those known words' time in proportion to their length (``captions.spread``). When nothing can be aligned
(no word known, no audio, the aligner fails), the whole script is spread over the voice's length.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .captions import Word, display_words, spread

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAMES_PER_SECOND = 100  # pocketsphinx's default frame rate: segment times are in these frames
_SPOKEN = re.compile(r"[^a-z0-9']+")


def spoken_form(word: str) -> str:
    """How a displayed word is looked up in the dictionary: lower case, letters, digits and apostrophes."""
    return _SPOKEN.sub("", word.lower().replace("’", "'")).strip("'")


def voice_pcm(path: Path) -> tuple[bytes, float]:
    """The first audio stream of ``path`` as 16 kHz mono signed 16-bit PCM, and its length in seconds."""
    import av

    chunks = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return b"", 0.0
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(container.streams.audio[0]):
            chunks += [out.to_ndarray().tobytes() for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().tobytes() for out in resampler.resample(None)]
    pcm = b"".join(chunks)
    return pcm, len(pcm) / 2 / SAMPLE_RATE


def align(script: str, voice: Path) -> list[Word]:
    """The script's displayed words timed against the voice in ``voice`` (the rule is in the module docstring)."""
    words = display_words(script)
    if not words:
        return []
    import av

    try:
        pcm, seconds = voice_pcm(voice)
    except (av.FFmpegError, OSError) as exc:
        logger.warning("no voice to align the captions to (%s)", type(exc).__name__)
        return []
    if not pcm:
        return []
    try:
        times = _aligned_times(words, pcm)
    except Exception as exc:  # the aligner is a nicety: never the reason a video is not delivered
        logger.warning("caption alignment failed (%s); words spread over the voice", type(exc).__name__)
        times = {}
    return _fill_unknown(words, times, seconds)


def _aligned_times(words: list[str], pcm: bytes) -> dict[int, tuple[float, float]]:
    """Per index of ``words``: (start, end) of the words the dictionary knows, as aligned."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
    known = [(index, spoken) for index, word in enumerate(words)
             if (spoken := spoken_form(word)) and decoder.lookup_word(spoken)]
    if not known:
        return {}
    decoder.set_align_text(" ".join(spoken for _, spoken in known))
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    segments = [segment for segment in decoder.seg() if not segment.word.startswith(("<", "["))]
    if len(segments) != len(known):
        return {}
    return {index: (segment.start_frame / FRAMES_PER_SECOND, (segment.end_frame + 1) / FRAMES_PER_SECOND)
            for (index, _), segment in zip(known, segments, strict=True)}


def _fill_unknown(words: list[str], times: dict[int, tuple[float, float]], seconds: float) -> list[Word]:
    """Every word timed: aligned ones as they are, each run of others sharing its known neighbours' time."""
    if not times:
        return spread(words, 0.0, seconds)
    timed: list[Word | None] = [Word(word, *times[n]) if n in times else None for n, word in enumerate(words)]
    n = 0
    while n < len(words):
        if timed[n] is not None:
            n += 1
            continue
        first = n
        while n < len(words) and timed[n] is None:
            n += 1
        low = first - 1 if first > 0 else first  # the known word before the run, if any
        high = n if n < len(words) else n - 1  # and the one after it
        start = timed[low].start if timed[low] is not None else 0.0
        end = timed[high].end if timed[high] is not None else seconds
        for offset, word in enumerate(spread(words[low:high + 1], start, end)):
            timed[low + offset] = word
        n = high + 1
    return [word for word in timed if word is not None]
