"""What the provider steps send and what they cost: each job's B-roll is rendered by the model of its quality,
with or without sound as it asked, and every paid step records the provider's price (pricing.py)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
import respx

from video_generation.models import JobStatus, JobStep, StepKind, StepState, VideoJob
from video_generation.pipeline import plan, providers
from video_generation.services.veo_service import VeoService

from ..services.media_factory import make_presenter
from .conftest import brief, steps_of

pytestmark = pytest.mark.django_db(transaction=True)

STANDARD = "veo-3.1-generate-001"
FAST = "veo-3.1-fast-generate-001"
# The price table (reference/veo-vertex.md; HeyGen: $4.00 a minute), set here so the expected sums below are the
# table's own numbers, whatever the environment configures.
PRICES = {"veo_per_second": {STANDARD: {"audio": "0.40", "silent": "0.20"},
                             FAST: {"audio": "0.15", "silent": "0.10"}},
          "heygen_per_minute": "4.00"}
# (quality, broll_audio) -> the recorded cost of the 8 s clip and of each 7 s extension
VEO_STEP_COSTS = {
    ("standard", True): (Decimal("3.20"), Decimal("2.80")),
    ("standard", False): (Decimal("1.60"), Decimal("1.40")),
    ("fast", True): (Decimal("1.20"), Decimal("1.05")),
    ("fast", False): (Decimal("0.80"), Decimal("0.70")),
}
PRESENTER_COST = Decimal("0.40")  # FakeHeyGen's render lasts 6 s: 6 × 4.00 / 60
VEO_KEYS = ["veo:c0:s0", "veo:c0:s1", "veo:c0:s2"]


@pytest.fixture(autouse=True)
def price_table(settings):
    settings.VEO_MODELS = {"standard": STANDARD, "fast": FAST}
    settings.PROVIDER_PRICES = PRICES


def veo_operations(fake_veo):
    return sorted(fake_veo.operations.values(), key=lambda op: op.kind != "generate")


class TestVeoModelAndAudio:
    def test_a_fast_job_renders_and_polls_every_scene_on_the_fast_model(self, driver, submit_job, fake_veo):
        job = submit_job(brief(quality="fast"))
        driver.run()

        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED  # the fake 404s a poll on another model
        assert [op.request["model"] for op in fake_veo.operations.values()] == [FAST] * 3
        assert all(step.params[plan.VEO_MODEL_PARAM] == FAST for key, step in steps_of(job).items() if key in VEO_KEYS)

    def test_a_standard_job_renders_on_the_standard_model(self, driver, submit_job, fake_veo):
        submit_job(brief(quality="standard"))
        driver.run()
        assert {op.request["model"] for op in fake_veo.operations.values()} == {STANDARD}

    @pytest.mark.parametrize("audio", [True, False])
    def test_the_generation_asks_for_sound_exactly_as_the_job_did_and_extensions_never_ask(
            self, driver, submit_job, fake_veo, audio):
        submit_job(brief(broll_audio=audio))
        driver.run()

        generate, *extends = veo_operations(fake_veo)
        assert generate.kind == "generate" and generate.request["generate_audio"] is audio
        assert [op.kind for op in extends] == ["extend", "extend"]
        assert all("generate_audio" not in op.request for op in extends)

    @pytest.mark.parametrize(("quality", "audio", "model"), [("fast", False, FAST), ("standard", True, STANDARD)])
    def test_the_request_goes_to_the_models_own_vertex_path_with_generate_audio(
            self, driver, submit_job, monkeypatch, settings, quality, audio, model):
        settings.GCP_PROJECT_ID = "proj"
        settings.VEO_API_BASE_URL = "https://vertex.test"
        settings.VEO_LOCATION = "us-central1"
        monkeypatch.setattr(providers, "veo", lambda model_id: VeoService(model_id=model_id,
                                                                          token_provider=lambda: "token"))
        model_path = f"https://vertex.test/v1/projects/proj/locations/us-central1/publishers/google/models/{model}"
        operation = f"projects/proj/locations/us-central1/publishers/google/models/{model}/operations/op-1"
        with respx.mock(assert_all_called=False) as google:
            submitted = google.post(f"{model_path}:predictLongRunning").respond(200, json={"name": operation})
            job = submit_job(brief(1, quality=quality, broll_audio=audio))
            step = driver.run_until_submitted(job, "veo:c0:s0")

        assert step.external_id == operation
        assert submitted.call_count == 1
        assert json.loads(submitted.calls.last.request.content)["parameters"]["generateAudio"] is audio

    def test_steps_planned_before_the_choices_were_fixed_take_them_from_the_job(self, driver, submit_job,
                                                                                fake_veo):
        job = submit_job(brief(quality="fast", broll_audio=True))
        driver.run(until=lambda: JobStep.objects.filter(job=job).exists())
        for step in JobStep.objects.filter(job=job, key__in=VEO_KEYS):  # as an older release planned them
            step.params = {k: v for k, v in step.params.items()
                           if k not in (plan.VEO_MODEL_PARAM, plan.GENERATE_AUDIO_PARAM)}
            step.save(update_fields=["params"])

        driver.run()

        assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
        generate, *_ = veo_operations(fake_veo)
        assert {op.request["model"] for op in fake_veo.operations.values()} == {FAST}
        assert generate.request["generate_audio"] is True
        assert [steps_of(job)[key].cost_usd for key in VEO_KEYS] == [Decimal("1.20"), Decimal("1.05"),
                                                                     Decimal("1.05")]


class TestVeoCost:
    @pytest.mark.parametrize(("quality", "audio"), list(VEO_STEP_COSTS))
    def test_each_step_records_the_price_table_for_its_model_audio_and_seconds(self, driver, submit_job,
                                                                               quality, audio):
        job = submit_job(brief(quality=quality, broll_audio=audio))
        driver.run()

        job.refresh_from_db()
        steps = steps_of(job)
        clip, extension = VEO_STEP_COSTS[(quality, audio)]
        assert [steps[key].cost_usd for key in VEO_KEYS] == [clip, extension, extension]
        assert [steps[key].result["billed_seconds"] for key in VEO_KEYS] == [8, 7, 7]
        assert job.status == JobStatus.COMPLETED
        assert job.cost_usd == clip + 2 * extension + PRESENTER_COST

    def test_a_failed_generation_is_not_billed(self, driver, submit_job, fake_veo):
        fake_veo.outcomes["Close-up of controls"] = "failed"
        job = submit_job()
        driver.run()

        steps = steps_of(job)
        assert steps["veo:c0:s1"].state == StepState.FAILED
        assert steps["veo:c0:s1"].cost_usd == 0
        assert steps["veo:c0:s0"].cost_usd == Decimal("1.60")  # the clip before it was delivered, and paid for

    def test_a_blocked_generation_is_not_billed(self, driver, submit_job, fake_veo):
        fake_veo.outcomes["Close-up of controls"] = "filtered"
        job = submit_job()
        driver.run()
        assert steps_of(job)["veo:c0:s1"].state == StepState.FAILED
        assert steps_of(job)["veo:c0:s1"].cost_usd == 0

    def test_a_generation_whose_answer_was_lost_is_paid_for_when_its_output_is_adopted(self, driver, submit_job,
                                                                                       fake_veo):
        fake_veo.lose_answer_once.add("Close-up of controls")
        job = submit_job(brief(quality="fast"))
        driver.run()

        step = steps_of(job)["veo:c0:s1"]
        assert step.result.get("reconciled") is True
        assert step.cost_usd == Decimal("0.70")
        assert VideoJob.objects.get(id=job.id).cost_usd == Decimal("0.80") + 2 * Decimal("0.70") + PRESENTER_COST


class TestHeyGenCost:
    def test_the_render_costs_its_reported_duration(self, driver, submit_job, fake_heygen):
        fake_heygen.duration = 45.0
        job = submit_job()
        driver.run()

        render = steps_of(job)["heygen:render"]
        assert render.kind == StepKind.HEYGEN_RENDER
        assert render.result["duration"] == 45.0
        assert render.cost_usd == Decimal("3.00")  # 45 s × $4.00 a minute

    def test_the_legacy_render_costs_its_reported_duration_too(self, driver, submit_job, fake_heygen, settings):
        settings.HEYGEN_API_VERSION = "v2"
        fake_heygen.duration = 30.0
        job = submit_job()
        driver.run()
        assert steps_of(job)["heygen:render"].cost_usd == Decimal("2.00")

    def test_a_render_without_a_reported_duration_is_measured(self, driver, submit_job, fake_heygen, monkeypatch):
        fake_heygen.duration = None

        def download(url, dest, *, max_bytes=0):
            make_presenter(Path(dest), 3.0)
            return Path(dest).stat().st_size

        monkeypatch.setattr(fake_heygen, "download", download)
        job = submit_job()
        driver.run()

        render = steps_of(job)["heygen:render"]
        assert render.result["duration"] == pytest.approx(3.0, abs=0.1)
        assert render.cost_usd == pytest.approx(Decimal("0.20"), abs=Decimal("0.01"))

    def test_a_render_that_cannot_be_measured_fails_the_job_rather_than_go_unpriced(self, driver, submit_job,
                                                                                    fake_heygen):
        fake_heygen.duration = None  # and the fake's download is not a video
        job = submit_job()
        driver.run()

        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        assert steps_of(job)["heygen:render"].error_code == "unreadable_render"


def test_compose_is_given_each_scenes_text_over_that_scenes_span(settings):
    from video_generation.pipeline.handlers import scene_overlays
    from video_generation.services.overlay import TextOverlay

    settings.PIPELINE = {**settings.PIPELINE, "CROSSFADE_SECONDS": 0.5}
    scene = {"visual_description": "a", "camera_movement": "c", "mood": "m", "duration": 8}
    scenes = [{**scene, "text_overlay": "first"}, scene, *[scene] * 3, {**scene, "text_overlay": "sixth"}]
    assert scene_overlays(VideoJob(scenes_data=scenes)) == [
        TextOverlay("first", 0.0, 8.0), TextOverlay("sixth", 35.75, float("inf"))]  # the last runs to the end


class TestCaptions:
    def test_they_are_timed_from_heygens_subtitle_file_and_delivered_beside_the_video(self, driver, submit_job,
                                                                                     media_calls, fake_storage):
        job = submit_job()
        driver.run()
        job.refresh_from_db()

        assert job.status == JobStatus.COMPLETED
        assert ("captions", ["Introducing", "our", "headphones."]) in media_calls
        assert not [call for call in media_calls if call[0] == "align"]
        assert steps_of(job)["heygen:render"].result["subtitles_uri"].endswith("/presenter.srt")
        srt = fake_storage.read_bytes(job.captions_srt_uri).decode()
        vtt = fake_storage.read_bytes(job.captions_vtt_uri).decode()
        assert job.captions_srt_uri.endswith("final-captions.srt") and "00:00:00,400 --> " in srt
        assert vtt.startswith("WEBVTT") and "Introducing our headphones." in vtt.replace("\n", " ")

    def test_without_a_subtitle_file_the_script_is_aligned_to_the_voice(self, driver, submit_job, media_calls,
                                                                        fake_heygen):
        fake_heygen.subtitles = False
        job = submit_job()
        driver.run()
        job.refresh_from_db()

        assert job.status == JobStatus.COMPLETED
        assert ("align", job.avatar_script) in media_calls
        assert job.captions_srt_uri and "subtitles_uri" not in steps_of(job)["heygen:render"].result

    def test_turned_off_there_are_none(self, driver, submit_job, media_calls):
        job = submit_job(brief(captions={"enabled": False, "style": "bold", "position": "auto"}))
        driver.run()
        job.refresh_from_db()

        assert job.status == JobStatus.COMPLETED
        assert ("captions", None) in media_calls
        assert job.captions_srt_uri == job.captions_vtt_uri == ""

    def test_in_the_legacy_v2_mode_the_script_is_aligned_to_heygens_video_and_burned_in(self, driver, submit_job,
                                                                                        media_calls, settings,
                                                                                        fake_heygen):
        settings.HEYGEN_API_VERSION = "v2"
        fake_heygen.subtitles = False  # the legacy status has no subtitle_url
        job = submit_job()
        driver.run()
        job.refresh_from_db()

        assert job.status == JobStatus.COMPLETED
        assert ("align", job.avatar_script) in media_calls
        captioned = media_calls[media_calls.index(("normalize", "9:16")) + 1]
        assert captioned[0] == "captions" and captioned[1][0] == "Introducing"
        assert job.captions_vtt_uri.endswith("final-captions.vtt")
