"""Endpoints, events and the deliveries they make: everything the API, the admin and the receivers change.

Events are written by `record_event` in the caller's transaction (the job's final transition, the ledger entry
that took the credits low), with a delivery per endpoint of the user's that wants them and, for a job's events, one
to the job's own webhook_url; each delivery's bell rings once that transaction commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from video_generation.models import JobStatus, VideoJob

from . import delivery as engine
from .models import SUBSCRIBABLE_EVENTS, Delivery, Endpoint, Event, EventType
from .signing import ROTATION_OVERLAP, new_secret

JOB_EVENTS = {JobStatus.COMPLETED: EventType.JOB_COMPLETED, JobStatus.FAILED: EventType.JOB_FAILED,
              JobStatus.CANCELLED: EventType.JOB_CANCELLED}


class EndpointLimitReached(Exception):
    def __init__(self, limit: int):
        super().__init__(f"You have {limit} webhook endpoints already, the most allowed; delete one first.")


class EndpointDisabled(Exception):
    pass


# --- Endpoints -------------------------------------------------------------------------------------------------

def parse_id(value) -> uuid.UUID | None:
    """An endpoint's or delivery's id as a URL or filter carries it; None if it cannot name one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def endpoint_of(user, endpoint_id) -> Endpoint | None:
    """The user's endpoint with this id; None for another user's, a missing or a malformed id alike."""
    parsed = parse_id(endpoint_id)
    return Endpoint.objects.filter(id=parsed, user=user).first() if parsed else None



def endpoint_create(*, user, url: str, events: list[str] | None = None, description: str = "") -> Endpoint:
    """A new endpoint with a fresh secret (the caller shows `endpoint.secret` once)."""
    limit = settings.WEBHOOK_MAX_ENDPOINTS_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # one count at a time per user
        if Endpoint.objects.filter(user=user).count() >= limit:
            raise EndpointLimitReached(limit)
        return Endpoint.objects.create(user=user, url=url, events=subscribed(events), description=description,
                                       secret=new_secret())


def subscribed(events: list[str] | None) -> list[str]:
    """The events asked for, each once, in the order they are listed; all of them when none are named."""
    chosen = set(events or SUBSCRIBABLE_EVENTS)
    return [str(event) for event in SUBSCRIBABLE_EVENTS if event in chosen]


def endpoint_update(endpoint: Endpoint, *, now: datetime | None = None, **changes) -> Endpoint:
    """Change the URL, events, description, or enabled state (enabling clears the reason and the failing streak)."""
    now = now or timezone.now()
    if "events" in changes:
        endpoint.events = subscribed(changes["events"])
    for name in ("url", "description"):
        if name in changes:
            setattr(endpoint, name, changes[name])
    if "enabled" in changes:
        if changes["enabled"] and not endpoint.enabled:
            endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
        elif not changes["enabled"] and endpoint.enabled:
            endpoint.disabled_at, endpoint.disabled_reason = now, "Disabled by its owner."
    endpoint.save()
    return endpoint


def endpoint_rotate_secret(endpoint: Endpoint, *, now: datetime | None = None) -> Endpoint:
    """A new secret; the one it replaces keeps signing beside it for ROTATION_OVERLAP."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(id=endpoint.id)
        endpoint.previous_secret, endpoint.secret = endpoint.secret, new_secret()
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
        endpoint.save(update_fields=["previous_secret", "secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


# --- Events ----------------------------------------------------------------------------------------------------

def record_event(*, user_id, event_type: str, data: dict, job: VideoJob | None = None,
                 endpoints=None) -> Event | None:
    """Write the event and its deliveries in the current transaction; ring for each once it commits. None (and
    nothing written) when nobody is to receive it.
    `endpoints`: where to send it (default: the user's enabled endpoints subscribed to `event_type`)."""
    created = timezone.now()
    if endpoints is None:
        endpoints = [e for e in Endpoint.objects.filter(user_id=user_id, disabled_at__isnull=True)
                     if event_type in e.events]
    urls = [(e, e.url) for e in endpoints]
    if job is not None and job.webhook_url:
        urls.append((None, job.webhook_url))
    if not urls:
        return None
    event = Event.objects.create(user_id=user_id, type=event_type, job=job, created_at=created, payload={
        "type": event_type, "timestamp": created.isoformat().replace("+00:00", "Z"), "data": data})
    targets = [Delivery(event=event, endpoint=endpoint, url=url, next_attempt_at=created, rung_at=created)
               for endpoint, url in urls]
    for target in Delivery.objects.bulk_create(targets):
        engine.ring(target.id)
    return event


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def job_data(job: VideoJob, credits: int) -> dict:
    """A thin job event: ids, status, where to read the rest (no download link: it would expire)."""
    return {"job_id": str(job.id), "product_id": job.product_id, "status": job.status, "credits": credits,
            "links": {"status": absolute(reverse("video_generation:status", args=[job.id]))}}


def job_finished(job_id, status: str, credits: int) -> Event | None:
    job = VideoJob.objects.filter(id=job_id).first()
    if job is None or status not in JOB_EVENTS:
        return None
    return record_event(user_id=job.user_id, event_type=JOB_EVENTS[status], data=job_data(job, credits), job=job)


def credits_low(user_id, available: int, threshold: int) -> Event | None:
    return record_event(user_id=user_id, event_type=EventType.CREDITS_LOW, data={
        "available_credits": available, "threshold": threshold,
        "links": {"account": absolute(reverse("accounts:account"))}})


# --- Deliveries ------------------------------------------------------------------------------------------------

def delivery_of(user, delivery_id) -> Delivery | None:
    """The user's delivery with this id (its event and endpoint loaded); None for another user's or a bad id."""
    parsed = parse_id(delivery_id)
    if parsed is None:
        return None
    return Delivery.objects.select_related("event", "endpoint").filter(id=parsed, event__user=user).first()


def deliveries_of(user, *, endpoint=None, event_type: str | None = None, job=None, outcome: str | None = None):
    """The user's deliveries, newest first, narrowed by whichever filters are given (ids as UUIDs)."""
    rows = Delivery.objects.filter(event__user=user).select_related("event")
    if endpoint is not None:
        rows = rows.filter(endpoint_id=endpoint)
    if event_type is not None:
        rows = rows.filter(event__type=event_type)
    if job is not None:
        rows = rows.filter(event__job_id=job)
    if outcome is not None:
        rows = rows.filter(status=outcome)
    return rows


def send_test(endpoint: Endpoint) -> Delivery:
    """A webhook.test event to this endpoint only, whatever it subscribed to."""
    if not endpoint.enabled:
        raise EndpointDisabled("The endpoint is disabled; enable it first.")
    with transaction.atomic():
        event = record_event(user_id=endpoint.user_id, event_type=EventType.TEST, endpoints=[endpoint], data={
            "endpoint_id": str(endpoint.id), "message": "A test event: your endpoint receives and verifies."})
    return event.deliveries.get()


def replay(original: Delivery) -> Delivery:
    """A new delivery of the same event (same webhook-id) to the same place, attempted at once."""
    if original.endpoint is not None and not original.endpoint.enabled:
        raise EndpointDisabled("The endpoint is disabled; enable it before replaying to it.")
    now = timezone.now()
    with transaction.atomic():
        copy = Delivery.objects.create(event=original.event, endpoint=original.endpoint,
                                       url=original.endpoint.url if original.endpoint else original.url,
                                       next_attempt_at=now, rung_at=now, replay_of=original)
        engine.ring(copy.id)
    return copy
