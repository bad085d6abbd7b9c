"""The durable state machine over JobStep rows.

    pending ──claim──▶ submitting ──provider accepted──▶ submitted ──poll: done──▶ succeeded
       ▲                   │  │                            │
       │ transient error   │  └─answer lost─▶ unknown ──reconcile: output found──▶ succeeded
       └───────────────────┘                    └─nothing after the window──▶ pending (Veo) / failed (v2)

Rules (reference/reliability.md B2):
- a step is claimed with a conditional UPDATE; whoever updates 0 rows walks away without calling anyone;
- the provider is called outside any transaction; its operation id is saved the moment it returns, and a step
  with a saved id is only ever polled, never submitted again;
- no task waits for a provider: a poll re-enqueues itself with a countdown, and the sweeper re-drives any
  step whose message was lost (the rows are the queue, Celery messages are only a doorbell);
- permanent errors fail the job at once; transient ones back off and retry up to an attempt ceiling.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import JobStatus, JobStep, Provider, StepKind, StepState, VideoJob
from ..services.errors import AmbiguousError, PermanentError, RateLimitedError, RetryableError
from ..services.storage import get_storage
from . import dispatch, plan
from .handlers import Done, Failed, Running, Submitted, handler_for, resend_is_safe
from .transitions import (
    ACTIVE_STATUSES,
    advance_status,
    complete_job,
    describe_failure,
    expected_seconds,
    fail_job,
    refresh_job,
)

logger = logging.getLogger(__name__)

RUN_STEP = "video_generation.tasks.run_step"
POLL_STEP = "video_generation.tasks.poll_step"
PROCESS_JOB = "video_generation.tasks.process_video_job"
CLOCK_SLACK = timedelta(seconds=1)
MAX_REDRIVE_DOUBLINGS = 5  # a queued step is re-sent at most every 32 × REDRIVE_AFTER_SECONDS
UNCONFIRMED_MESSAGE = ("the provider never confirmed the request; it was not re-sent so that it cannot be paid "
                       "twice (retry the job to send it again)")


def cfg(name: str) -> float:
    return settings.PIPELINE[name]


# --- Starting and advancing a job -------------------------------------------------------------------------

def advance_job(job_id) -> None:
    """Start the job if it has no plan yet, then enqueue every step whose inputs are ready."""
    job = VideoJob.objects.filter(id=job_id).first()
    if job is None or job.is_terminal:
        return
    ensure_plan(job)
    refresh_job(job.id)
    enqueue_ready_steps(job.id)


def ensure_plan(job: VideoJob) -> None:
    if job.steps.exists():
        return
    specs = plan.build_plan(product_title=job.product_title, scenes=job.scenes_data,
                            aspect_ratio=job.aspect_ratio, heygen_mode=job.heygen_mode)
    try:
        with transaction.atomic():
            locked = VideoJob.objects.select_for_update().get(id=job.id)
            if locked.steps.exists():
                return
            JobStep.objects.bulk_create([
                JobStep(job=job, key=s.key, kind=s.kind, provider=s.provider, depends_on=s.depends_on,
                        chain_index=s.chain_index, scene_index=s.scene_index, params=s.params)
                for s in specs
            ])
    except IntegrityError:  # another worker planned it first
        return
    advance_status(job.id, JobStatus.PROCESSING_VEO)


def is_ready(step: JobStep, succeeded_keys: set[str], now) -> bool:
    due = step.next_check_at is None or step.next_check_at <= now + CLOCK_SLACK
    return step.state == StepState.PENDING and due and all(key in succeeded_keys for key in step.depends_on)


def enqueue_ready_steps(job_id) -> int:
    steps = list(JobStep.objects.filter(job_id=job_id))
    succeeded = {s.key for s in steps if s.state == StepState.SUCCEEDED}
    now = timezone.now()
    ready = [s for s in steps if is_ready(s, succeeded, now)]
    for step in ready:
        enqueue_run(step)
    return len(ready)


# CPU-bound local steps go to their own queue, so a burst of them never holds up a provider poll.
MEDIA_KINDS = frozenset({StepKind.JOIN_BROLL, StepKind.COMPOSE})


def queue_for(step: JobStep) -> str | None:
    return settings.MEDIA_QUEUE if step.kind in MEDIA_KINDS else None


def enqueue_run(step: JobStep, countdown: float | None = None) -> None:
    JobStep.objects.filter(id=step.id).update(last_enqueued_at=timezone.now(), redrives=0)
    dispatch.enqueue(RUN_STEP, str(step.id), countdown=countdown, queue=queue_for(step))


def enqueue_poll(step_id, countdown: float) -> None:
    JobStep.objects.filter(id=step_id).update(last_enqueued_at=timezone.now())
    dispatch.enqueue(POLL_STEP, str(step_id), countdown=min(countdown, cfg("MAX_COUNTDOWN_SECONDS")))


# --- Running a step -----------------------------------------------------------------------------------------

def run_step(step_id) -> None:
    step = JobStep.objects.select_related("job").filter(id=step_id).first()
    if step is None or step.state != StepState.PENDING or step.job.is_terminal:
        return
    succeeded = set(JobStep.objects.filter(job_id=step.job_id, state=StepState.SUCCEEDED)
                    .values_list("key", flat=True))
    if not is_ready(step, succeeded, timezone.now()):
        return
    if not claim(step):
        return
    step.refresh_from_db()
    job = VideoJob.objects.get(id=step.job_id)
    if job.is_terminal:  # cancelled between our read and our claim
        JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING).update(state=StepState.CANCELLED)
        return
    if step.attempts > cfg("MAX_ATTEMPTS"):
        fail_step(step, "too_many_attempts", f"gave up after {step.attempts - 1} attempts")
        return
    prepare_attempt(step, job)
    submit(step, job)


def claim(step: JobStep) -> bool:
    """Compare-and-set on the step's own row. (A condition on the job here would make Django emit
    `WHERE id IN (subquery)`, which PostgreSQL does not re-check after waiting for the row lock: several
    racing workers could all win. The job's status is checked right after the claim instead.)"""
    now = timezone.now()
    return JobStep.objects.filter(id=step.id, state=StepState.PENDING).update(
        state=StepState.SUBMITTING,
        attempts=F("attempts") + 1,
        lease_expires_at=now + timedelta(seconds=cfg("LEASE_SECONDS")),
        started_at=Coalesce(F("started_at"), now),
    ) == 1


def prepare_attempt(step: JobStep, job: VideoJob) -> None:
    """Give each Veo attempt its own output prefix, saved before the call, so a lost answer can be traced."""
    if step.provider == Provider.VEO:
        step.storage_uri = handler_for(step).attempt_prefix(step, job, step.attempts) or ""
        JobStep.objects.filter(id=step.id).update(storage_uri=step.storage_uri)


@contextlib.contextmanager
def lease_kept(step: JobStep):
    """Renew the step's lease while its work runs. Leases can then stay short, so a dead worker's step is
    recovered within seconds, while a long compose is never taken over by the sweeper."""
    stop = threading.Event()
    lease = timedelta(seconds=cfg("LEASE_SECONDS"))

    def renew() -> None:
        try:
            while not stop.wait(lease.total_seconds() / 3):
                JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING, attempts=step.attempts).update(
                    lease_expires_at=timezone.now() + lease)
        finally:
            connections.close_all()  # this thread's own connections

    renewer = threading.Thread(target=renew, name=f"lease-{step.id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=10)


def submit(step: JobStep, job: VideoJob) -> None:
    handler = handler_for(step)
    try:
        with lease_kept(step):
            outcome = handler.submit(step, job)
    except RateLimitedError as exc:
        retry_later(step, exc, delay=exc.retry_after, counts_as_attempt=False)
    except RetryableError as exc:
        retry_later(step, exc)
    except AmbiguousError as exc:
        answer_lost(step, job, str(exc))
    except PermanentError as exc:
        fail_step(step, exc.code or "rejected", str(exc))
    except Exception as exc:  # including Celery's soft time limit
        logger.exception("step %s of job %s raised", step.key, step.job_id)
        message = f"unexpected {type(exc).__name__}"
        if step.provider == Provider.LOCAL:
            retry_later(step, exc, message=message)
        else:  # we cannot tell whether the request went out
            answer_lost(step, job, message)
    else:
        if isinstance(outcome, Submitted):
            record_submission(step, outcome)
        else:
            succeed(step, outcome)


def record_submission(step: JobStep, outcome: Submitted) -> None:
    now = timezone.now()
    first_check = first_poll_delay(step)
    recorded = JobStep.objects.filter(
        id=step.id, attempts=step.attempts, state__in=[StepState.SUBMITTING, StepState.UNKNOWN]
    ).update(
        state=StepState.SUBMITTED, external_id=outcome.external_id, submitted_at=now,
        next_check_at=now + timedelta(seconds=first_check), lease_expires_at=None,
        cost_usd=outcome.cost_usd, result={**step.result, **outcome.result}, error_count=0,
        error_code="", error_message="",
    )
    if recorded:
        refresh_job(step.job_id)
        enqueue_poll(step.id, first_check)
    else:
        logger.error("step %s lost its claim after submitting %s", step.id, outcome.external_id)


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter, capped below the longest countdown we allow."""
    ceiling = min(cfg("MAX_COUNTDOWN_SECONDS"), cfg("POLL_MIN_SECONDS") * 2 ** max(0, attempt))
    return random.uniform(ceiling / 2, ceiling)


def retry_later(step: JobStep, exc: BaseException, *, delay: float | None = None,
                counts_as_attempt: bool = True, message: str | None = None) -> None:
    message = message or str(exc)
    if counts_as_attempt and step.attempts >= cfg("MAX_ATTEMPTS"):
        fail_step(step, getattr(exc, "code", "") or "retries_exhausted",
                  f"{message} (gave up after {step.attempts} attempts)")
        return
    delay = backoff(step.attempts) if delay is None else delay + random.uniform(0, 1)
    now = timezone.now()
    updates = {"state": StepState.PENDING, "lease_expires_at": None, "last_enqueued_at": now, "redrives": 0,
               "next_check_at": now + timedelta(seconds=delay), "error_message": message[:1000],
               "error_code": getattr(exc, "code", "")[:100]}
    if not counts_as_attempt:
        updates["attempts"] = F("attempts") - 1
    if JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING, attempts=step.attempts).update(**updates):
        dispatch.enqueue(RUN_STEP, str(step.id), countdown=min(delay, cfg("MAX_COUNTDOWN_SECONDS")),
                         queue=queue_for(step))


def answer_lost(step: JobStep, job: VideoJob, message: str) -> None:
    """The provider may or may not have accepted the work. Re-send only where that cannot pay twice."""
    if resend_is_safe(step, job):
        retry_later(step, RetryableError(message, provider=step.provider), message=message)
        return
    delay = poll_interval(step)
    now = timezone.now()
    if JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING, attempts=step.attempts).update(
        state=StepState.UNKNOWN, lease_expires_at=None, submitted_at=now,
        next_check_at=now + timedelta(seconds=delay), error_message=f"outcome unknown: {message}"[:1000],
    ):
        enqueue_poll(step.id, delay)


def succeed(step: JobStep, outcome: Done) -> None:
    with transaction.atomic():
        done = JobStep.objects.filter(
            id=step.id, state__in=[StepState.SUBMITTING, StepState.SUBMITTED, StepState.UNKNOWN]
        ).update(
            state=StepState.SUCCEEDED, output_uri=outcome.output_uri, result={**step.result, **outcome.result},
            finished_at=timezone.now(), lease_expires_at=None, next_check_at=None, error_code="",
            error_message="",
        )
        if not done:
            return
        logger.info("job %s: step %s succeeded", step.job_id, step.key)
        step.refresh_from_db()
        after_success(step)
        refresh_job(step.job_id)
        enqueue_ready_steps(step.job_id)


def after_success(step: JobStep) -> None:
    job = step.job
    if step.kind == StepKind.COMPOSE:
        storage = get_storage()
        complete_job(job.id, final_uri=step.output_uri, final_url=storage.signed_url(step.output_uri),
                     duration_seconds=float(step.result.get("duration") or 0))
    elif is_broll_source(step):
        VideoJob.objects.filter(id=job.id).update(
            veo_video_gcs_uri=step.output_uri, veo_video_url=get_storage().signed_url(step.output_uri))


def is_broll_source(step: JobStep) -> bool:
    if step.kind == StepKind.JOIN_BROLL:
        return True
    if step.provider != Provider.VEO:
        return False
    consumers = JobStep.objects.filter(job_id=step.job_id).exclude(id=step.id)
    return not any(step.key in other.depends_on and other.provider == Provider.VEO for other in consumers) \
        and not consumers.filter(kind=StepKind.JOIN_BROLL).exists()


def fail_step(step: JobStep, code: str, message: str, *, billed: bool = False) -> None:
    updates = {"state": StepState.FAILED, "error_code": code[:100], "error_message": message[:1000],
               "finished_at": timezone.now(), "lease_expires_at": None, "next_check_at": None}
    if not billed:
        updates["cost_usd"] = 0
    if JobStep.objects.filter(id=step.id).exclude(state__in=StepState.finished()).update(**updates):
        fail_job(step.job_id, describe_failure(step, message))


# --- Polling ------------------------------------------------------------------------------------------------

def first_poll_delay(step: JobStep) -> float:
    return min(max(expected_seconds(step), cfg("POLL_MIN_SECONDS")), cfg("MAX_COUNTDOWN_SECONDS"))


def poll_interval(step: JobStep) -> float:
    return min(max(expected_seconds(step) * 0.1, cfg("POLL_MIN_SECONDS")), cfg("POLL_INTERVAL_SECONDS"))


def poll_step(step_id) -> None:
    step = JobStep.objects.select_related("job").filter(id=step_id).first()
    if step is None or step.state not in (StepState.SUBMITTED, StepState.UNKNOWN):
        return
    if step.job.is_terminal:
        # The job was cancelled or failed elsewhere: its cost is on record; nothing more will be done with it.
        JobStep.objects.filter(id=step.id, state=step.state).update(state=StepState.CANCELLED,
                                                                   finished_at=timezone.now())
        return
    if not claim_poll(step):
        return
    if step.state == StepState.UNKNOWN:
        reconcile(step)
    else:
        check(step)


def claim_poll(step: JobStep) -> bool:
    """One poll per due time: a duplicate message (countdown + sweeper) finds nothing due and walks away."""
    now = timezone.now()
    return JobStep.objects.filter(
        id=step.id, state=step.state, next_check_at__lte=now + CLOCK_SLACK
    ).update(next_check_at=now + timedelta(seconds=cfg("LEASE_SECONDS")), poll_count=F("poll_count") + 1) == 1


def check(step: JobStep) -> None:
    job = step.job
    try:
        outcome = handler_for(step).check(step, job)
    except RateLimitedError as exc:
        poll_again(step, exc.retry_after, error=exc)
        return
    except RetryableError as exc:
        poll_again(step, None, error=exc)
        return
    except PermanentError as exc:
        fail_step(step, exc.code or "rejected", str(exc), billed=True)
        return
    except Exception as exc:  # including Celery's soft time limit
        logger.exception("poll of step %s raised", step.key)
        poll_again(step, None, error=exc)
        return

    if isinstance(outcome, Running):
        if (timezone.now() - step.submitted_at).total_seconds() > cfg("STEP_DEADLINE_SECONDS"):
            fail_step(step, "timeout", "the provider did not finish in time", billed=True)
            return
        poll_again(step, poll_interval(step))
        refresh_job(step.job_id)
    elif isinstance(outcome, Failed):
        fail_step(step, outcome.code, outcome.message, billed=outcome.billed)
    else:
        succeed(step, outcome)


def poll_again(step: JobStep, delay: float | None, *, error: BaseException | None = None) -> None:
    updates = {}
    if error is not None:
        step.error_count += 1
        if step.error_count > cfg("MAX_POLL_ERRORS"):
            fail_step(step, getattr(error, "code", "") or "poll_failed",
                      f"could not get the status: {error}", billed=True)
            return
        updates = {"error_count": F("error_count") + 1, "error_message": str(error)[:1000]}
        delay = backoff(step.error_count) if delay is None else delay
    else:
        updates = {"error_count": 0}
    delay = delay if delay is not None else poll_interval(step)
    JobStep.objects.filter(id=step.id, state=step.state).update(
        next_check_at=timezone.now() + timedelta(seconds=delay), **updates)
    enqueue_poll(step.id, delay)


def reconcile(step: JobStep) -> None:
    handler = handler_for(step)
    if not hasattr(handler, "reconcile"):
        fail_step(step, "outcome_unknown", UNCONFIRMED_MESSAGE)
        return
    found = handler.reconcile(step, step.job)
    if found is not None:
        logger.info("step %s: output of the unconfirmed submit found; adopting it", step.key)
        succeed(step, found)
        return
    waited = (timezone.now() - (step.submitted_at or timezone.now())).total_seconds()
    if waited < cfg("AMBIGUOUS_RECONCILE_SECONDS"):
        poll_again(step, poll_interval(step))
        return
    if step.provider == Provider.VEO:
        # Nothing was written in the whole window: Veo did not run it (and blocked runs are not billed).
        JobStep.objects.filter(id=step.id, state=StepState.UNKNOWN).update(
            state=StepState.PENDING, next_check_at=None, submitted_at=None)
        enqueue_run(step)
    else:
        fail_step(step, "outcome_unknown", UNCONFIRMED_MESSAGE)


# --- The sweeper --------------------------------------------------------------------------------------------

def sweep() -> dict[str, int]:
    """Re-drive everything whose Celery message was lost. Safe to run any number of times at once."""
    now = timezone.now()
    redrive_before = now - timedelta(seconds=cfg("REDRIVE_AFTER_SECONDS"))
    counts = {"jobs_started": 0, "leases_expired": 0, "polls": 0, "steps": 0}

    never_started = VideoJob.objects.filter(status=JobStatus.PENDING, created_at__lt=redrive_before,
                                            steps__isnull=True)
    for job_id in never_started.values_list("id", flat=True):
        dispatch.publish(PROCESS_JOB, str(job_id))
        counts["jobs_started"] += 1

    for step in JobStep.objects.select_related("job").filter(state=StepState.SUBMITTING, lease_expires_at__lt=now):
        lease_expired(step)
        counts["leases_expired"] += 1

    # A poll is overdue when its time has passed and no message for it went out recently (the latest one may
    # just be waiting in a busy queue: re-publishing it on every sweep would only flood the broker).
    due_polls = JobStep.objects.filter(
        state__in=[StepState.SUBMITTED, StepState.UNKNOWN],
        next_check_at__lt=now - timedelta(seconds=cfg("POLL_MIN_SECONDS")),
    ).filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lt=redrive_before))
    for step_id in due_polls.values_list("id", flat=True):
        JobStep.objects.filter(id=step_id).update(last_enqueued_at=now)
        dispatch.publish(POLL_STEP, str(step_id))
        counts["polls"] += 1

    counts["steps"] = redrive_pending_steps(now, redrive_before)
    return counts


def lease_expired(step: JobStep) -> None:
    """A worker died mid-step. Local work and idempotent submits start over; a paid submit is reconciled."""
    job = step.job
    if job.is_terminal:
        JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING).update(state=StepState.CANCELLED)
    elif step.provider == Provider.LOCAL or resend_is_safe(step, job):
        if JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING, attempts=step.attempts).update(
                state=StepState.PENDING, lease_expires_at=None, next_check_at=None):
            enqueue_run(step)
    else:
        now = timezone.now()
        if JobStep.objects.filter(id=step.id, state=StepState.SUBMITTING, attempts=step.attempts).update(
                state=StepState.UNKNOWN, lease_expires_at=None, submitted_at=now, next_check_at=now,
                error_message="the worker stopped while submitting; checking whether the provider got it"):
            enqueue_poll(step.id, 0)


def redrive_pending_steps(now, redrive_before) -> int:
    candidates = list(
        JobStep.objects.filter(state=StepState.PENDING, job__status__in=ACTIVE_STATUSES)
        .filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lt=redrive_before))
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
    )
    if not candidates:
        return 0
    succeeded: dict = {}
    for job_id, key in JobStep.objects.filter(job_id__in={s.job_id for s in candidates},
                                              state=StepState.SUCCEEDED).values_list("job_id", "key"):
        succeeded.setdefault(job_id, set()).add(key)
    due = [s for s in candidates if is_ready(s, succeeded.get(s.job_id, set()), now) and redrive_due(s, now)]
    waiting = waiting_their_turn(due, now)
    ready = [s for s in due if s.id not in waiting]
    for step in ready:
        JobStep.objects.filter(id=step.id).update(last_enqueued_at=now, redrives=F("redrives") + 1)
        dispatch.publish(RUN_STEP, str(step.id), queue=queue_for(step))
    return len(ready)


def waiting_their_turn(candidates: list[JobStep], now) -> set[int]:
    """Ids of candidates whose message is most likely still in its queue behind others: the queue is being worked
    (a step on it was taken within REDRIVE_AFTER_SECONDS) and nothing queued after them has been taken yet.
    Queues are first in, first out, so once a later message has been taken, an earlier one was lost; a queue
    that nobody is taking from tells nothing, and its steps are re-sent as usual."""
    recent = now - timedelta(seconds=cfg("REDRIVE_AFTER_SECONDS"))
    by_queue: dict[str | None, list[JobStep]] = {}
    for s in candidates:
        if s.last_enqueued_at:
            by_queue.setdefault(queue_for(s), []).append(s)
    waiting: set[int] = set()
    for queue, group in by_queue.items():
        same_queue = Q(kind__in=MEDIA_KINDS) if queue else ~Q(kind__in=MEDIA_KINDS)
        newest_taken = (JobStep.objects.filter(same_queue, started_at__gte=recent)
                        .filter(started_at__gte=F("last_enqueued_at"))
                        .aggregate(newest=Max("last_enqueued_at"))["newest"])
        if newest_taken is not None:
            waiting |= {s.id for s in group if s.last_enqueued_at >= newest_taken - CLOCK_SLACK}
    return waiting


def redrive_due(step: JobStep, now) -> bool:
    """The sweeper cannot tell a lost message from one still waiting in a long queue (a backlog of composes):
    each re-send doubles the wait before the next, so a queued step gets a handful of duplicates, not hundreds."""
    if step.last_enqueued_at is None:
        return True
    window = cfg("REDRIVE_AFTER_SECONDS") * 2 ** min(step.redrives, MAX_REDRIVE_DOUBLINGS)
    return (now - step.last_enqueued_at).total_seconds() >= window
