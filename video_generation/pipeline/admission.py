"""Provider admission control: whether a step's paid call may go now, asked before the step is claimed.

- Veo: every `predictLongRunning` (a generate or an extend) takes one request of Vertex's quota, counted per
  project, region and model over any minute (VEO_REQUESTS_PER_MINUTE, default 50 as Vertex's model pages say).
- HeyGen: every render takes a slot while it is in flight (HEYGEN_MAX_RENDERS_IN_FLIGHT, HeyGen's concurrent
  renders for the account's plan). The slot is the step's; it is renewed on every poll of the render and released
  when the render finishes, fails or is cancelled, or when it is sent back to wait. A slot nobody renews frees
  itself after HEYGEN_RENDER_SLOT_LEASE_SECONDS, and one whose step has ended is reclaimed when the limit is hit.

A step over a limit is not claimed and nothing is sent: it stays `pending` with `next_check_at` at the time it may
go and says so in its error_message (status shows "waiting for provider capacity"). The counts live in Redis
(services/limiter.py), so every worker process and machine shares them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from ..models import JobStep, StepKind, StepState, VideoJob
from ..services import limiter
from ..services.limiter import Verdict
from . import handlers

WAITING_CODE = "waiting_for_capacity"
VEO_WINDOW_SECONDS = 61.0  # Vertex counts a minute; a second more so network delays cannot overlap two windows
VEO_KINDS = frozenset({StepKind.VEO_GENERATE, StepKind.VEO_EXTEND})
HEYGEN_RENDERS = "heygen:renders"
IN_FLIGHT = (StepState.SUBMITTING, StepState.SUBMITTED, StepState.UNKNOWN)
SLOT_RECHECK_SECONDS = 30.0  # a render waiting for a slot asks again this often (a freed slot wakes it sooner)


def veo_quota(model_id: str) -> str:
    """Vertex counts per project, region and base model."""
    return f"veo:{settings.GCP_PROJECT_ID}:{settings.VEO_LOCATION}:{model_id}"


def holder(step: JobStep) -> str:
    return f"step:{step.id}"


def holds_slot(step: JobStep) -> bool:
    return step.kind == StepKind.HEYGEN_RENDER


def seconds(now: datetime) -> float:
    return now.timestamp()


def admit(step: JobStep, job: VideoJob, *, now: datetime | None = None) -> Verdict:
    """Take what the step's provider call needs, or say how long to wait for it."""
    now = now or timezone.now()
    if step.kind in VEO_KINDS:
        return limiter.take_window(veo_quota(handlers.veo_model(step, job)),
                                   limit=settings.VEO_REQUESTS_PER_MINUTE, window=VEO_WINDOW_SECONDS,
                                   now=seconds(now), holder=holder(step))
    if holds_slot(step):
        verdict = take_render_slot(step, now)
        if not verdict.admitted and reclaim_ended_slots():
            verdict = take_render_slot(step, now)
        if not verdict.admitted:  # ask again well before the first lease could end on its own
            return Verdict(False, min(verdict.wait_seconds, SLOT_RECHECK_SECONDS) + random.uniform(0, 1))
        return verdict
    return limiter.ADMITTED


def take_render_slot(step: JobStep, now: datetime) -> Verdict:
    return limiter.take_slot(HEYGEN_RENDERS, limit=settings.HEYGEN_MAX_RENDERS_IN_FLIGHT, now=seconds(now),
                             holder=holder(step), lease=settings.HEYGEN_RENDER_SLOT_LEASE_SECONDS)


def reclaim_ended_slots() -> int:
    """Release the slots of renders whose step has ended (a job cancelled in bulk does not release one by one).
    A pending step keeps its slot: it may be between taking it and being claimed."""
    holders = limiter.slot_holders(HEYGEN_RENDERS)
    ids = {int(h.removeprefix("step:")) for h in holders if h.startswith("step:") and h[5:].isdigit()}
    alive = set(JobStep.objects.filter(id__in=ids).exclude(state__in=StepState.finished()).values_list("id", flat=True))
    ended = [h for h in holders if not (h.startswith("step:") and h[5:].isdigit() and int(h[5:]) in alive)]
    limiter.release_slots(HEYGEN_RENDERS, ended)
    return len(ended)


def give_back(step: JobStep, job: VideoJob) -> None:
    """The admitted step sent nothing (its job ended before it was claimed): return what it took."""
    if step.kind in VEO_KINDS:
        limiter.give_back_window(veo_quota(handlers.veo_model(step, job)), holder=holder(step))
    elif holds_slot(step):
        release(step)


def renew(step: JobStep) -> None:
    """The render is still going (seen by a poll): keep its slot."""
    if holds_slot(step):
        limiter.renew_slot(HEYGEN_RENDERS, holder=holder(step), now=seconds(timezone.now()),
                           lease=settings.HEYGEN_RENDER_SLOT_LEASE_SECONDS)


def release(step: JobStep) -> None:
    """The render ended (done, failed, cancelled) or was sent back to wait: free its slot."""
    if holds_slot(step):
        limiter.release_slots(HEYGEN_RENDERS, [holder(step)])


def waiting_message(step: JobStep, job: VideoJob, go_at: datetime) -> str:
    when = go_at.astimezone(UTC).strftime("%H:%M:%S UTC")
    if step.kind in VEO_KINDS:
        limit = (f"Google Veo takes {settings.VEO_REQUESTS_PER_MINUTE} requests a minute for "
                 f"{handlers.veo_model(step, job)}")
    else:
        limit = f"HeyGen renders {settings.HEYGEN_MAX_RENDERS_IN_FLIGHT} videos at once"
    return f"waiting for provider capacity ({limit}); next try at {when}"
