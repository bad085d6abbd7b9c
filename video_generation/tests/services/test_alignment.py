"""The script aligned offline to a voice (pocketsphinx): checked against speech whose sentence times are known
(the sandbox's TTS, spoken sentence by sentence)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sandbox.render import SAMPLE_RATE, speak_timed, write_wav
from video_generation.services import alignment

SCRIPT = ("Introducing our revolutionary Zorblax headphones. Forty hours of battery life keep the music going all "
          "week. Order yours today.")


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> tuple[Path, list]:
    audio, cues = speak_timed(SCRIPT)
    path = tmp_path_factory.mktemp("voice") / "voice.wav"
    write_wav(path, audio, SAMPLE_RATE)
    return path, cues


def test_every_word_of_the_script_is_timed_in_order(voice):
    words = alignment.align(SCRIPT, voice[0])
    assert [w.text for w in words] == SCRIPT.split()
    assert all(w.start < w.end for w in words)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(words, words[1:], strict=False))


def test_each_sentence_starts_and_ends_where_the_voice_says_it(voice):
    words = alignment.align(SCRIPT, voice[0])
    firsts = [words[0], words[5], words[16]]
    lasts = [words[4], words[15], words[18]]
    for (start, end, _), first, last in zip(voice[1], firsts, lasts, strict=True):
        assert abs(first.start - start) < 0.15
        assert abs(last.end - end) < 0.15


def test_a_word_the_dictionary_does_not_know_is_timed_between_its_neighbours(voice):
    words = {w.text: w for w in alignment.align(SCRIPT, voice[0])}
    assert words["revolutionary"].end <= words["Zorblax"].start < words["Zorblax"].end <= words["headphones."].start


def test_it_is_quick(voice):
    started = time.monotonic()
    alignment.align(SCRIPT, voice[0])
    assert time.monotonic() - started < 10  # a generous ceiling on a shared machine (0.7 s measured)


def test_an_unreadable_file_gives_no_words(tmp_path):
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"not media")
    assert alignment.align(SCRIPT, junk) == []
