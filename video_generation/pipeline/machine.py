"""The durable state machine over JobStep rows: claim, submit, poll, reconcile, retry, sweep.

The allowed state changes and how each is applied live in states.py; what each kind of step does lives in
handlers.py. Rules (the reliability notes in the README, "Never paying twice"):
- a paid step first asks the provider's limiter (admission.py); over the limit it stays pending until its turn,
  unclaimed, and nothing is sent;
- a step is claimed with a conditional UPDATE; whoever updates 0 rows walks away without calling anyone;
- the provider is called outside any transaction; its operation id is saved the moment it returns, and a step
  with a saved id is only ever polled, never submitted again;
- no task waits for a provider: a poll re-enqueues itself with a countdown, and the sweeper re-drives any
  step whose message was lost (the rows are the queue, Celery messages are only a doorbell);
- permanent errors fail the job at once; transient ones back off and retry up to an attempt ceiling
  (services/retry.py), classified in one place (services/errors.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from video_saas import metrics

from .. import deliverables
from ..models import JobStatus, JobStep, StepKind, StepState, VideoJob
from ..services.errors import AmbiguousError, PermanentError, RateLimitedError, RetryableError
from ..services.retry import RetryPolicy
from . import admission, dispatch, plan, pricing
from .handlers import MEDIA_KINDS, Done, Failed, Running, Submitted, handler_for, queue_for
from .logcontext import job_context, step_context
from .states import ACTIVE_STATUSES, move_step
from .transitions import (
    advance_status,
    complete_job,
    describe_failure,
    error_text,
    expected_seconds,
    fail_job,
    refresh_job,
)

logger = logging.getLogger(__name__)

CLOCK_SLACK = timedelta(seconds=1)
MAX_REDRIVE_DOUBLINGS = 5  # a queued step is re-sent at most every 32 × REDRIVE_AFTER_SECONDS
UNCONFIRMED_MESSAGE = ("the provider never confirmed the request; it was not re-sent so that it cannot be paid "
                       "twice (retry the job to send it again)")
S = StepState
UNFINISHED = [state for state in S.values if state not in S.finished()]


def cfg(name: str) -> float:
    return settings.PIPELINE[name]


def submit_policy() -> RetryPolicy:
    """Attempts at a step's submit (or local work): backoff from 2 × POLL_MIN_SECONDS, at most MAX_ATTEMPTS."""
    return RetryPolicy(max_attempts=int(cfg("MAX_ATTEMPTS")), base_seconds=2 * cfg("POLL_MIN_SECONDS"),
                       cap_seconds=cfg("MAX_COUNTDOWN_SECONDS"))


def poll_error_policy() -> RetryPolicy:
    """Failed status checks in a row: MAX_POLL_ERRORS are tolerated, the next one gives the step up."""
    return RetryPolicy(max_attempts=int(cfg("MAX_POLL_ERRORS")) + 1, base_seconds=2 * cfg("POLL_MIN_SECONDS"),
                       cap_seconds=cfg("MAX_COUNTDOWN_SECONDS"))


# --- Starting and advancing a job -------------------------------------------------------------------------

def advance_job(job_id) -> None:
    """Start the job if it has no plan yet, then enqueue every step whose inputs are ready."""
    job = VideoJob.objects.filter(id=job_id).first()
    if job is None or job.is_terminal:
        return
    with job_context(job.id, job.request_id):
        ensure_plan(job)
        steps = list(JobStep.objects.filter(job_id=job.id))
        refresh_job(job.id, steps)
        enqueue_ready_steps(steps)


def ensure_plan(job: VideoJob) -> None:
    if job.steps.exists():
        return
    specs = plan.build_plan(product_title=job.product_title, scenes=job.scenes_data,
                            aspect_ratio=job.aspect_ratio, heygen_mode=job.heygen_mode,
                            veo_model=pricing.veo_model(job.quality), generate_audio=job.broll_audio,
                            scene_transitions=job.scene_transitions, broll_fit=job.broll_fit,
                            narration_seconds=pricing.narration_seconds(job.avatar_script),
                            crossfade=cfg("CROSSFADE_SECONDS"))
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
    return step.state == S.PENDING and due and all(key in succeeded_keys for key in step.depends_on)


def enqueue_ready_steps(steps: list[JobStep]) -> int:
    """Ring for every step of one job (all of its steps, as just read) whose inputs are ready."""
    succeeded = {s.key for s in steps if s.state == S.SUCCEEDED}
    now = timezone.now()
    ready = [s for s in steps if is_ready(s, succeeded, now)]
    for step in ready:
        enqueue_run(step)
    return len(ready)


def enqueue_run(step: JobStep, countdown: float | None = None) -> None:
    JobStep.objects.filter(id=step.id).update(last_enqueued_at=timezone.now(), redrives=0)
    dispatch.run_step(step.id, queue=queue_for(step), countdown=countdown)


def enqueue_poll(step_id, countdown: float) -> None:
    JobStep.objects.filter(id=step_id).update(last_enqueued_at=timezone.now())
    dispatch.poll_step(step_id, countdown=min(countdown, cfg("MAX_COUNTDOWN_SECONDS")))


# --- Running a step -----------------------------------------------------------------------------------------

def run_step(step_id) -> None:
    step = JobStep.objects.select_related("job").filter(id=step_id).first()
    if step is None or step.state != S.PENDING or step.job.is_terminal:
        return
    with step_context(step):
        run_pending_step(step)


def run_pending_step(step: JobStep) -> None:
    succeeded = set(JobStep.objects.filter(job_id=step.job_id, state=S.SUCCEEDED).values_list("key", flat=True))
    if not is_ready(step, succeeded, timezone.now()):
        return
    verdict = admission.admit(step, step.job)  # before the claim: a step over a provider's limit sends nothing
    if not verdict.admitted:
        wait_for_capacity(step, verdict.wait_seconds)
        return
    if not claim(step):
        if not admission.holds_slot(step):  # a slot is the step's own, now held by whoever claimed it
            admission.give_back(step, step.job)
        return
    step.refresh_from_db()
    job = VideoJob.objects.get(id=step.job_id)
    if job.is_terminal:  # cancelled between our read and our claim
        move_step(step, S.CANCELLED, expect=[step.state], same_attempt=True)
        admission.give_back(step, job)
        wake_next_waiting(step)
        return
    if submit_policy().exhausted(step.attempts - 1):  # this attempt would be one too many (a crash loop)
        fail_step(step, "too_many_attempts", f"gave up after {step.attempts - 1} attempts")
        return
    step.storage_uri = handler_for(step).prepare_attempt(step, job)
    if step.storage_uri:
        JobStep.objects.filter(id=step.id).update(storage_uri=step.storage_uri)
    submit(step, job)


def wait_for_capacity(step: JobStep, delay: float) -> None:
    """Over a provider's limit: the step stays pending until the limiter said it may go, and says so in its status.
    (Not a state change, and not an attempt: nothing was sent.)"""
    now = timezone.now()
    go_at = now + timedelta(seconds=delay)
    waiting = JobStep.objects.filter(id=step.id, state=S.PENDING).update(
        next_check_at=go_at, last_enqueued_at=now, redrives=0, error_code=admission.WAITING_CODE,
        error_message=error_text(admission.waiting_message(step, step.job, go_at)))
    if waiting:
        dispatch.run_step(step.id, queue=queue_for(step), countdown=min(delay, cfg("MAX_COUNTDOWN_SECONDS")))


def release_capacity(step: JobStep) -> None:
    """The step no longer needs its provider capacity (a HeyGen render's slot): free it for the next in line."""
    admission.release(step)
    wake_next_waiting(step)


def wake_next_waiting(step: JobStep) -> None:
    """Run the step of the same kind that has waited longest for capacity now, rather than at its next recheck."""
    if not admission.holds_slot(step):
        return
    waiting = (JobStep.objects.select_related("job")
               .filter(kind=step.kind, state=S.PENDING, error_code=admission.WAITING_CODE,
                       job__status__in=ACTIVE_STATUSES)
               .exclude(id=step.id).order_by("next_check_at").first())
    if waiting and JobStep.objects.filter(id=waiting.id, state=S.PENDING, next_check_at=waiting.next_check_at).update(
            next_check_at=timezone.now()):
        with step_context(waiting):  # another job's step: its message carries that job's request id
            enqueue_run(waiting)


def claim(step: JobStep) -> bool:
    """Compare-and-set on the step's own row: `running` for our own work, `submitting` for a provider call.
    (A condition on the job here would make Django emit `WHERE id IN (subquery)`, which PostgreSQL does not
    re-check after waiting for the row lock: several racing workers could all win. The job's status is checked
    right after the claim instead.)"""
    return move_step(step, S.RUNNING if handler_for(step).local else S.SUBMITTING, expect=[S.PENDING])


@contextlib.contextmanager
def lease_kept(step: JobStep):
    """Renew the step's lease while its work runs. Leases can then stay short, so a dead worker's step is
    recovered within seconds, while a long compose is never taken over by the sweeper."""
    stop = threading.Event()
    lease = timedelta(seconds=cfg("LEASE_SECONDS"))

    def renew() -> None:
        try:
            while not stop.wait(lease.total_seconds() / 3):
                JobStep.objects.filter(id=step.id, state=step.state, attempts=step.attempts).update(
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
        retry_later(step, exc, retry_after=exc.retry_after, counts_as_attempt=False)
    except RetryableError as exc:
        retry_later(step, exc)
    except AmbiguousError as exc:
        answer_lost(step, job, str(exc))
    except PermanentError as exc:
        fail_step(step, exc.code or "rejected", str(exc))
    except Exception as exc:  # including Celery's soft time limit: we cannot tell whether a request went out
        logger.exception("step %s of job %s raised", step.key, step.job_id)
        answer_lost(step, job, f"unexpected {type(exc).__name__}")
    else:
        if isinstance(outcome, Submitted):
            record_submission(step, outcome)
        else:
            succeed(step, outcome)


def record_submission(step: JobStep, outcome: Submitted) -> None:
    first_check = first_poll_delay(step)
    recorded = move_step(
        step, S.SUBMITTED, expect=[S.SUBMITTING, S.UNKNOWN], same_attempt=True,
        external_id=outcome.external_id, next_check_at=timezone.now() + timedelta(seconds=first_check),
        cost_usd=outcome.cost_usd, result={**step.result, **outcome.result}, error_count=0,
        error_code="", error_message="",
    )
    if recorded:
        refresh_job(step.job_id)
        enqueue_poll(step.id, first_check)
    else:
        logger.error("step %s lost its claim after submitting %s", step.id, outcome.external_id)


def retry_later(step: JobStep, exc: BaseException, *, retry_after: float | None = None,
                counts_as_attempt: bool = True, message: str | None = None) -> None:
    message = message or str(exc)
    policy = submit_policy()
    if counts_as_attempt and policy.exhausted(step.attempts):
        fail_step(step, getattr(exc, "code", "") or "retries_exhausted",
                  f"{message} (gave up after {step.attempts} attempts)")
        return
    delay = policy.delay(step.attempts, retry_after=retry_after)
    now = timezone.now()
    fields = {"last_enqueued_at": now, "redrives": 0, "next_check_at": now + timedelta(seconds=delay),
              "error_message": error_text(message), "error_code": error_text(getattr(exc, "code", ""), 100)}
    if not counts_as_attempt:
        fields["attempts"] = F("attempts") - 1
    if move_step(step, S.PENDING, expect=[step.state], same_attempt=True, **fields):
        release_capacity(step)  # it takes its turn again when it next runs
        dispatch.run_step(step.id, queue=queue_for(step), countdown=min(delay, cfg("MAX_COUNTDOWN_SECONDS")))


def answer_lost(step: JobStep, job: VideoJob, message: str) -> None:
    """The provider may or may not have accepted the work. Re-send only where that cannot pay twice."""
    if handler_for(step).resend_is_safe(step, job):
        retry_later(step, RetryableError(message, provider=step.provider), message=message)
        return
    delay = poll_interval(step)
    if move_step(step, S.UNKNOWN, expect=[S.SUBMITTING], same_attempt=True,
                 next_check_at=timezone.now() + timedelta(seconds=delay),
                 error_message=error_text(f"outcome unknown: {message}")):
        enqueue_poll(step.id, delay)


def succeed(step: JobStep, outcome: Done) -> None:
    cost = {} if outcome.cost_usd is None else {"cost_usd": outcome.cost_usd}
    with transaction.atomic():
        done = move_step(step, S.SUCCEEDED, expect=[S.RUNNING, S.SUBMITTING, S.SUBMITTED, S.UNKNOWN],
                         output_uri=outcome.output_uri, result={**step.result, **outcome.result},
                         error_code="", error_message="", **cost)
        if not done:
            return
        release_capacity(step)
        logger.info("job %s: step %s succeeded", step.job_id, step.key)
        steps = list(JobStep.objects.filter(job_id=step.job_id))  # read once, used for all that follows
        finished = next(s for s in steps if s.id == step.id)
        observe_after_commit(finished)
        after_success(finished)
        refresh_job(step.job_id, steps)
        enqueue_ready_steps(steps)


def observe_after_commit(step: JobStep) -> None:
    """The succeeded step's time from its first claim to its success, in the metrics once the success commits."""
    if step.started_at and step.finished_at:
        seconds = (step.finished_at - step.started_at).total_seconds()
        transaction.on_commit(lambda: metrics.observe_step(step.kind, step.provider, seconds))


def after_success(step: JobStep) -> None:
    """Record where the job's artifacts are. (Links to them are issued when asked for: downloads.py.)"""
    if step.kind == StepKind.COMPOSE:
        complete_job(step.job_id, final_uri=step.output_uri, duration_seconds=float(step.result.get("duration") or 0),
                     side_files=deliverables.recorded(step.result))
    elif step.params.get(plan.YIELDS_BROLL_PARAM):
        VideoJob.objects.filter(id=step.job_id).update(veo_video_gcs_uri=step.output_uri)


def fail_step(step: JobStep, code: str, message: str, *, billed: bool = False) -> None:
    fields = {"error_code": error_text(code, 100), "error_message": error_text(message)}
    if not billed:
        fields["cost_usd"] = 0
    if move_step(step, S.FAILED, expect=UNFINISHED, **fields):
        release_capacity(step)
        fail_job(step.job_id, describe_failure(step, message), stage=step.kind)


# --- Polling ------------------------------------------------------------------------------------------------

def first_poll_delay(step: JobStep) -> float:
    return min(max(expected_seconds(step), cfg("POLL_MIN_SECONDS")), cfg("MAX_COUNTDOWN_SECONDS"))


def poll_interval(step: JobStep) -> float:
    return min(max(expected_seconds(step) * 0.1, cfg("POLL_MIN_SECONDS")), cfg("POLL_INTERVAL_SECONDS"))


def poll_step(step_id) -> None:
    step = JobStep.objects.select_related("job").filter(id=step_id).first()
    if step is None or step.state not in (S.SUBMITTED, S.UNKNOWN):
        return
    with step_context(step):
        poll_submitted_step(step)


def poll_submitted_step(step: JobStep) -> None:
    if step.job.is_terminal:
        # The job was cancelled or failed elsewhere: its cost is on record; nothing more will be done with it.
        move_step(step, S.CANCELLED, expect=[step.state])
        release_capacity(step)
        return
    if not claim_poll(step):
        return
    if step.state == S.UNKNOWN:
        reconcile(step)
    elif companions := claim_companions(step):
        check_together(step, companions)
    else:
        check(step)


def claim_poll(step: JobStep, *, due_by=None) -> bool:
    """One poll per due time: a duplicate message (countdown + sweeper) finds nothing due and walks away.
    (Not a state change: the step stays submitted or unknown; only its next check moves.)"""
    now = timezone.now()
    return JobStep.objects.filter(
        id=step.id, state=step.state, next_check_at__lte=due_by or now + CLOCK_SLACK
    ).update(next_check_at=now + timedelta(seconds=cfg("LEASE_SECONDS")), poll_count=F("poll_count") + 1) == 1


def claim_companions(step: JobStep) -> list[JobStep]:
    """Other operations the same status call can answer (HeyGen v3 renders: up to 100 a call), claimed like any
    poll. Those due within half a poll interval come along early, so renders in flight fall into step and are
    checked together from then on; each is still checked once per interval, and its own message, arriving to
    find nothing due, walks away."""
    handler = handler_for(step)
    peers = handler.bulk_peers(step, step.job)
    if peers is None:
        return []
    now = timezone.now()
    due_by = now + timedelta(seconds=poll_interval(step) / 2)
    # A render not yet polled at all waits for its first poll at its expected finish, the likeliest time to find
    # it done: only one already polled comes along early.
    due = Q(next_check_at__lte=now + CLOCK_SLACK) | Q(poll_count__gt=0, next_check_at__lte=due_by)
    candidates = (JobStep.objects.select_related("job").filter(peers, due, kind=step.kind, state=S.SUBMITTED,
                                                                job__status__in=ACTIVE_STATUSES)
                  .exclude(id=step.id).exclude(external_id="")
                  # one whose message for this due time is already out (handed off when found done, or re-sent
                  # by the sweeper) is left to it: taking it along would only hand it off again
                  .exclude(last_enqueued_at__gte=F("next_check_at"))
                  .order_by("next_check_at")[:handler.bulk_size - 1])
    return [c for c in candidates if claim_poll(c, due_by=due_by)]


def check(step: JobStep) -> None:
    try:
        outcome = handler_for(step).check(step, step.job)
    except Exception as exc:  # including Celery's soft time limit
        outcome = exc
    settle_check(step, outcome)


def check_together(step: JobStep, companions: list[JobStep]) -> None:
    """One status call for `step` and its companions. A finished companion is handed to a poll of its own (which
    fetches and stores its output); `step` itself is finished here, with a check of its own if it is done."""
    try:
        seen = handler_for(step).check_many([step, *companions])
    except Exception as exc:
        for each in (step, *companions):
            with step_context(each):
                settle_check(each, exc)
        return
    for companion in companions:  # each of another job, perhaps: its lines and messages carry its own context
        outcome = seen.get(companion.id)
        with step_context(companion):
            if outcome is None:
                poll_now(companion)
            else:
                settle_check(companion, outcome)
    outcome = seen.get(step.id)
    if outcome is None:
        check(step)
    else:
        settle_check(step, outcome)


def poll_now(step: JobStep) -> None:
    if JobStep.objects.filter(id=step.id, state=S.SUBMITTED).update(next_check_at=timezone.now()):
        enqueue_poll(step.id, 0)


def settle_check(step: JobStep, outcome) -> None:
    """Act on what a status check found: an outcome, or the error it raised."""
    if isinstance(outcome, RateLimitedError):
        poll_again(step, error=outcome, retry_after=outcome.retry_after)
    elif isinstance(outcome, RetryableError):
        poll_again(step, error=outcome)
    elif isinstance(outcome, PermanentError):
        fail_step(step, outcome.code or "rejected", str(outcome), billed=True)
    elif isinstance(outcome, BaseException):
        logger.error("poll of step %s raised", step.key, exc_info=outcome)
        poll_again(step, error=outcome)
    elif isinstance(outcome, Running):
        if (timezone.now() - step.submitted_at).total_seconds() > cfg("STEP_DEADLINE_SECONDS"):
            fail_step(step, "timeout", "the provider did not finish in time", billed=True)
            return
        admission.renew(step)
        poll_again(step)
        refresh_job(step.job_id)
    elif isinstance(outcome, Failed):
        fail_step(step, outcome.code, outcome.message, billed=outcome.billed)
    else:
        succeed(step, outcome)


def poll_again(step: JobStep, *, error: BaseException | None = None, retry_after: float | None = None) -> None:
    """Schedule the next status check: at the usual interval, or backing off after a failed check."""
    if error is None:
        delay, fields = poll_interval(step), {"error_count": 0}
    else:
        errors = step.error_count + 1
        policy = poll_error_policy()
        if policy.exhausted(errors):
            fail_step(step, getattr(error, "code", "") or "poll_failed",
                      f"could not get the status: {error}", billed=True)
            return
        delay = policy.delay(errors, retry_after=retry_after)
        fields = {"error_count": F("error_count") + 1, "error_message": error_text(str(error))}
    JobStep.objects.filter(id=step.id, state=step.state).update(
        next_check_at=timezone.now() + timedelta(seconds=delay), **fields)
    enqueue_poll(step.id, delay)


def reconcile(step: JobStep) -> None:
    handler = handler_for(step)
    if not handler.reconciles:
        fail_step(step, "outcome_unknown", UNCONFIRMED_MESSAGE)
        return
    found = handler.reconcile(step, step.job)
    if found is not None:
        logger.info("step %s: output of the unconfirmed submit found; adopting it", step.key)
        succeed(step, found)
        return
    waited = (timezone.now() - (step.submitted_at or timezone.now())).total_seconds()
    if waited < cfg("AMBIGUOUS_RECONCILE_SECONDS"):
        poll_again(step)
        return
    # Nothing was written in the whole window: the provider did not run it (and blocked runs are not billed).
    if move_step(step, S.PENDING, expect=[S.UNKNOWN], next_check_at=None, submitted_at=None):
        enqueue_run(step)


# --- The sweeper --------------------------------------------------------------------------------------------

def sweep() -> dict[str, int]:
    """Re-drive everything whose Celery message was lost. Safe to run any number of times at once."""
    now = timezone.now()
    redrive_before = now - timedelta(seconds=cfg("REDRIVE_AFTER_SECONDS"))
    counts = {"jobs_started": 0, "leases_expired": 0, "polls": 0, "steps": 0}

    never_started = VideoJob.objects.filter(status=JobStatus.PENDING, created_at__lt=redrive_before,
                                            steps__isnull=True)
    for job_id, request_id in never_started.values_list("id", "request_id"):
        with job_context(job_id, request_id):
            dispatch.start_job(job_id)
        counts["jobs_started"] += 1

    for step in JobStep.objects.select_related("job").filter(state__in=S.claimed(), lease_expires_at__lt=now):
        with step_context(step):
            lease_expired(step)
        counts["leases_expired"] += 1

    # A poll is overdue when its time has passed and no message for it went out recently (the latest one may
    # just be waiting in a busy queue: re-publishing it on every sweep would only flood the broker).
    due_polls = JobStep.objects.filter(
        state__in=[S.SUBMITTED, S.UNKNOWN],
        next_check_at__lt=now - timedelta(seconds=cfg("POLL_MIN_SECONDS")),
    ).filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lt=redrive_before))
    for step_id, job_id, request_id in due_polls.values_list("id", "job_id", "job__request_id"):
        JobStep.objects.filter(id=step_id).update(last_enqueued_at=now)
        with job_context(job_id, request_id):
            dispatch.poll_step(step_id)
        counts["polls"] += 1

    counts["steps"] = redrive_pending_steps(now, redrive_before)
    return counts


def lease_expired(step: JobStep) -> None:
    """A worker died mid-step. Local work and idempotent submits start over; a paid submit is reconciled."""
    job = step.job
    if job.is_terminal:
        move_step(step, S.CANCELLED, expect=[step.state], same_attempt=True)
    elif handler_for(step).resend_is_safe(step, job):
        if move_step(step, S.PENDING, expect=[step.state], same_attempt=True, next_check_at=None):
            enqueue_run(step)
    elif move_step(step, S.UNKNOWN, expect=[S.SUBMITTING], same_attempt=True, next_check_at=timezone.now(),
                   error_message="the worker stopped while submitting; checking whether the provider got it"):
        enqueue_poll(step.id, 0)


def redrive_pending_steps(now, redrive_before) -> int:
    candidates = list(
        JobStep.objects.filter(state=S.PENDING, job__status__in=ACTIVE_STATUSES)
        .filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lt=redrive_before))
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
    )
    if not candidates:
        return 0
    succeeded: dict = {}
    for job_id, key in JobStep.objects.filter(job_id__in={s.job_id for s in candidates},
                                              state=S.SUCCEEDED).values_list("job_id", "key"):
        succeeded.setdefault(job_id, set()).add(key)
    due = [s for s in candidates if is_ready(s, succeeded.get(s.job_id, set()), now) and redrive_due(s, now)]
    waiting = waiting_their_turn(due, now)
    ready = [s for s in due if s.id not in waiting]
    request_ids = dict(VideoJob.objects.filter(id__in={s.job_id for s in ready}).values_list("id", "request_id"))
    for step in ready:
        JobStep.objects.filter(id=step.id).update(last_enqueued_at=now, redrives=F("redrives") + 1)
        with job_context(step.job_id, request_ids.get(step.job_id, "")):
            dispatch.run_step(step.id, queue=queue_for(step))
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
