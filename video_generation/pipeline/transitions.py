"""Job status and progress, and the job-level events (completed, failed, cancelled). Status and progress only move
forward, enforced in the UPDATE itself (states.py) so that racing workers, redelivered messages and late polls can
never move a job backwards."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from video_saas import metrics

from ..deliverables import SIDE_FILES
from ..models import JobStatus, JobStep, Provider, StepKind, StepState, VideoJob
from ..retention import video_expiry
from ..services.redact import readable
from . import pricing
from .signals import job_finished
from .states import ACTIVE_STATUSES, move_job, move_steps, statuses_before

logger = logging.getLogger(__name__)

# Rough share of the work each kind of step represents, used for the progress percentage.
STEP_WEIGHTS = {
    StepKind.FETCH_IMAGE: 2,
    StepKind.VEO_GENERATE: 60,
    StepKind.VEO_EXTEND: 60,
    StepKind.JOIN_BROLL: 5,
    StepKind.HEYGEN_UPLOAD: 5,
    StepKind.HEYGEN_RENDER: 90,
    StepKind.COMPOSE: 15,
}
STAGE_NAMES = {
    StepKind.FETCH_IMAGE: "Fetching the product image",
    StepKind.VEO_GENERATE: "B-roll generation",
    StepKind.VEO_EXTEND: "B-roll extension",
    StepKind.JOIN_BROLL: "Joining B-roll chains",
    StepKind.HEYGEN_UPLOAD: "B-roll upload",
    StepKind.HEYGEN_RENDER: "Presenter render",
    StepKind.COMPOSE: "Composing the final video",
}
PROVIDER_NAMES = {Provider.VEO: "Google Veo", Provider.HEYGEN: "HeyGen", Provider.LOCAL: "video_saas"}


def status_for(steps: list[JobStep]) -> str:
    """The stage a job is in, judged by what is still unfinished."""
    def unfinished(kinds: set[str]) -> bool:
        return any(s.kind in kinds and s.state != StepState.SUCCEEDED for s in steps)

    if unfinished({StepKind.FETCH_IMAGE, StepKind.VEO_GENERATE, StepKind.VEO_EXTEND, StepKind.JOIN_BROLL}):
        return JobStatus.PROCESSING_VEO
    if unfinished({StepKind.HEYGEN_UPLOAD, StepKind.HEYGEN_RENDER}):
        return JobStatus.PROCESSING_HEYGEN
    return JobStatus.COMPOSING


def progress_for(steps: list[JobStep], *, now=None) -> int:
    """5..95 while running: finished steps count fully, running ones by elapsed time against expectation."""
    now = now or timezone.now()
    total = sum(STEP_WEIGHTS[s.kind] for s in steps) or 1
    done = 0.0
    for step in steps:
        weight = STEP_WEIGHTS[step.kind]
        if step.state == StepState.SUCCEEDED:
            done += weight
        elif step.state in (StepState.SUBMITTED, StepState.UNKNOWN) and step.submitted_at:
            expected = expected_seconds(step)
            elapsed = (now - step.submitted_at).total_seconds()
            done += weight * min(0.9, max(0.0, elapsed / expected))
    return 5 + int(90 * done / total)


def expected_seconds(step: JobStep) -> float:
    pipeline = settings.PIPELINE
    if step.provider == Provider.VEO:
        return pipeline["VEO_EXPECTED_SECONDS"]
    if step.kind == StepKind.HEYGEN_RENDER:
        return pipeline["HEYGEN_EXPECTED_SECONDS"]
    return 10.0


def refresh_job(job_id, steps: list[JobStep] | None = None) -> None:
    """Move the job's status and progress forward to match its steps (never backwards)."""
    steps = list(JobStep.objects.filter(job_id=job_id)) if steps is None else steps
    if not steps:
        return
    advance_status(job_id, status_for(steps))
    raise_progress(job_id, progress_for(steps))


def advance_status(job_id, status: str) -> bool:
    earlier = [s for s in statuses_before(status) if JobStatus.rank(s) < JobStatus.rank(status)]
    return bool(earlier) and move_job(job_id, status, expect=earlier)


def raise_progress(job_id, progress: int) -> None:
    VideoJob.objects.filter(id=job_id, progress__lt=progress, status__in=ACTIVE_STATUSES).update(progress=progress)


def error_text(message: str, limit: int = 1000) -> str:
    """An error as it may be stored and shown (services/redact.py's readable), at most `limit` characters."""
    return readable(message, limit=limit)


def describe_failure(step: JobStep, message: str) -> str:
    stage = STAGE_NAMES.get(step.kind, step.kind)
    scene = f" (scene {step.scene_index + 1})" if step.scene_index is not None else ""
    return f"{stage}{scene} failed at {PROVIDER_NAMES[step.provider]}: {message}"


def fail_job(job_id, message: str, *, stage: str = metrics.OTHER) -> bool:
    """Mark the job failed and cancel every step that has not started, so nothing more is paid for it. `stage`: the
    kind of the step that failed it (the metrics' failure_stage)."""
    with transaction.atomic():
        failed = move_job(job_id, JobStatus.FAILED, expect=ACTIVE_STATUSES, error_message=error_text(message, 2000))
        if failed:
            stop_unstarted_steps(job_id)
            finished(job_id, JobStatus.FAILED)
            count_after_commit(JobStatus.FAILED, stage)
    if failed:
        logger.info("job %s failed: %s", job_id, message)
    return failed


def cancel_job_row(job_id) -> bool:
    with transaction.atomic():
        cancelled = move_job(job_id, JobStatus.CANCELLED, expect=ACTIVE_STATUSES)
        if cancelled:
            stop_unstarted_steps(job_id)
            finished(job_id, JobStatus.CANCELLED)
            count_after_commit(JobStatus.CANCELLED)
    return cancelled


def finished(job_id, status: str, credits: int = 0) -> None:
    """What follows every final transition, in its transaction: the domains' hooks (billing settles the job,
    webhooks writes its events to the outbox)."""
    job_finished.send(sender=VideoJob, job_id=job_id, status=status, credits=credits)


def count_after_commit(status: str, stage: str = metrics.NONE, *, job: VideoJob | None = None,
                       seconds: float = 0.0) -> None:
    """Count a final transition in the metrics once its transaction commits: it happened exactly once (the
    conditional UPDATE moved the row), and a rolled-back one, or a redelivered message that moved nothing, is never
    counted. A completed `job` also records its duration."""
    def record() -> None:
        metrics.count_job(status, stage)
        if job is not None:
            metrics.observe_job_duration(job.aspect_ratio, len(job.scenes_data or ()), seconds)

    transaction.on_commit(record)


def stop_unstarted_steps(job_id) -> None:
    move_steps(JobStep.objects.filter(job_id=job_id), StepState.CANCELLED, expect=[StepState.PENDING])


def complete_job(job_id, *, final_uri: str, duration_seconds: float, side_files: dict[str, str] | None = None) -> bool:
    """Deliver the job (its video, with the side files made beside it: deliverables.SIDE_FILES): charged its
    finished length (never more than its quote), its provider cost summed."""
    job = VideoJob.objects.filter(id=job_id).first()
    if job is None:  # erased meanwhile (accounts/services.py): nothing to deliver, nobody to charge
        return False
    cost = JobStep.objects.filter(job_id=job_id).aggregate(total=Sum("cost_usd"))["total"] or Decimal("0")
    credits = pricing.credits_charged(duration_seconds, job.quote.get("credits"))
    now = timezone.now()
    with transaction.atomic():
        completed = move_job(
            job_id, JobStatus.COMPLETED, expect=ACTIVE_STATUSES,
            progress=100,
            final_video_uri=final_uri,
            **{field: uri for field, uri in (side_files or {}).items() if field in SIDE_FILES},
            completed_at=now,
            video_expires_at=video_expiry(job.user_id, now),
            processing_time_seconds=int((now - job.created_at).total_seconds()),
            duration_seconds=round(duration_seconds, 3),
            credits_used=credits,
            cost_usd=cost,
            error_message=None,
        )
        if completed:
            finished(job_id, JobStatus.COMPLETED, credits)
            count_after_commit(JobStatus.COMPLETED, job=job, seconds=(now - job.created_at).total_seconds())
    return completed
