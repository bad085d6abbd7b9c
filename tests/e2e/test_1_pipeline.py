"""The happy paths through real processes: the headphones brief, 1/3/6/20 scenes, v3 and v2, 9:16 and 16:9, an
avatar without matting. All jobs are submitted together (module fixture) so they overlap; each test waits for its
own and checks the downloaded file."""

from __future__ import annotations

import pytest

from video_generation.pipeline.plan import broll_seconds

from .conftest import assert_forward_only, assert_unique_paid_calls
from .media import (
    backing_shade,
    caption_band,
    caption_ink,
    expected_box,
    frames_at,
    key_green_fraction,
    presenter_pixels,
    probe,
    text_region,
)

pytestmark = pytest.mark.e2e

CROSSFADE = 0.5
SHORT_SCRIPT = "Premium sound, all day comfort. Order yours today."  # shorter than any B-roll here


def chain_lengths(scenes: int, seconds: int = 8) -> list[int]:
    """The B-roll's chains, computed independently of the product: a chain starts with one scene and each extension
    adds 7 s while the chain is at most 30 s long (an extension input limit; 37 s result limit)."""
    chains: list[int] = []
    for _ in range(scenes):
        if chains and chains[-1] <= 30 and chains[-1] + 7 <= 37:
            chains[-1] += 7
        else:
            chains.append(seconds)
    return chains


def plan_seconds(scenes: int, seconds: int = 8) -> float:
    """The B-roll plan: the chains joined with a 0.5 s crossfade. For 8 s scenes that is 8 + 7 x (n - 1) per chain
    of up to five."""
    chains = chain_lengths(scenes, seconds)
    return sum(chains) - CROSSFADE * (len(chains) - 1)


def veo_operations(scenes: int, seconds: int, script: str) -> int:
    """One Veo operation per scene and, as broll_fit `extend` (the default) asks, one more 7 s extension of the last
    chain at a time until the B-roll covers the narration estimated from the script's words at 150 a minute. (No
    job here needs a further padding chain.)"""
    chains = chain_lengths(scenes, seconds)
    narration = len(script.split()) * 60 / 150
    operations = scenes
    while sum(chains) - CROSSFADE * (len(chains) - 1) < narration:
        assert chains[-1] <= 30, "a further padding chain: not computed here"
        chains[-1] += 7
        operations += 1
    return operations


def test_plan_arithmetic_matches_the_product():
    # The expectations below are computed independently; make sure they agree with the product's own plan.
    for n in (1, 3, 5, 6, 20):
        for seconds in (4, 6, 8):
            assert plan_seconds(n, seconds) == broll_seconds([seconds] * n, CROSSFADE)
    assert plan_seconds(3) == 22 and plan_seconds(6) == 43.5 and plan_seconds(20) == 142.5
    assert plan_seconds(6, 4) == 35.5 and plan_seconds(20, 4) == 126.5


# Scene length: the sandbox renders every frame, so most jobs use 4 s scenes (the plan's arithmetic is the same:
# a chain grows by 7 s per extension). The headphones brief keeps its 8 s scenes.
JOBS = {
    # name: (scenes, scene seconds, brief kwargs, API mode)
    "headphones": (3, 8, {}, "v3"),
    "one": (1, 8, {"script": SHORT_SCRIPT}, "v3"),
    "six": (6, 4, {"script": SHORT_SCRIPT}, "v3"),
    "twenty": (20, 4, {"script": SHORT_SCRIPT}, "v3"),
    "v3_landscape": (1, 4, {"aspect_ratio": "16:9", "avatar_position": "top_left"}, "v3"),
    "v2_landscape": (1, 4, {"aspect_ratio": "16:9", "avatar_position": "top_left"}, "v2"),
    "no_matting": (1, 4, {"avatar_id": "anna_studio_nomatting", "voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54"},
                   "v3"),
}


# On-screen text, drawn by the compositor: (scene, text) per job.
OVERLAYS = {"headphones": (1, "40 h battery, all-day comfort"), "v3_landscape": (0, "40 h battery")}


def make_brief(e2e, name: str) -> dict:
    scenes, seconds, kwargs, _ = JOBS[name]
    brief = e2e.brief(scenes=scenes, **kwargs)
    for scene in brief["scenes"]:
        scene["duration"] = seconds
    if name in OVERLAYS:
        index, text = OVERLAYS[name]
        brief["scenes"][index]["text_overlay"] = text
    return brief


@pytest.fixture(scope="module")
def jobs(e2e):
    start = len(e2e.ledger())
    ids = {}
    # The 20-scene job has the longest critical path: submit it first. Only the headphones job is watched at the
    # finest interval (0.3 s); the rest every second, to spare the 2 shared cores.
    for name in sorted(JOBS, key=lambda n: n != "twenty"):
        ids[name] = e2e.submit(make_brief(e2e, name), mode=JOBS[name][3],
                               interval=0.3 if name == "headphones" else 1.0)
    yield ids, start


def finished(e2e, jobs, name, tmp_path, timeout=400.0):
    ids, _ = jobs
    job = e2e.wait(ids[name], timeout)
    assert job["status"] == "completed", (job["status"], job.get("error_message"), job.get("steps"))
    path = e2e.download(job, tmp_path / f"{name}.mp4")
    return job, path, probe(path)


def presenter_seconds(e2e, job_id) -> float:
    """The presenter render's own duration, as HeyGen (the sandbox) reports it."""
    for entry in e2e.heygen_renders(job_id):
        mode = "v3" if entry["kind"] == "heygen.v3.create" else "v2"
        return float(e2e.heygen_video(entry["id"], mode)["duration"])
    raise AssertionError(f"no HeyGen render in the ledger for job {job_id}")


def assert_presenter_in(frame, box, elsewhere) -> None:
    inside, outside = presenter_pixels(frame, box), presenter_pixels(frame, elsewhere)
    assert inside > 2000, f"no presenter pixels in the expected box {box} ({inside})"
    assert outside < inside * 0.02, f"presenter-coloured pixels outside the box: {outside} vs {inside} inside"


@pytest.mark.timeout(600)
def test_the_headphones_brief_completes(e2e, jobs, tmp_path):
    ids, _ = jobs
    job, path, info = finished(e2e, jobs, "headphones", tmp_path)
    obs = e2e.observed[ids["headphones"]]

    # Status only forward through the brief's statuses, progress never down, ends at 100.
    assert_forward_only(obs)
    seen = obs.distinct_statuses()
    assert seen[-1] == "completed" and "processing_veo" in seen and "composing" in seen, seen
    assert set(seen) <= {"pending", "processing_veo", "processing_heygen", "composing", "completed"}, seen
    assert obs.progress[-1] == 100 and job["progress"] == 100
    assert len(obs.progress) > 5, "watched too few times to say anything about the order"

    # The file: long enough for both the spoken script and the B-roll plan, 720x1280, with sound.
    words = len(make_brief(e2e, "headphones")["avatar_script"].split())
    spoken = presenter_seconds(e2e, ids["headphones"])
    assert spoken >= words / 3.5
    assert info.duration >= spoken - 0.1, (info.duration, spoken)
    assert info.duration >= plan_seconds(3) - 0.1, (info.duration, plan_seconds(3))
    assert info.duration <= max(spoken, plan_seconds(3)) + 0.6
    assert (info.width, info.height) == (720, 1280)
    assert info.has_audio

    # The presenter is where bottom_right puts it: inside its box, and the top-left corner of the frame is
    # free of it. (bottom_right = scale 0.8, x 0.7, y 0.8.)
    box = expected_box(720, 1280, 0.8, 0.7, 0.8)
    top_left = type(box)(0, 0, box.left, box.top)
    for frame in frames_at(path, [2.0, 6.0, 12.0]):
        inside = presenter_pixels(frame, box)
        assert inside > 5000, inside
        assert presenter_pixels(frame, top_left) < 50
        # And it sits in the bottom-right quadrant rather than anywhere in the box.
        lower_right = type(box)(360, 640, 360, 640)
        upper_left = type(box)(0, 0, 360, 640)
        assert presenter_pixels(frame, lower_right) > 10 * max(1, presenter_pixels(frame, upper_left))


@pytest.mark.timeout(600)
def test_the_headphones_video_carries_captions_of_its_script_timed_to_the_voice(e2e, jobs, tmp_path):
    import pysubs2

    job, path, info = finished(e2e, jobs, "headphones", tmp_path)
    srt = e2e.http.get(job["captions_srt_url"], follow_redirects=True)
    vtt = e2e.http.get(job["captions_vtt_url"], follow_redirects=True)
    assert srt.status_code == vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    cues = pysubs2.SSAFile.from_string(srt.text, format_="srt")
    script = make_brief(e2e, "headphones")["avatar_script"]
    assert " ".join(cue.plaintext.replace("\n", " ") for cue in cues).split() == script.split()
    assert all(len(cue.plaintext.split("\n")) <= 2 for cue in cues)
    assert cues[-1].end / 1000 <= info.duration + 0.01

    band = caption_band(720, 1280, expected_box(720, 1280, 0.8, 0.7, 0.8))
    middle_of_second = (cues[1].start + cues[1].end) / 2000
    (silent, spoken) = frames_at(path, [cues[0].start / 1000 - 0.15, middle_of_second])
    white_before, _ = caption_ink(silent, band)
    white, black = caption_ink(spoken, band)
    assert white > 800 and black > 800 and white > 3 * max(white_before, 1), (white_before, white, black)


@pytest.mark.timeout(600)
def test_the_headphones_text_shows_in_its_scene_only_and_clear_of_the_presenter(e2e, jobs, tmp_path):
    _, path, _ = finished(e2e, jobs, "headphones", tmp_path)
    presenter = expected_box(720, 1280, 0.8, 0.7, 0.8)
    text = text_region(OVERLAYS["headphones"][1], 720, 1280, presenter)
    assert not text.intersects(presenter)
    before, during, after = (backing_shade(f, text) for f in frames_at(path, [4.0, 11.5, 18.5]))  # 8-15 s
    assert during < 0.6, (before, during, after)
    assert 0.75 < before < 1.33 and 0.75 < after < 1.33, (before, during, after)  # the B-roll shades a little


@pytest.mark.timeout(600)
def test_the_landscape_text_shows_clear_of_the_presenter(e2e, jobs, tmp_path):
    _, path, _ = finished(e2e, jobs, "v3_landscape", tmp_path)
    presenter = expected_box(1280, 720, 0.8, -0.7, -0.8)
    text = text_region(OVERLAYS["v3_landscape"][1], 1280, 720, presenter)
    assert not text.intersects(presenter)
    (frame,) = frames_at(path, [2.0])
    assert backing_shade(frame, text) < 0.6


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name,chains", [("one", 1), ("six", 2), ("twenty", 4)])
def test_scene_counts_follow_the_plan(e2e, jobs, tmp_path, name, chains):
    ids, _ = jobs
    scenes, seconds = JOBS[name][:2]
    job, path, info = finished(e2e, jobs, name, tmp_path, timeout=600)
    assert_forward_only(e2e.observed[ids[name]])
    expected = plan_seconds(scenes, seconds)
    spoken = presenter_seconds(e2e, ids[name])
    assert spoken < expected  # the B-roll is the longer one, so the duration is the plan's
    assert abs(info.duration - expected) <= 0.35, (info.duration, expected)
    assert (info.width, info.height) == (720, 1280) and info.has_audio
    # One Veo operation per scene, in the chains the plan says.
    outputs = e2e.veo_outputs_by_step(ids[name])
    assert sum(outputs.values()) == scenes and set(outputs.values()) == {1}, outputs
    assert len({slug.split("-")[1] for slug in outputs}) == chains, outputs
    steps = {s["key"] for s in job["steps"]}
    assert ("join" in steps) == (chains > 1)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["v3_landscape", "v2_landscape"])
def test_landscape_top_left(e2e, jobs, tmp_path, name):
    ids, _ = jobs
    job, path, info = finished(e2e, jobs, name, tmp_path)
    assert_forward_only(e2e.observed[ids[name]])
    assert (info.width, info.height) == (1280, 720) and info.has_audio
    spoken = presenter_seconds(e2e, ids[name])
    assert info.duration >= max(spoken, plan_seconds(1, 4)) - 0.1
    steps = {s["key"] for s in job["steps"]}
    assert ("heygen:upload" in steps) == (name.startswith("v2")), steps
    box = expected_box(1280, 720, 0.8, -0.7, -0.8)  # top_left
    right_half = type(box)(700, 0, 580, 720)
    for frame in frames_at(path, [2.0, 6.0]):
        assert_presenter_in(frame, box, right_half)


@pytest.mark.timeout(600)
def test_avatar_without_matting_uses_the_key_colour_and_removes_it(e2e, jobs, tmp_path):
    ids, _ = jobs
    job, path, info = finished(e2e, jobs, "no_matting", tmp_path)
    # The product asked for a transparent webm, was told the avatar has no matting, and fell back to an mp4 on
    # the key colour: the sandbox's ledger shows one paid render for this job, made as mp4.
    renders = e2e.heygen_renders(ids["no_matting"])
    assert len(renders) == 1, renders
    assert e2e.heygen_video(renders[0]["id"])["output_format"] == "mp4"
    assert (info.width, info.height) == (720, 1280) and info.has_audio
    box = expected_box(720, 1280, 0.8, 0.7, 0.8)
    for frame in frames_at(path, [1.0, 4.0, 7.0]):
        assert key_green_fraction(frame) < 0.002, key_green_fraction(frame)
        assert presenter_pixels(frame, box) > 5000


def test_every_paid_call_of_this_module_was_made_once(e2e, jobs):
    ids, start = jobs
    e2e.wait_all(ids.values(), 600)
    entries = e2e.ledger()[start:]
    assert_unique_paid_calls(entries)
    veo = [e for e in entries if e["kind"].startswith("veo.")]
    planned = sum(veo_operations(*JOBS[name][:2], make_brief(e2e, name)["avatar_script"]) for name in JOBS)
    # the three 4 s one-scene jobs speak the 19.2 s headphones script: 4 + 3 x 7 = 25 s of B-roll covers it
    assert planned == sum(JOBS[name][0] for name in JOBS) + 3 * 3
    assert len(veo) == planned, (len(veo), planned)
    heygen = [e2e.heygen_job_of(e) for e in entries if e["kind"].startswith("heygen.")]
    assert sorted(heygen) == sorted(ids.values())
