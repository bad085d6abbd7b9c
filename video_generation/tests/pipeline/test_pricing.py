from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.briefs import HEADPHONES_SCRIPT, headphones_brief
from video_generation.models import VideoJob
from video_generation.pipeline import pricing


def brief(**overrides) -> dict:
    return {**headphones_brief("https://cdn.example.com/p.jpg"), **overrides}


@pytest.mark.parametrize(("seconds", "credits"), [(0.5, 1), (8, 1), (8.0004, 1), (8.1, 2), (22, 3), (24, 3),
                                                  (43.5, 6)])
def test_a_credit_is_each_started_eight_seconds(seconds, credits):
    assert pricing.credits_for(seconds) == credits


def test_a_video_is_never_charged_more_than_its_quote():
    assert pricing.credits_charged(40.0, 3) == 3
    assert pricing.credits_charged(15.0, 3) == 2
    assert pricing.credits_charged(15.0, None) == 2  # a job from before quotes


def test_the_narration_is_the_scripts_words_at_the_speaking_rate(settings):
    settings.NARRATION_WORDS_PER_MINUTE = 150
    assert pricing.narration_seconds("one two three four five") == 2.0
    assert pricing.narration_seconds("it's a well-known fact — 40 hours!") == 2.4  # 6 words
    settings.NARRATION_WORDS_PER_MINUTE = 120
    assert pricing.narration_seconds(" ".join(["word"] * 120)) == 60.0


def test_the_headphones_brief_costs_three_credits():
    quote = pricing.quote(brief())
    assert (quote.credits, quote.broll_seconds, quote.duration_seconds) == (3, 22.0, 22.0)
    assert quote.narration_seconds == pricing.narration_seconds(HEADPHONES_SCRIPT)
    assert quote.scene_plan == [{"scenes": [0, 1, 2], "seconds": 22, "clips": [
        {"scene": 0, "operation": "generate", "seconds": 8, "padding": False},
        {"scene": 1, "operation": "extend", "seconds": 7, "padding": False},
        {"scene": 2, "operation": "extend", "seconds": 7, "padding": False}]}]
    assert (quote.broll_fit, quote.scene_transitions) == ("extend", "continuous")  # 19.2 s of narration: no padding


def test_a_narration_longer_than_the_broll_sets_the_length():
    quote = pricing.quote(brief(avatar_script=" ".join(["word"] * 100)))  # 40 s at 150 words a minute
    assert (quote.duration_seconds, quote.credits) == (40.0, 5)


@pytest.mark.parametrize(("quality", "audio", "veo_per_second"), [
    ("standard", False, "0.20"), ("standard", True, "0.40"), ("fast", False, "0.10"), ("fast", True, "0.15")])
def test_the_provider_cost_follows_the_price_table(quality, audio, veo_per_second):
    quote = pricing.quote(brief(quality=quality, broll_audio=audio))
    veo = Decimal(veo_per_second) * 22
    heygen = (Decimal("4.00") * Decimal(str(quote.narration_seconds)) / 60).quantize(Decimal("0.0001"))
    assert quote.estimated_cost_usd == veo + heygen
    assert quote.model == {"standard": "veo-3.1-generate-001", "fast": "veo-3.1-fast-generate-001"}[quality]


def test_prices_come_from_settings(settings):
    settings.PROVIDER_PRICES = {"veo_per_second": {"m": {"audio": "1.00", "silent": "0.50"}},
                                "heygen_per_minute": "6.00"}
    assert pricing.veo_cost(model_id="m", audio=False, seconds=7) == Decimal("3.5")
    assert pricing.heygen_cost(30) == Decimal("3.00")
    with pytest.raises(ValueError, match="no price"):
        pricing.veo_cost(model_id="unpriced", audio=True, seconds=1)


def test_chains_over_the_extension_limit_are_planned_and_joined():
    quote = pricing.quote(brief(scenes=[brief()["scenes"][0]] * 7, avatar_script="Short."))
    assert [chain["scenes"] for chain in quote.scene_plan] == [[0, 1, 2, 3, 4], [5, 6]]
    assert quote.broll_seconds == 36 + 15 - 0.5  # the chains less one crossfade
    assert quote.credits == 7


@pytest.mark.django_db
def test_a_saved_job_is_quoted_from_its_own_fields(user):
    data = brief(quality="fast", broll_audio=True)
    job = VideoJob.objects.create(user=user, product_title="t", scenes_data=data["scenes"],
                                  avatar_script=data["avatar_script"], avatar_id="a", voice_id="v",
                                  image_url=data["image_url"], quality="fast", broll_audio=True)
    assert pricing.job_quote(job) == pricing.quote(data, heygen_mode=job.heygen_mode)


# --- broll_fit and scene_transitions: the quote prices exactly the plan's Veo steps --------------------------------

def planned_clips(data: dict, heygen_mode: str = "v3") -> list[list[tuple]]:
    """The Veo steps build_plan makes for a request (as machine.ensure_plan builds them), per chain."""
    from django.conf import settings

    from video_generation.pipeline import plan

    specs = plan.build_plan(product_title=data["product_title"], scenes=data["scenes"],
                            aspect_ratio=data["aspect_ratio"], heygen_mode=heygen_mode,
                            veo_model=pricing.veo_model(data.get("quality", "standard")), generate_audio=False,
                            scene_transitions=data.get("scene_transitions", "continuous"),
                            broll_fit=data.get("broll_fit", "extend"),
                            narration_seconds=pricing.narration_seconds(data["avatar_script"]),
                            crossfade=settings.PIPELINE["CROSSFADE_SECONDS"])
    chains: dict[int, list[tuple]] = {}
    for spec in specs:
        if spec.provider == "veo":
            generate = spec.kind == "veo_generate"
            chains.setdefault(spec.chain_index, []).append(
                (spec.scene_index, "generate" if generate else "extend",
                 spec.params["duration_seconds"] if generate else 7, bool(spec.params.get("padding"))))
    return [chains[n] for n in sorted(chains)]


def quoted_clips(quote) -> list[list[tuple]]:
    return [[(c["scene"], c["operation"], c["seconds"], c["padding"]) for c in chain["clips"]]
            for chain in quote.scene_plan]


@given(st.lists(st.sampled_from([4, 6, 8]), min_size=1, max_size=12), st.integers(min_value=1, max_value=400),
       st.sampled_from(["continuous", "cuts"]), st.sampled_from(["extend", "loop", "hold"]))
def test_the_quote_prices_exactly_the_veo_steps_the_plan_runs(durations, words, transitions, fit):
    scene = brief()["scenes"][0]
    data = brief(scenes=[{**scene, "duration": d} for d in durations], avatar_script=" ".join(["word"] * words),
                 scene_transitions=transitions, broll_fit=fit)
    quote = pricing.quote(data, heygen_mode="v3")
    assert quoted_clips(quote) == planned_clips(data)
    veo_seconds = sum(clip[2] for chain in planned_clips(data) for clip in chain)
    assert quote.estimated_cost_usd == (pricing.veo_cost(model_id=quote.model, audio=False, seconds=veo_seconds)
                                        + pricing.heygen_cost(quote.narration_seconds))
    assert quote.broll_seconds >= (quote.narration_seconds if fit == "extend" else 0)


def test_extend_raises_the_cost_of_a_long_narration_not_its_credits():
    long_script = " ".join(["word"] * 100)  # 40 s over 22 s of scenes
    extend = pricing.quote(brief(avatar_script=long_script, broll_fit="extend"))
    loop = pricing.quote(brief(avatar_script=long_script, broll_fit="loop"))
    hold = pricing.quote(brief(avatar_script=long_script, broll_fit="hold"))
    assert [[(c["seconds"], c["padding"]) for c in chain["clips"]] for chain in extend.scene_plan] == [
        [(8, False), (7, False), (7, False), (7, True), (7, True)], [(6, True)]]  # 36 s, then 4 s + the crossfade
    assert extend.broll_seconds == 36 + 6 - 0.5 and loop.broll_seconds == hold.broll_seconds == 22
    padding = pricing.veo_cost(model_id=extend.model, audio=False, seconds=7 + 7 + 6)
    assert extend.estimated_cost_usd == loop.estimated_cost_usd + padding == hold.estimated_cost_usd + padding
    # The finished video lasts as long as the narration whichever way the B-roll covers it; so do its credits.
    assert extend.duration_seconds == loop.duration_seconds == 40.0 and extend.credits == loop.credits == 5


def test_cuts_generate_every_scene_at_once_and_crossfade_them():
    quote = pricing.quote(brief(scene_transitions="cuts"))
    assert quote.scene_plan == [{"scenes": [n], "seconds": 8, "clips": [
        {"scene": n, "operation": "generate", "seconds": 8, "padding": False}]} for n in range(3)]
    assert quote.broll_seconds == 24 - 2 * 0.5
    assert (quote.credits, quote.duration_seconds) == (3, 23.0)


@pytest.mark.parametrize("scenes", [2, 3, 5, 8])
def test_cuts_are_quoted_faster_than_continuous_scenes(settings, scenes):
    settings.PIPELINE = {**settings.PIPELINE, "VEO_EXPECTED_SECONDS": 75.0, "HEYGEN_EXPECTED_SECONDS": 150.0}
    data = brief(scenes=[brief()["scenes"][0]] * scenes, avatar_script="Short.")  # no padding

    def estimate(transitions, mode):
        return pricing.quote({**data, "scene_transitions": transitions}, heygen_mode=mode).estimated_time_seconds

    # v2 waits for the B-roll: one Veo operation and a join instead of a chain of them.
    assert estimate("cuts", "v2") == 75 + 10 + 10 + 150 + 20
    assert estimate("cuts", "v2") < estimate("continuous", "v2")
    # v3 renders the presenter alongside: cuts are never slower, and faster once the chain outlasts the presenter.
    assert estimate("cuts", "v3") == 150 + 20
    assert estimate("cuts", "v3") <= estimate("continuous", "v3")
    if scenes >= 3:
        assert estimate("cuts", "v3") < estimate("continuous", "v3")
