"""Job-level services: create, cancel, retry. Views, admin and the CLI call only these."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from video_saas.middleware import new_request_id

from ..models import (
    BrollFit,
    JobStatus,
    JobStep,
    SceneTransitions,
    StepKind,
    StepState,
    VideoJob,
    default_captions,
)
from . import dispatch, pricing
from .logcontext import current_request_id, job_context
from .machine import enqueue_poll
from .signals import JobRefused, job_admitting
from .states import move_job, move_steps
from .transitions import cancel_job_row, refresh_job


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
    try:  # create_job's transaction (or savepoint) is rolled back by the unique constraint's error
        return create_job(user=user, data=data, idempotency_key=idempotency_key,
                          request_fingerprint=fingerprint(data)), True
    except IntegrityError:  # an earlier or concurrent request with the same key has the job
        earlier = find_replay(user=user, data=data, idempotency_key=idempotency_key)
        if earlier is None:  # not the key: another constraint (e.g. the user was erased meanwhile)
            raise
        return earlier, False


def create_job(*, user, data: dict[str, Any], idempotency_key: str | None = None,
               request_fingerprint: str = "") -> VideoJob:
    """Save a job from validated request data, priced, and start it once the transaction commits.

    The job is admitted (job_admitting: credits held, plan limits) in the same transaction that creates it, so a
    refusal creates nothing. If the broker is down the job is still saved and answered; the sweeper starts it later.
    """
    heygen_mode = settings.HEYGEN_API_VERSION
    quote = pricing.quote(data, heygen_mode=heygen_mode)
    limit = data.get("max_credits")
    if limit is not None and quote.credits > limit:
        raise JobRefused(402, {"error": "The quote is above max_credits", "required": quote.credits,
                               "max_credits": limit})
    with transaction.atomic():
        job = save_job(user=user, data=data, quote=quote, heygen_mode=heygen_mode, idempotency_key=idempotency_key,
                       request_fingerprint=request_fingerprint)
        with job_context(job.id, job.request_id):
            job_admitting.send(sender=VideoJob, job=job, credits=quote.credits, retry=False)
            dispatch.start_job(job.id)
    return job


def save_job(*, user, data: dict[str, Any], quote: pricing.Quote, heygen_mode: str, idempotency_key: str | None,
             request_fingerprint: str) -> VideoJob:
    position = data.get("avatar_position") or {}
    return VideoJob.objects.create(
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
        heygen_mode=heygen_mode,
        quality=quote.quality,
        broll_audio=quote.broll_audio,
        scene_transitions=data.get("scene_transitions") or SceneTransitions.CONTINUOUS,
        broll_fit=data.get("broll_fit") or BrollFit.EXTEND,
        captions=dict(data.get("captions") or default_captions()),
        quote=quote.as_dict(),
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        # The submitting request's id (a job made outside a request, by the CLI say, gets one of its own).
        request_id=current_request_id() or new_request_id(),
        status=JobStatus.PENDING,
    )


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

    The job is admitted again (job_admitting with retry=True: its credits are held again); a refusal raises and
    changes nothing. False if the job was not failed, or its intermediate files have expired (retention.py: a
    retry would need them); it is left as it is. `job` is refreshed either way."""
    with transaction.atomic():
        # Locked, so that retention cannot mark the job expired between this look and the move.
        resumable = VideoJob.objects.select_for_update().filter(id=job.id, intermediates_expired_at__isnull=True)
        if not list(resumable.values_list("id", flat=True)) or \
                not move_job(job.id, JobStatus.PENDING, expect=[JobStatus.FAILED], error_message=None):
            job.refresh_from_db()
            return False
        with job_context(job.id, job.request_id):  # the resumed steps' lines carry the job's original request id
            resume(job)
    job.refresh_from_db()
    return True


def resume(job: VideoJob) -> None:
    """retry_job's work once the job is pending again (inside its transaction)."""
    job_admitting.send(sender=VideoJob, job=job, credits=pricing.job_quote(job).credits, retry=True)
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
