import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from video_generation.models import JobStatus, JobStep, StepState, VideoJob
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_a_new_job_gets_a_uuid_and_the_briefs_defaults(user):
    job = make_job(user)
    assert isinstance(job.id, uuid.UUID)
    assert (job.status, job.progress, job.credits_used) == (JobStatus.PENDING, 0, 0)
    assert (job.avatar_scale, job.avatar_x, job.avatar_y, job.aspect_ratio) == (0.8, 0.7, 0.8, "9:16")
    assert job.error_message is None and job.completed_at is None


def test_it_stores_every_field_of_the_brief(user):
    job = make_job(user, product_id="HP-1", veo_video_gcs_uri="gs://b/v.mp4", veo_video_url="https://x/v",
                   heygen_video_id="hv", heygen_asset_id="ha", final_video_url="https://x/f",
                   processing_time_seconds=300, credits_used=3, error_message="boom")
    job.refresh_from_db()
    assert (job.product_id, job.heygen_video_id, job.heygen_asset_id, job.credits_used) == ("HP-1", "hv", "ha", 3)


def test_timestamps_are_set_on_create_and_update(user):
    job = make_job(user)
    created, updated = job.created_at, job.updated_at
    assert created is not None and updated is not None
    job.progress = 10
    job.save()
    job.refresh_from_db()
    assert job.created_at == created and job.updated_at >= updated


def test_status_choices_are_the_briefs_plus_composing_and_cancelled():
    assert {c for c, _ in JobStatus.choices} == {"pending", "processing_veo", "processing_heygen", "composing",
                                                 "completed", "failed", "cancelled"}


def test_jobs_list_newest_first(user):
    older = make_job(user)
    VideoJob.objects.filter(id=older.id).update(created_at=timezone.now() - timedelta(hours=1))
    newer = make_job(user)
    assert list(VideoJob.objects.all()) == [newer, VideoJob.objects.get(id=older.id)]


def test_it_has_the_briefs_indexes():
    indexed = [tuple(index.fields) for index in VideoJob._meta.indexes]
    assert ("user", "created_at") in indexed and ("status",) in indexed


def test_a_step_key_is_unique_within_a_job(user):
    job = make_job(user)
    JobStep.objects.create(job=job, key="veo:c0:s0", kind="veo_generate", provider="veo")
    with pytest.raises(IntegrityError):
        JobStep.objects.create(job=job, key="veo:c0:s0", kind="veo_generate", provider="veo")


def test_terminal_statuses_rank_above_every_running_one():
    running = [JobStatus.PENDING, JobStatus.PROCESSING_VEO, JobStatus.PROCESSING_HEYGEN, JobStatus.COMPOSING]
    assert [JobStatus.rank(s) for s in running] == [0, 1, 2, 3]
    assert all(JobStatus.rank(t) > 3 for t in JobStatus.terminal())
    assert StepState.SUCCEEDED in StepState.finished()


def test_the_migrations_describe_the_models_exactly():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits non-zero on a missing migration


def test_a_resolution_the_configured_veo_model_does_not_offer_is_a_configuration_error(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.VEO_RESOLUTION = "4k"
    with pytest.raises(SystemCheckError, match="VEO_RESOLUTION='4k' is not offered by the standard model"):
        call_command("check")


def test_the_resolution_check_covers_every_model_a_job_can_choose(settings):
    from video_generation.checks import provider_settings

    settings.VEO_RESOLUTION = "4k"
    settings.VEO_MODELS = {"standard": "veo-3.1-generate-preview", "fast": "veo-3.1-fast-generate-001"}
    settings.PROVIDER_PRICES = {**settings.PROVIDER_PRICES, "veo_per_second": {
        model: {"audio": "0.40", "silent": "0.20"} for model in settings.VEO_MODELS.values()}}
    errors = provider_settings(None)
    assert [error.id for error in errors] == ["video_generation.E001"]
    assert "fast model 'veo-3.1-fast-generate-001'" in errors[0].msg


def test_a_model_without_a_price_is_a_configuration_error(settings):
    from video_generation.checks import provider_settings

    settings.VEO_MODELS = {**settings.VEO_MODELS, "fast": "veo-3.1-lite-generate-001"}
    errors = provider_settings(None)
    assert [error.id for error in errors] == ["video_generation.E004"]
    assert "'veo-3.1-lite-generate-001'" in errors[0].msg
