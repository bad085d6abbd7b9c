"""How the B-roll is rendered for a job's scene_transitions and broll_fit: the steps the state machine runs, what it
pays for them, and what the compositor is told."""

import pytest

from video_generation.models import JobStatus, JobStep, VideoJob
from video_generation.pipeline import plan, pricing
from video_generation.services import compose

from .conftest import brief, steps_of

pytestmark = pytest.mark.django_db(transaction=True)

LONG_SCRIPT = " ".join(["word"] * 100)  # 40 s at 150 words a minute, over 22 s of scenes


@pytest.fixture
def compose_kwargs(monkeypatch, media_calls):
    """Every compose_final call's arguments (the media_calls fake still does the work)."""
    calls = []
    fake = compose.compose_final

    def recording(**kwargs):
        calls.append(kwargs)
        return fake(**kwargs)

    monkeypatch.setattr(compose, "compose_final", recording)
    return calls


def veo_steps(job) -> dict[str, JobStep]:
    return {key: step for key, step in steps_of(job).items() if step.provider == "veo"}


def test_extend_renders_padding_steps_when_the_script_outlasts_the_scenes(driver, submit_job, fake_veo,
                                                                          compose_kwargs, media_calls):
    job = submit_job(brief(avatar_script=LONG_SCRIPT, broll_fit="extend"))
    driver.run()

    job = VideoJob.objects.get(id=job.id)
    assert job.status == JobStatus.COMPLETED
    assert list(veo_steps(job)) == ["veo:c0:s0", "veo:c0:s1", "veo:c0:s2", "veo:c0:s2:pad1", "veo:c0:s2:pad2",
                                    "veo:c1:s2:pad3"]
    # one Veo operation per step: the further chain's clip renders alongside the first chain
    assert sorted(kind for kind, _, _ in fake_veo.ledger) == ["extend"] * 4 + ["generate"] * 2
    last_prompt = veo_steps(job)["veo:c0:s2"].params["prompt"]
    assert [prompt for _, _, prompt in fake_veo.ledger].count(last_prompt) == 4  # the last scene and its padding
    assert ("join", 2) in media_calls
    # what was paid for is what the quote priced
    quote = pricing.job_quote(job)
    veo_paid = sum(step.cost_usd for step in veo_steps(job).values())
    assert veo_paid == quote.estimated_cost_usd - pricing.heygen_cost(quote.narration_seconds)
    assert [clip["padding"] for chain in job.quote["scene_plan"] for clip in chain["clips"]] == [
        False, False, False, True, True, True]
    # the compositor loops whatever the estimate missed, and need not run past the scenes for the B-roll's sake
    assert (compose_kwargs[-1]["broll_fit"], compose_kwargs[-1]["scenes_seconds"]) == ("extend", 22.0)


@pytest.mark.parametrize("fit", ["loop", "hold"])
def test_loop_and_hold_render_only_the_scenes(driver, submit_job, fake_veo, compose_kwargs, fit):
    job = submit_job(brief(avatar_script=LONG_SCRIPT, broll_fit=fit))
    driver.run()

    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
    assert list(veo_steps(job)) == ["veo:c0:s0", "veo:c0:s1", "veo:c0:s2"]
    assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend", "extend"]
    assert (compose_kwargs[-1]["broll_fit"], compose_kwargs[-1]["scenes_seconds"]) == (fit, None)


def test_extend_renders_no_padding_when_the_scenes_cover_the_script(driver, submit_job, fake_veo, compose_kwargs):
    job = submit_job(brief(broll_fit="extend"))  # a one-sentence script
    driver.run()
    assert [kind for kind, _, _ in fake_veo.ledger] == ["generate", "extend", "extend"]
    assert not any(step.params.get(plan.PADDING_PARAM) for step in steps_of(job).values())
    assert compose_kwargs[-1]["scenes_seconds"] is None


def test_cuts_send_every_scene_to_veo_before_any_has_finished(driver, submit_job, fake_veo, media_calls):
    job = submit_job(brief(scene_transitions="cuts"))
    driver.run_until_submitted(job, "veo:c2:s2")

    assert [kind for kind, _, _ in fake_veo.ledger] == ["generate"] * 3
    assert all(step.state == "submitted" for step in veo_steps(job).values())
    assert all(op.request["image"] for op in fake_veo.operations.values())  # each from the product image

    driver.run()
    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
    assert ("join", 3) in media_calls
    assert steps_of(job)["join"].depends_on == ["veo:c0:s0", "veo:c1:s1", "veo:c2:s2"]


def test_continuous_scenes_wait_for_the_one_before(driver, submit_job, fake_veo):
    job = submit_job(brief(scene_transitions="continuous"))
    driver.run_until_submitted(job, "veo:c0:s0")
    assert len(fake_veo.ledger) == 1
    assert steps_of(job)["veo:c0:s1"].state == "pending"


def test_the_overlays_follow_the_cut_scenes_spans(settings):
    from video_generation.pipeline.handlers import scene_overlays
    from video_generation.services.overlay import TextOverlay

    settings.PIPELINE = {**settings.PIPELINE, "CROSSFADE_SECONDS": 0.5}
    scene = {"visual_description": "a", "camera_movement": "c", "mood": "m", "duration": 8}
    scenes = [{**scene, "text_overlay": "one"}, {**scene, "text_overlay": "two"}, {**scene, "text_overlay": "three"}]
    assert scene_overlays(VideoJob(scenes_data=scenes, scene_transitions="cuts")) == [
        TextOverlay("one", 0.0, 7.75), TextOverlay("two", 7.75, 15.25), TextOverlay("three", 15.25, float("inf"))]
