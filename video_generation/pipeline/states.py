"""Which state changes a step and a job may make, and the one way each is applied.

A change is a conditional UPDATE: it happens only if the row is still in one of the states the caller saw
(`expect`), so racing workers, redelivered messages and late polls can never undo each other's work; whoever
updates no row walks away. The timestamps and counters that go with a state are set here and nowhere else:

- entering `running` or `submitting` (a claim) counts an attempt, starts a lease and stamps `started_at` once;
- entering `submitted` or `unknown` stamps `submitted_at`, from which polls and the reconcile window count;
- entering a final state stamps `finished_at` and clears the lease and the next check;
- any state that is not claimed has no lease; any state that is not final has no `finished_at`.

    pending ──claim──▶ running (local work) ─────────────────────────────────────────────▶ succeeded
       ▲   └──claim──▶ submitting ──accepted──▶ submitted ──poll: done──────────────────▶ succeeded
       │                  │   └─answer lost──▶ unknown ──reconcile: output found─────────▶ succeeded
       └── retry later ───┘                       └─nothing in the window─▶ pending (Veo) / failed
       (any unfinished step can end failed or cancelled; retrying a failed job puts them back to pending)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import JobStatus, JobStep, StepState, VideoJob

S = StepState
STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING, S.SUBMITTING, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.PENDING, S.FAILED, S.CANCELLED}),
    S.SUBMITTING: frozenset({S.SUBMITTED, S.SUCCEEDED, S.UNKNOWN, S.PENDING, S.FAILED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    # A late answer to the lost submit is still recorded (SUBMITTED); otherwise its output is looked for.
    S.UNKNOWN: frozenset({S.SUBMITTED, S.SUCCEEDED, S.PENDING, S.FAILED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset({S.PENDING}),  # retrying a failed job
    # When a failed job is retried, a step it stopped starts again, or, if its provider operation was already
    # running, is polled again (never paid for twice).
    S.CANCELLED: frozenset({S.PENDING, S.SUBMITTED}),
}

J = JobStatus
ACTIVE_STATUSES = (J.PENDING, J.PROCESSING_VEO, J.PROCESSING_HEYGEN, J.COMPOSING)
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    J.PENDING: frozenset({J.PROCESSING_VEO, J.PROCESSING_HEYGEN, J.COMPOSING, J.COMPLETED, J.FAILED, J.CANCELLED}),
    J.PROCESSING_VEO: frozenset({J.PROCESSING_HEYGEN, J.COMPOSING, J.COMPLETED, J.FAILED, J.CANCELLED}),
    J.PROCESSING_HEYGEN: frozenset({J.COMPOSING, J.COMPLETED, J.FAILED, J.CANCELLED}),
    J.COMPOSING: frozenset({J.COMPLETED, J.FAILED, J.CANCELLED}),
    J.COMPLETED: frozenset(),
    J.FAILED: frozenset({J.PENDING}),  # retried from its last good step
    J.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    """A programming error: code asked for a state change the tables do not allow."""


def _allowed(table: dict[str, frozenset[str]], expect: Iterable[str], to: str) -> list[str]:
    expect = list(expect)
    illegal = [state for state in expect if to not in table[state]]
    if illegal or not expect:
        raise IllegalTransition(f"{', '.join(illegal) or 'nothing'} -> {to} is not an allowed transition")
    return expect


# --- Steps ----------------------------------------------------------------------------------------------------

def lease_seconds() -> float:
    return settings.PIPELINE["LEASE_SECONDS"]


def step_fields(to: str, now) -> dict:
    """The columns that always change with entering `to`."""
    fields: dict = {"state": to, "finished_at": now if to in S.finished() else None}
    if to in S.claimed():
        fields.update(attempts=F("attempts") + 1, started_at=Coalesce(F("started_at"), Value(now)),
                      lease_expires_at=now + timedelta(seconds=lease_seconds()))
    else:
        fields["lease_expires_at"] = None
    if to in (S.SUBMITTED, S.UNKNOWN):
        fields["submitted_at"] = now
    if to in S.finished():
        fields["next_check_at"] = None
    return fields


def move_steps(steps: QuerySet, to: str, *, expect: Iterable[str], **fields) -> int:
    """Move every step of `steps` that is in one of `expect` to `to`; returns how many moved.

    `fields` are written too and may override the defaults (e.g. `next_check_at` for a retry later)."""
    expect = _allowed(STEP_TRANSITIONS, expect, to)
    return steps.filter(state__in=expect).update(**{**step_fields(to, timezone.now()), **fields})


def move_step(step: JobStep, to: str, *, expect: Iterable[str], same_attempt: bool = False, **fields) -> bool:
    """Move one step; with `same_attempt`, only while it is still on the attempt `step` was read at (so a worker
    whose lease was taken over cannot change the step it lost)."""
    rows = JobStep.objects.filter(id=step.id)
    if same_attempt:
        rows = rows.filter(attempts=step.attempts)
    return move_steps(rows, to, expect=expect, **fields) == 1


# --- Jobs -----------------------------------------------------------------------------------------------------

def move_job(job_id, to: str, *, expect: Iterable[str], **fields) -> bool:
    """Move the job from one of `expect` to `to`; a final state stamps `completed_at`, leaving one clears it."""
    expect = _allowed(JOB_TRANSITIONS, expect, to)
    final = to in JobStatus.terminal()
    defaults = {"status": to, "completed_at": timezone.now() if final else None}
    return VideoJob.objects.filter(id=job_id, status__in=expect).update(**{**defaults, **fields}) == 1


def statuses_before(to: str) -> list[str]:
    """The running statuses from which a job may move forward to `to`."""
    return [status for status in ACTIVE_STATUSES if to in JOB_TRANSITIONS[status]]
