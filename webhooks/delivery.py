"""Sending deliveries: claim, send outside any transaction, record; the retry schedule; the sweeper.

A delivery is due when it is pending and its next_attempt_at has come. Claiming it is one conditional UPDATE
(pending, due, still at the attempt count that was read) that counts the attempt and sets next_attempt_at to the
end of a lease, so of two workers (or two sweepers' messages) for the same delivery only one sends; a worker that
dies mid-send leaves the delivery to come due again when the lease ends. Results are recorded under the same
condition, so a worker whose lease ran out cannot overwrite its successor's record.

Retries follow Svix's schedule, written once below: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
after each failure. The waits are rows, never broker countdowns (which Redis re-delivers after its visibility
timeout): the beat sweeper rings for every due row, so a broker that was down when an event happened delays its
delivery and never loses it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from video_generation.models import VideoJob
from video_generation.pipeline import dispatch
from video_generation.pipeline.logcontext import job_context
from video_generation.services.errors import ProviderError
from video_generation.services.redact import readable
from video_generation.services.safe_http import PostResult, loggable_url, post_json

from .models import Attempt, AttemptOutcome, Delivery, DeliveryStatus, Endpoint
from .signing import secrets_for, signature_header

logger = logging.getLogger(__name__)

# Seconds before each attempt, counted from the failure before it (the first from the event).
RETRY_SCHEDULE_SECONDS = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
LEASE_MARGIN_SECONDS = 45  # a claim's lease: the request's timeout and this margin
SNIPPET_BYTES = 1000
SWEEP_BATCH = 500
REDRIVE_AFTER_SECONDS = 60  # a bell not answered by then is rung again (a duplicate finds nothing to claim)


@dataclass(frozen=True)
class Claim:
    delivery_id: object
    number: int  # the attempt's number (the delivery's attempt_count once claimed)


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    status_code: int | None = None
    error: str = ""
    snippet: str = ""


# --- Ringing the bell ------------------------------------------------------------------------------------------

def ring(delivery_id) -> None:
    """Ask a worker to attempt the delivery now, once the current transaction commits (the delivery is written
    with rung_at set). A message that cannot be published clears rung_at, so the next sweep rings again."""
    dispatch.on_commit(lambda: ring_now([delivery_id]))


def ring_now(delivery_ids: list) -> int:
    """Publish a deliver message for each id; returns how many the broker took."""
    from . import tasks

    taken = 0
    for delivery_id in delivery_ids:
        if dispatch.publish(tasks.deliver, str(delivery_id), queue=settings.WEBHOOK_QUEUE):
            taken += 1
        else:
            Delivery.objects.filter(id=delivery_id).update(rung_at=None)
    return taken


def sweep(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> int:
    """Ring for every due delivery nobody has rung for since it came due (a retry whose time has come, a lease
    that ran out, a message that could not be published) or for REDRIVE_AFTER_SECONDS (a message lost on the
    way); the beat task. Returns how many were rung."""
    now = now or timezone.now()
    unrung = (Q(rung_at__isnull=True) | Q(rung_at__lt=F("next_attempt_at"))
              | Q(rung_at__lte=now - timedelta(seconds=REDRIVE_AFTER_SECONDS)))
    ids = list(due(now).filter(unrung).order_by("next_attempt_at").values_list("id", flat=True)[:batch])
    Delivery.objects.filter(id__in=ids).update(rung_at=now)
    ring_now(ids)
    return len(ids)


def due(now: datetime):
    """Deliveries whose next attempt has come (one being attempted is not: its claim moved next_attempt_at)."""
    return Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)


def due_ids(*, now: datetime | None = None, batch: int = SWEEP_BATCH) -> list:
    return list(due(now or timezone.now()).order_by("next_attempt_at").values_list("id", flat=True)[:batch])


def backlog(*, now: datetime | None = None) -> tuple[int, float]:
    """(deliveries due, seconds the oldest of them has been due): the webhook backlog /metrics exports."""
    now = now or timezone.now()
    found = due(now).aggregate(count=Count("id"), oldest=Min("next_attempt_at"))
    oldest = found["oldest"]
    return found["count"], 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


# --- One attempt -----------------------------------------------------------------------------------------------

def attempt(delivery_id) -> Outcome | None:
    """Attempt the delivery if it is due and nobody else is; None when there was nothing to do."""
    claim = claim_delivery(delivery_id)
    if claim is None:
        return None
    delivery = Delivery.objects.select_related("event", "endpoint").get(id=delivery_id)
    with about_the_job(delivery.event):
        return attempt_claimed(claim, delivery)


def about_the_job(event):
    """The log context of the event's job (its id and request id), if the event is about one."""
    if event.job_id is None:
        return contextlib.nullcontext()
    request_id = VideoJob.objects.filter(id=event.job_id).values_list("request_id", flat=True).first()
    return job_context(event.job_id, request_id or "")


def attempt_claimed(claim: Claim, delivery: Delivery) -> Outcome:
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        outcome = Outcome(False, error=f"Not sent: the endpoint is disabled ({delivery.endpoint.disabled_reason})")
        record(claim, outcome, latency_ms=None, final=True)
        return outcome
    started = time.monotonic()
    outcome = send(delivery)
    record(claim, outcome, latency_ms=int((time.monotonic() - started) * 1000))
    return outcome


def claim_delivery(delivery_id, *, now: datetime | None = None) -> Claim | None:
    now = now or timezone.now()
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    with transaction.atomic():
        current = (Delivery.objects.filter(id=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                   .values_list("attempt_count", flat=True).first())
        if current is None:
            return None
        claimed = Delivery.objects.filter(
            id=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now, attempt_count=current,
        ).update(attempt_count=F("attempt_count") + 1, next_attempt_at=now + lease, updated_at=now)
        if not claimed:
            return None
        Attempt.objects.create(delivery_id=delivery_id, number=current + 1, started_at=now)
    return Claim(delivery_id, current + 1)


def send(delivery: Delivery) -> Outcome:
    """POST the event through the SSRF-safe client (DNS pinned, private addresses refused, no redirects)."""
    event = delivery.event
    body = json.dumps(event.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {"webhook-id": event.message_id, "webhook-timestamp": str(timestamp)}
    if secrets_ := secrets_for(delivery):
        headers["webhook-signature"] = signature_header(secrets_, event.message_id, timestamp, body)
    url = delivery.endpoint.url if delivery.endpoint is not None else delivery.url
    try:
        answer = post_json(url, body, headers=headers, deadline_seconds=settings.WEBHOOK_TIMEOUT_SECONDS,
                                  keep_bytes=SNIPPET_BYTES)
    except ProviderError as exc:  # refused URL, DNS, connection, timeout: nothing was answered
        logger.info("webhook %s to %s not answered: %s", delivery.id, loggable_url(url), exc.code)
        return Outcome(False, error=readable(str(exc), limit=1000))
    return outcome_of(answer)


def outcome_of(answer: PostResult) -> Outcome:
    snippet = readable(answer.body_start.decode("utf-8", errors="replace"), limit=SNIPPET_BYTES)
    if 200 <= answer.status_code < 300:
        return Outcome(True, answer.status_code, snippet=snippet)
    error = ("The endpoint redirected; redirects are not followed." if 300 <= answer.status_code < 400
             else f"The endpoint answered HTTP {answer.status_code}.")
    return Outcome(False, answer.status_code, error=error, snippet=snippet)


# --- Recording -------------------------------------------------------------------------------------------------

def next_attempt_after(attempts_made: int, *, now: datetime) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None when the schedule is spent."""
    if attempts_made >= len(RETRY_SCHEDULE_SECONDS):
        return None
    return now + timedelta(seconds=RETRY_SCHEDULE_SECONDS[attempts_made])


def record(claim: Claim, outcome: Outcome, *, latency_ms: int | None, final: bool = False,
           now: datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        Attempt.objects.filter(delivery_id=claim.delivery_id, number=claim.number).update(
            outcome=AttemptOutcome.SUCCEEDED if outcome.succeeded else AttemptOutcome.FAILED,
            finished_at=now, status_code=outcome.status_code, latency_ms=latency_ms, error=outcome.error[:1000],
            response_snippet=outcome.snippet[:1000])
        retry_at = None if (outcome.succeeded or final or outcome.status_code == 410) \
            else next_attempt_after(claim.number, now=now)
        status = (DeliveryStatus.SUCCEEDED if outcome.succeeded
                  else DeliveryStatus.PENDING if retry_at else DeliveryStatus.FAILED)
        mine = Delivery.objects.filter(id=claim.delivery_id, status=DeliveryStatus.PENDING,
                                       attempt_count=claim.number)
        if not mine.update(status=status, next_attempt_at=retry_at, updated_at=now):
            return  # the lease ran out and another attempt took over: its record stands
        endpoint_id = Delivery.objects.filter(id=claim.delivery_id).values_list("endpoint_id", flat=True).first()
        if endpoint_id is not None and not final:
            judge_endpoint(endpoint_id, outcome, now=now)


def judge_endpoint(endpoint_id, outcome: Outcome, *, now: datetime) -> None:
    """A success clears the endpoint's failing streak; 410 Gone disables it at once, and so does a streak of
    failures that has lasted DISABLE_AFTER_FAILING_FOR."""
    endpoints = Endpoint.objects.filter(id=endpoint_id, disabled_at__isnull=True)
    if outcome.succeeded:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return
    if outcome.status_code == 410:
        disable(endpoint_id, "The endpoint answered 410 Gone.", now=now)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    since = endpoints.values_list("failing_since", flat=True).first()
    if since is not None and now - since >= DISABLE_AFTER_FAILING_FOR:
        disable(endpoint_id, f"Every delivery failed for {DISABLE_AFTER_FAILING_FOR.days} days "
                           f"(since {since:%Y-%m-%d %H:%M} UTC).", now=now)


def disable(endpoint_id, reason: str, *, now: datetime) -> None:
    """Disable the endpoint (if enabled). What was still waiting for it is not sent: a replay can send it once the
    endpoint is enabled again."""
    if Endpoint.objects.filter(id=endpoint_id, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=reason, failing_since=None, updated_at=now):
        Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, updated_at=now)
        logger.info("webhook endpoint %s disabled: %s", endpoint_id, reason)
