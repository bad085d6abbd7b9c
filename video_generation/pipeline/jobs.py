"""Job-level services: create, cancel, retry, estimate. Views, admin and the CLI call only these."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import JobStatus, JobStep, StepKind, StepState, VideoJob
from . import dispatch, plan
from .transitions import cancel_job_row, refresh_job

COMPOSE_SECONDS = 20


def estimate_seconds(*, scene_count: int, heygen_mode: str, durations: list[int] | None = None) -> int:
    """Expected wall time: the longest Veo chain, the presenter (parallel in v3, after the B-roll in v2), compose."""
    pipeline = settings.PIPELINE
    chains = plan.group_into_chains(durations or [8] * scene_count)
    broll = max(len(chain) for chain in chains) * pipeline["VEO_EXPECTED_SECONDS"] + (10 if len(chains) > 1 else 0)
    presenter = pipeline["HEYGEN_EXPECTED_SECONDS"]
    if heygen_mode == "v2":
        return int(broll + 10 + presenter + COMPOSE_SECONDS)
    return int(max(broll, presenter) + COMPOSE_SECONDS)


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request body."""


def fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def create_job_idempotently(*, user, data: dict[str, Any], idempotency_key: str) -> tuple[VideoJob, bool]:
    """Like create_job, but a repeat of the same key and body returns the original job (created=False).

    A client that retries a POST after a lost answer therefore never starts (and pays for) a second video.
    """
    request_fingerprint = fingerprint(data)

    def replay(job: VideoJob) -> tuple[VideoJob, bool]:
        if job.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        return job, False

    existing = VideoJob.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing:
        return replay(existing)
    try:
        with transaction.atomic():
            return create_job(user=user, data=data, idempotency_key=idempotency_key,
                              request_fingerprint=request_fingerprint), True
    except IntegrityError:  # a concurrent request with the same key won the insert
        return replay(VideoJob.objects.get(user=user, idempotency_key=idempotency_key))


def create_job(*, user, data: dict[str, Any], idempotency_key: str | None = None,
               request_fingerprint: str = "") -> VideoJob:
    """Save a job from validated request data and start it once the transaction commits.

    If the broker is down the job is still saved and answered; the sweeper starts it later.
    """
    position = data.get("avatar_position") or {}
    job = VideoJob.objects.create(
        user=user,
        product_id=data.get("product_id"),
        product_title=data["product_title"],
        scenes_data=[dict(scene) for scene in data["scenes"]],
        avatar_script=data["avatar_script"],
        avatar_id=data["avatar_id"],
        voice_id=data["voice_id"],
        image_url=data["image_url"],
        avatar_scale=position.get("scale", 0.8),
        avatar_x=position.get("x", 0.7),
        avatar_y=position.get("y", 0.8),
        aspect_ratio=data.get("aspect_ratio") or "9:16",
        webhook_url=data.get("webhook_url") or None,
        heygen_mode=settings.HEYGEN_API_VERSION,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        status=JobStatus.PENDING,
    )
    dispatch.enqueue("video_generation.tasks.process_video_job", str(job.id))
    return job


def cancel_job(job: VideoJob) -> VideoJob:
    """Stop a job: steps not yet started are cancelled, so no further paid call is made for it."""
    cancel_job_row(job.id)
    job.refresh_from_db()
    return job


def retry_job(job: VideoJob) -> VideoJob:
    """Resume a failed job from its last good step: succeeded steps are kept, the rest start again."""
    with transaction.atomic():
        if not VideoJob.objects.filter(id=job.id, status=JobStatus.FAILED).update(
                status=JobStatus.PENDING, error_message=None, completed_at=None):
            job.refresh_from_db()
            return job
        unfinished = JobStep.objects.filter(job_id=job.id).exclude(state=StepState.SUCCEEDED)
        # A new generation gives the presenter render a new idempotency key, so HeyGen renders it afresh.
        for step in unfinished.filter(kind=StepKind.HEYGEN_RENDER):
            step.params = {**step.params, "generation": step.params.get("generation", 0) + 1}
            step.save(update_fields=["params"])
        unfinished.update(state=StepState.PENDING, attempts=0, external_id="", error_code="", error_message="",
                          next_check_at=None, lease_expires_at=None, error_count=0, submitted_at=None,
                          finished_at=None, last_enqueued_at=None)
        refresh_job(job.id)
        dispatch.enqueue("video_generation.tasks.process_video_job", str(job.id))
    job.refresh_from_db()
    return job
