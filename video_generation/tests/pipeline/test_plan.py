"""The scene plan obeys Veo's extension limits for any list of scenes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from video_generation.pipeline import plan

durations = st.lists(st.sampled_from([4, 6, 8]), min_size=1, max_size=20)
SCENE = {"visual_description": "a", "camera_movement": "pan", "mood": "calm", "duration": 8}


def build(**arguments):
    """build_plan with the Veo choices of a standard, silent job unless a test says otherwise."""
    return plan.build_plan(**{"veo_model": "veo-3.1-generate-001", "generate_audio": False, **arguments})


@given(durations)
def test_every_chain_respects_the_extension_limits(scene_durations):
    for chain in plan.group_into_chains(scene_durations):
        lengths = [scene_durations[chain[0]] + plan.EXTENSION_SECONDS * i for i in range(len(chain))]
        assert all(length <= plan.MAX_EXTENSION_INPUT_SECONDS for length in lengths[:-1])  # every input ≤ 30 s
        assert lengths[-1] <= plan.MAX_CHAIN_SECONDS


@given(durations)
def test_chains_keep_every_scene_once_in_order(scene_durations):
    chains = plan.group_into_chains(scene_durations)
    assert [i for chain in chains for i in chain] == list(range(len(scene_durations)))


def test_the_brief_example_is_one_chain_of_22_seconds():
    assert plan.group_into_chains([8, 8, 8]) == [[0, 1, 2]]
    assert plan.broll_seconds([8, 8, 8], crossfade=0.5) == 22


def test_twenty_scenes_make_four_chains_of_five():
    assert [len(chain) for chain in plan.group_into_chains([8] * 20)] == [5, 5, 5, 5]


def test_an_extension_step_never_carries_the_image_and_depends_on_the_previous_scene():
    specs = {s.key: s for s in build(product_title="P", scenes=[
        {"visual_description": "a", "camera_movement": "zoom in", "mood": "warm", "duration": 6},
        {"visual_description": "b", "camera_movement": "pan", "mood": "cool", "duration": 8}],
        aspect_ratio="16:9", heygen_mode="v3")}
    assert specs["veo:c0:s0"].params["duration_seconds"] == 6 and specs["veo:c0:s0"].depends_on == ["image"]
    assert specs["veo:c0:s1"].depends_on == ["veo:c0:s0"] and "duration_seconds" not in specs["veo:c0:s1"].params
    assert specs["heygen:render"].depends_on == []  # v3: the presenter renders in parallel
    assert specs["compose"].depends_on == ["veo:c0:s1", "heygen:render"]


def test_legacy_v2_renders_the_presenter_after_uploading_the_broll():
    specs = {s.key: s for s in build(product_title="P", scenes=[
        {"visual_description": "a", "camera_movement": "c", "mood": "m", "duration": 8}] * 6,
        aspect_ratio="9:16", heygen_mode="v2")}
    assert specs["join"].depends_on == ["veo:c0:s4", "veo:c1:s5"]
    assert specs["heygen:upload"].depends_on == ["join"]
    assert specs["heygen:render"].depends_on == ["heygen:upload"]


OVERLAID_SCENE = {"visual_description": "on a desk", "camera_movement": "zoom in", "mood": "premium",
                  "text_overlay": "40 h battery", "duration": 8}


def test_the_prompt_carries_title_scene_camera_and_mood_but_not_the_overlay_by_default():
    prompt = plan.scene_prompt("Headphones", OVERLAID_SCENE)
    assert prompt == "Headphones | on a desk | zoom in | premium"


def test_the_prompt_carries_the_overlay_when_asked():
    prompt = plan.scene_prompt("Headphones", OVERLAID_SCENE, with_overlay=True)
    assert prompt == 'Headphones | on a desk | zoom in | premium | on-screen text: "40 h battery"'


@pytest.mark.parametrize(("flag", "mode", "in_prompt"), [
    (False, "v3", False), (True, "v3", True), (False, "v2", True)])
def test_veo_is_sent_the_overlay_only_when_the_scene_asks_or_in_v2(flag, mode, in_prompt):
    specs = build(product_title="P", scenes=[{**OVERLAID_SCENE, "overlay_in_prompt": flag}],
                  aspect_ratio="9:16", heygen_mode=mode)
    prompt = next(s for s in specs if s.key == "veo:c0:s0").params["prompt"]
    assert ("40 h battery" in prompt) is in_prompt


def test_scene_spans_follow_the_chains_and_split_each_crossfade_at_its_middle():
    durations = [8] * 7  # chains: scenes 0-4 (8 + 4 x 7 = 36 s) and 5-6 (8 + 7 = 15 s)
    spans = plan.scene_spans(durations, 0.5)
    assert spans[:5] == [(0.0, 8.0), (8.0, 15.0), (15.0, 22.0), (22.0, 29.0), (29.0, 35.75)]
    assert spans[5:] == [(35.75, 43.5), (43.5, 50.5)]
    assert spans[-1][1] == plan.broll_seconds(durations, 0.5)


def test_scene_spans_of_a_single_chain_start_with_the_first_scenes_own_duration():
    assert plan.scene_spans([4, 6, 8], 0.5) == [(0.0, 4.0), (4.0, 11.0), (11.0, 18.0)]


def test_legacy_v2_gets_the_centre_of_our_placement_box_as_heygens_offset():
    from video_generation.models import VideoJob
    from video_generation.pipeline.handlers import heygen_offset

    centred = heygen_offset(VideoJob(avatar_scale=0.5, avatar_x=0, avatar_y=0), 1280, 720)
    assert centred == (0.0, 0.0)
    top_left = heygen_offset(VideoJob(avatar_scale=0.8, avatar_x=-0.7, avatar_y=-0.8), 1280, 720)
    assert top_left == (-0.2617, -0.0806)  # box (143, 29, 324, 576) in 1280x720: centre up and to the left
    bottom_right = heygen_offset(VideoJob(avatar_scale=0.8, avatar_x=0.7, avatar_y=0.8), 720, 1280)
    assert bottom_right[0] > 0 and bottom_right[1] > 0


def keys_marked(specs, param):
    return [s.key for s in specs if s.params.get(param)]


def test_the_plan_names_the_step_that_yields_the_broll_and_every_step_that_uses_it():
    scene = {"visual_description": "a", "camera_movement": "pan", "mood": "calm", "duration": 8}
    one_chain = build(product_title="P", scenes=[scene] * 3, aspect_ratio="9:16", heygen_mode="v3")
    assert keys_marked(one_chain, plan.YIELDS_BROLL_PARAM) == ["veo:c0:s2"]
    assert {s.key: s.params[plan.BROLL_KEY_PARAM] for s in one_chain if plan.BROLL_KEY_PARAM in s.params} == {
        "compose": "veo:c0:s2"}

    two_chains = build(product_title="P", scenes=[scene] * 6, aspect_ratio="9:16", heygen_mode="v2")
    assert keys_marked(two_chains, plan.YIELDS_BROLL_PARAM) == ["join"]
    assert {s.key: s.params[plan.BROLL_KEY_PARAM] for s in two_chains if plan.BROLL_KEY_PARAM in s.params} == {
        "heygen:upload": "join", "compose": "join"}


def test_every_veo_step_carries_the_model_and_audio_it_renders_with():
    specs = build(product_title="P", scenes=[SCENE] * 6, aspect_ratio="9:16", heygen_mode="v3",
                  veo_model="veo-3.1-fast-generate-001", generate_audio=True)
    veo_steps = [s for s in specs if s.key.startswith("veo:")]
    assert len(veo_steps) == 6
    assert all(s.params[plan.VEO_MODEL_PARAM] == "veo-3.1-fast-generate-001" for s in veo_steps)
    assert all(s.params[plan.GENERATE_AUDIO_PARAM] is True for s in veo_steps)
    assert not any(plan.VEO_MODEL_PARAM in s.params for s in specs if not s.key.startswith("veo:"))


def test_a_silent_standard_plan_says_so_in_every_veo_step():
    specs = build(product_title="P", scenes=[SCENE] * 3, aspect_ratio="9:16", heygen_mode="v3")
    assert {(s.params[plan.VEO_MODEL_PARAM], s.params[plan.GENERATE_AUDIO_PARAM])
            for s in specs if s.key.startswith("veo:")} == {("veo-3.1-generate-001", False)}
