"""The scene plan obeys Veo's extension limits for any list of scenes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from video_generation.pipeline import plan

durations = st.lists(st.sampled_from([4, 6, 8]), min_size=1, max_size=20)
SCENE = {"visual_description": "a", "camera_movement": "pan", "mood": "calm", "duration": 8}


def build(**arguments):
    """build_plan with the Veo choices of a standard, silent, continuous job whose narration needs no padding, unless
    a test says otherwise."""
    return plan.build_plan(**{"veo_model": "veo-3.1-generate-001", "generate_audio": False,
                              "scene_transitions": "continuous", "broll_fit": "extend", "narration_seconds": 5.0,
                              "crossfade": 0.5, **arguments})


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


# --- broll_fit extend: padding clips so that the B-roll covers the narration ------------------------------------

def chains_for(durations, narration, *, fit="extend", transitions="continuous", crossfade=0.5):
    return plan.broll_chains(durations, transitions=transitions, broll_fit=fit, narration_seconds=narration,
                             crossfade=crossfade)


def padding_of(chains):
    return [(n, clip.seconds) for n, chain in enumerate(chains) for clip in chain if clip.padding]


@pytest.mark.parametrize(("narration", "padding", "broll"), [
    (19.2, [], 22),  # the headphones brief: its 22 s of scenes cover the narration
    (22.0, [], 22),
    (22.1, [(0, 7)], 29),  # one extension of the last scene
    (29.5, [(0, 7), (0, 7)], 36),  # the chain is full at 36 s (its input would be over 30 s)
    (36.1, [(0, 7), (0, 7), (1, 4)], 39.5),  # a further chain: the shortest clip covering 0.1 s + the crossfade
    (41.0, [(0, 7), (0, 7), (1, 6)], 41.5),
    (44.0, [(0, 7), (0, 7), (1, 4), (1, 7)], 46.5),  # 8.5 s more: no clip alone covers it; 4 + 7 bills least
    (80.0, [(0, 7), (0, 7), (1, 8), (1, 7), (1, 7), (1, 7), (1, 7), (2, 4), (2, 7)], 36 + 36 + 11 - 1.0),
])
def test_extend_adds_padding_clips_only_until_the_broll_covers_the_narration(narration, padding, broll):
    chains = chains_for([8, 8, 8], narration)
    assert padding_of(chains) == padding
    assert plan.joined_seconds(chains, 0.5) == broll
    assert all(clip.scene == 2 for chain in chains for clip in chain if clip.padding)  # more of the last scene


@pytest.mark.parametrize("fit", ["loop", "hold"])
def test_loop_and_hold_never_pad(fit):
    assert padding_of(chains_for([8, 8, 8], 120.0, fit=fit)) == []


@given(durations, st.floats(min_value=0, max_value=400), st.sampled_from(["continuous", "cuts"]))
def test_padding_covers_the_narration_within_the_chain_limits_and_no_clip_is_spare(scene_durations, narration,
                                                                                    transitions):
    narration = round(narration, 1)
    chains = chains_for(scene_durations, narration, transitions=transitions)
    for chain in chains:
        lengths = [plan.clips_seconds(chain[: n + 1]) for n in range(len(chain))]
        assert all(length <= plan.MAX_EXTENSION_INPUT_SECONDS for length in lengths[:-1])  # every input ≤ 30 s
        assert lengths[-1] <= plan.MAX_CHAIN_SECONDS
        assert chain[0].seconds in (4, 6, 8) and all(clip.seconds == plan.EXTENSION_SECONDS for clip in chain[1:])
    scenes = plan.scene_chains(scene_durations, transitions)
    assert [chain[: len(own)] for chain, own in zip(chains, scenes, strict=False)] == scenes  # scenes first, unchanged
    broll = plan.joined_seconds(chains, 0.5)
    assert broll >= narration
    if padding_of(chains):  # without its last padding clip the B-roll would fall short
        shorter = [chain for chain in [*chains[:-1], chains[-1][:-1]] if chain]
        assert plan.joined_seconds(shorter, 0.5) < narration


def test_padding_steps_continue_the_last_scene_with_its_prompt_and_keys_of_their_own():
    scenes = [{**SCENE, "visual_description": name} for name in ("first", "second", "last")]
    specs = build(product_title="P", scenes=scenes, aspect_ratio="9:16", heygen_mode="v3", narration_seconds=44.0)
    veo = {s.key: s for s in specs if s.provider == "veo"}
    assert list(veo) == ["veo:c0:s0", "veo:c0:s1", "veo:c0:s2", "veo:c0:s2:pad1", "veo:c0:s2:pad2",
                         "veo:c1:s2:pad3", "veo:c1:s2:pad4"]
    last_prompt = veo["veo:c0:s2"].params["prompt"]
    for key in ("veo:c0:s2:pad1", "veo:c0:s2:pad2", "veo:c1:s2:pad3", "veo:c1:s2:pad4"):
        assert veo[key].params["prompt"] == last_prompt and veo[key].params[plan.PADDING_PARAM] is True
        assert veo[key].scene_index == 2
    assert veo["veo:c0:s2:pad1"].depends_on == ["veo:c0:s2"] and veo["veo:c0:s2:pad1"].kind == "veo_extend"
    assert veo["veo:c1:s2:pad3"].depends_on == ["image"] and veo["veo:c1:s2:pad3"].kind == "veo_generate"
    assert veo["veo:c1:s2:pad3"].params["duration_seconds"] == 4
    assert veo["veo:c0:s2:pad2"].params["expected_seconds"] == 36
    assert not any(plan.PADDING_PARAM in s.params for s in veo.values() if ":pad" not in s.key)
    specs_by_key = {s.key: s for s in specs}
    assert specs_by_key["join"].depends_on == ["veo:c0:s2:pad2", "veo:c1:s2:pad4"]
    assert specs_by_key["compose"].params[plan.BROLL_KEY_PARAM] == "join"


def test_a_single_padded_chain_yields_the_broll_from_its_last_padding_clip():
    specs = build(product_title="P", scenes=[SCENE] * 3, aspect_ratio="9:16", heygen_mode="v3", narration_seconds=25)
    assert keys_marked(specs, plan.YIELDS_BROLL_PARAM) == ["veo:c0:s2:pad1"]
    assert {s.key: s for s in specs}["compose"].depends_on == ["veo:c0:s2:pad1", "heygen:render"]


def test_padding_belongs_to_no_scene_so_the_scene_spans_do_not_depend_on_the_narration():
    # Spans are of the scenes alone; the compositor runs the last scene's text to the end of the video (handlers).
    assert plan.scene_spans([8, 8, 8], 0.5) == [(0.0, 8.0), (8.0, 15.0), (15.0, 22.0)]
    assert plan.broll_seconds([8, 8, 8], 0.5) == 22
    assert plan.joined_seconds(chains_for([8, 8, 8], 44.0), 0.5) == 46.5


# --- scene_transitions cuts: every scene generated from the image at once ---------------------------------------

def test_cuts_make_every_scene_a_chain_of_its_own():
    assert plan.group_into_chains([8, 6, 4], "cuts") == [[0], [1], [2]]
    assert plan.broll_seconds([8, 6, 4], 0.5, "cuts") == 8 + 6 + 4 - 2 * 0.5


def test_cuts_generate_every_scene_from_the_image_and_join_them_once():
    specs = build(product_title="P", scenes=[SCENE] * 3, aspect_ratio="9:16", heygen_mode="v3",
                  scene_transitions="cuts")
    veo = [s for s in specs if s.provider == "veo"]
    assert [(s.key, s.kind, s.depends_on, s.params["duration_seconds"]) for s in veo] == [
        (f"veo:c{n}:s{n}", "veo_generate", ["image"], 8) for n in range(3)]
    joins = [s for s in specs if s.kind == "join_broll"]
    assert [(s.key, s.depends_on) for s in joins] == [("join", ["veo:c0:s0", "veo:c1:s1", "veo:c2:s2"])]
    assert keys_marked(specs, plan.YIELDS_BROLL_PARAM) == ["join"]


def test_cut_scenes_spans_split_each_crossfade_at_its_middle():
    spans = plan.scene_spans([8, 6, 4], 0.5, "cuts")
    assert spans == [(0.0, 7.75), (7.75, 13.25), (13.25, 17.0)]
    assert spans[-1][1] == plan.broll_seconds([8, 6, 4], 0.5, "cuts")


def test_cuts_padding_extends_the_last_scenes_own_chain():
    specs = build(product_title="P", scenes=[SCENE] * 2, aspect_ratio="9:16", heygen_mode="v3",
                  scene_transitions="cuts", narration_seconds=20.0)  # scenes: 8 + 8 - 0.5 = 15.5 s
    by_key = {s.key: s for s in specs}
    assert by_key["veo:c1:s1:pad1"].depends_on == ["veo:c1:s1"]
    assert by_key["join"].depends_on == ["veo:c0:s0", "veo:c1:s1:pad1"]


@pytest.mark.parametrize(("needed", "first"), [(0.6, 4), (4.0, 4), (4.5, 6), (8.0, 8), (8.5, 4), (11.5, 6), (15.5, 4),
                                               (36.0, 8), (50.0, 8)])
def test_a_further_padding_chain_starts_with_the_clip_that_bills_least(needed, first):
    assert plan.padding_chain_start(needed) == first
