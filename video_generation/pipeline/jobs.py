"""Job-level services: create, cancel, retry, estimate. Views, admin and the CLI call only these."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import JobStatus, JobStep, StepKind, StepState, VideoJob
from . import dispatch, plan
from .machine import enqueue_poll
from .states import move_job, move_steps
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


def find_replay(*, user, data: dict[str, Any], idempotency_key: str) -> VideoJob | None:
    """The job an earlier request with this key started, or None; IdempotencyKeyReused if its body differed."""
    job = VideoJob.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if job is not None and job.request_fingerprint != fingerprint(data):
        raise IdempotencyKeyReused()
    return job


def create_job_idempotently(*, user, data: dict[str, Any], idempotency_key: str) -> tuple[VideoJob, bool]:
    """Like create_job, but a repeat of the same key and body returns the original job (created=False).

    A client that retries a POST after a lost answer therefore never starts (and pays for) a second video. The
    unique (user, key) constraint decides, so a sequential repeat and a concurrent one are answered alike; callers
    that want to skip the insert for a known repeat look first with find_replay.
    """
    try:
        with transaction.atomic():
            return create_job(user=user, data=data, idempotency_key=idempotency_key,
                              request_fingerprint=fingerprint(data)), True
    except IntegrityError:  # an earlier or concurrent request with the same key has the job
        return find_replay(user=user, data=data, idempotency_key=idempotency_key), False


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
    dispatch.start_job(job.id)
    return job


def cancel_job(job: VideoJob) -> bool:
    """Stop a job: steps not yet started are cancelled, so no further paid call is made for it.

    False if the job had already reached a final state (it is left as it is). `job` is refreshed either way.
    """
    cancelled = cancel_job_row(job.id)
    job.refresh_from_db()
    return cancelled


def retry_job(job: VideoJob) -> bool:
    """Resume a failed job from its last good step. Succeeded steps are kept; a provider operation that was still
    running when the job failed is polled again rather than paid for twice; everything else starts again.

    False if the job was not failed (it is left as it is). `job` is refreshed either way."""
    with transaction.atomic():
        if not move_job(job.id, JobStatus.PENDING, expect=[JobStatus.FAILED], error_message=None):
            job.refresh_from_db()
            return False
        steps = JobStep.objects.filter(job_id=job.id)
        interrupted = list(steps.filter(state=StepState.CANCELLED).exclude(external_id="").values_list("id", flat=True))
        move_steps(JobStep.objects.filter(id__in=interrupted), StepState.SUBMITTED, expect=[StepState.CANCELLED],
                   next_check_at=timezone.now(), error_count=0)
        for step_id in interrupted:
            enqueue_poll(step_id, 0)
        redo = steps.filter(state__in=[StepState.FAILED, StepState.CANCELLED])
        # A new generation gives the presenter render a new idempotency key, so HeyGen renders it afresh.
        for step in redo.filter(kind=StepKind.HEYGEN_RENDER):
            JobStep.objects.filter(id=step.id).update(
                params={**step.params, "generation": step.params.get("generation", 0) + 1})
        move_steps(redo, StepState.PENDING, expect=[StepState.FAILED, StepState.CANCELLED],
                   attempts=0, external_id="", error_code="", error_message="", next_check_at=None, error_count=0,
                   submitted_at=None, last_enqueued_at=None)
        refresh_job(job.id)
        dispatch.start_job(job.id)
    job.refresh_from_db()
    return True
