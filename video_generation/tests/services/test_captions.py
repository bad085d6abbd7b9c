"""Captions: words timed from a subtitle file, grouped into at most two short rows, placed clear of the face."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from video_generation.services import captions
from video_generation.services.geometry import Box, face_of
from video_generation.services.overlay import text_width

SCRIPT = ("Introducing our revolutionary wireless headphones. Forty hours of battery life keep the music going all "
          "week, and adaptive noise cancelling turns any commute into a quiet room. Order yours today.")
PORTRAIT_PRESENTER = Box(122, 230, 576, 1024)  # the default bottom_right placement of a 9:16 presenter


def track(words, **overrides):
    options = {"style": "bold", "position": "auto", "frame_w": 720, "frame_h": 1280,
               "presenter": PORTRAIT_PRESENTER, **overrides}
    return captions.track(words, **options)


def test_a_subtitle_files_cues_share_their_time_among_their_words_by_length():
    words = captions.words_from_srt("1\n00:00:01,000 --> 00:00:03,000\nto be\n\n2\n00:00:04,000 --> 00:00:05,000\n"
                                    "ok\n")
    assert [(w.text, w.start, w.end) for w in words] == [("to", 1.0, 2.0), ("be", 2.0, 3.0), ("ok", 4.0, 5.0)]


@pytest.mark.parametrize("junk", ["", "not a subtitle file", "1\n00:00:05,000 --> 00:00:01,000\nbackwards\n"])
def test_a_subtitle_file_without_usable_cues_gives_no_words(junk):
    assert captions.words_from_srt(junk) == []


def test_every_caption_is_at_most_two_rows_that_fit_the_caption_area():
    made = track(captions.spread(captions.display_words(SCRIPT), 0.0, 14.0))
    width = made.area.box.width
    assert made.captions
    for caption in made.captions:
        assert 1 <= len(caption.rows) <= 2
        assert all(text_width(" ".join(w.text for w in row), made.area.font_size) <= width for row in caption.rows)


def test_the_words_are_all_there_in_order():
    words = captions.spread(captions.display_words(SCRIPT), 0.0, 14.0)
    assert [w.text for c in track(words).captions for w in c.words] == [w.text for w in words]


def test_a_caption_ends_with_its_sentence():
    made = track(captions.spread(captions.display_words(SCRIPT), 0.0, 14.0))
    for caption in made.captions[:-1]:
        inner = [w.text for w in caption.words[:-1]]
        assert not any(re.search(r"[.!?]$", text) for text in inner)
    assert "today." == made.captions[-1].words[-1].text


def test_no_caption_is_a_lonely_word_from_the_middle_of_a_sentence():
    words = captions.spread("one two three four five six seven eight nine ten eleven twelve thirteen".split(),
                            0.0, 6.0)
    made = track(words)
    assert all(len(caption.words) > 1 for caption in made.captions)
    for caption in made.captions:
        if len(caption.words) >= 3:
            assert len(caption.rows[-1]) > 1


def test_a_pause_starts_a_new_caption():
    words = [captions.Word("hello", 0.0, 0.5), captions.Word("there", 0.5, 1.0), captions.Word("again", 2.0, 2.5),
             captions.Word("friend", 2.5, 3.0)]
    made = track(words)
    assert [[w.text for w in c.words] for c in made.captions] == [["hello", "there"], ["again", "friend"]]
    assert made.captions[0].end == pytest.approx(1.3)  # lingers 0.3 s, well before the next


def test_captions_never_overlap_in_time():
    made = track(captions.spread(captions.display_words(SCRIPT), 0.0, 14.0))
    for before, after in zip(made.captions, made.captions[1:], strict=False):
        assert before.end <= after.start


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-1, 1), y=st.floats(-1, 1), scale=st.floats(0.2, 1.0), position=st.sampled_from(captions.POSITIONS),
       portrait=st.booleans())
def test_the_caption_area_never_crosses_the_presenters_face(x, y, scale, position, portrait):
    from video_generation.services.compose import Placement, presenter_box

    w, h = (720, 1280) if portrait else (1280, 720)
    presenter = presenter_box(w, h, 360, 640, Placement(scale, x, y))
    area = captions.area("bold", position, w, h, presenter)
    assert not area.box.intersects(face_of(presenter))


def test_auto_and_bottom_move_to_the_top_when_the_face_is_low():
    low_presenter = Box(260, 1000, 200, 280)  # small, at the bottom: its face reaches into the bottom band
    assert captions.area("bold", "auto", 720, 1280, low_presenter).where == "top"
    assert captions.area("bold", "bottom", 720, 1280, low_presenter).where == "top"
    assert captions.area("bold", "top", 720, 1280, PORTRAIT_PRESENTER).where == "top"


def test_top_is_honoured_unless_it_crosses_the_face():
    high_presenter = Box(122, 0, 576, 1024)  # top_right-ish: the face is at the top
    assert captions.area("bold", "top", 720, 1280, high_presenter).where == "bottom"


def test_emoji_and_markup_characters_are_left_out_never_drawn_as_boxes():
    words = [captions.Word("great😀", 0, 1), captions.Word("{\\b1}x", 1, 2), captions.Word("😀", 2, 3)]
    assert [w.text for c in track(words).captions for w in c.words] == ["great", "(/b1)x"]


def test_karaoke_lights_each_word_for_the_time_until_the_next():
    words = [captions.Word("one", 1.0, 1.4), captions.Word("two", 1.5, 2.0)]
    ass = track(words, style="karaoke").ssa().to_string("ass")
    assert r"{\kf50}one {\kf50}two" in ass


def test_the_downloads_are_plain_srt_and_vtt(tmp_path):
    made = track([captions.Word("Order", 0.4, 0.8), captions.Word("today.", 0.8, 1.2)], style="karaoke")
    srt = made.save(tmp_path / "c.srt").read_text()
    vtt = made.save(tmp_path / "c.vtt").read_text()
    assert "00:00:00,400 --> 00:00:01,500\nOrder today." in srt and "\\k" not in srt
    assert vtt.startswith("WEBVTT") and "00:00:00.400 --> 00:00:01.500" in vtt


def test_an_unknown_style_is_refused():
    with pytest.raises(ValueError):
        track([], style="comic")
