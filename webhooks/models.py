"""Webhooks as rows (Saleor's delivery and attempt tables): an endpoint a customer registered, an event that
happened, a delivery of that event to one place, and an attempt per try. The rows are the outbox: an event and its
deliveries are written in the transaction that makes the change they announce; a message only rings the bell."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from video_generation.models import VideoJob
from video_saas.encryption import EncryptedTextField


class EventType(models.TextChoices):
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    CREDITS_LOW = "credits.low"
    TEST = "webhook.test"


# What an endpoint may subscribe to (a test event goes to the one endpoint it was asked for).
SUBSCRIBABLE_EVENTS = (EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELLED,
                       EventType.CREDITS_LOW)


class Endpoint(models.Model):
    """A URL of the customer's that receives the events it subscribed to, signed with its own secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True, default="")
    events = models.JSONField(default=list)
    # Encrypted at rest (video_saas/encryption.py): they sign every delivery, so they cannot be hashed.
    secret = EncryptedTextField()
    # After a rotation the old secret keeps signing (beside the new one) until it expires.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True)  # first failure since the last success
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({'disabled' if self.disabled_at else 'enabled'})"

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


class Event(models.Model):
    """Something that happened to a customer's job or account, as its receivers will be told."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    job = models.ForeignKey(VideoJob, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"

    @property
    def message_id(self) -> str:
        """The webhook-id header: the same on every attempt and replay, so receivers can de-duplicate."""
        return f"msg_{self.id.hex}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt (next_attempt_at) or being attempted
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt failed, the endpoint was disabled, or the URL is refused


class Delivery(models.Model):
    """One event to one place: an endpoint, or (endpoint empty) the job's own webhook_url."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="deliveries")
    url = models.CharField(max_length=2048)  # where it was addressed when created (the endpoint's may change)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while one is under way, when its lease ends (then it is due again).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a message last asked a worker to attempt it (empty: its message could not be published).
    rung_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event.type} to {self.url} ({self.status})"


class AttemptOutcome(models.TextChoices):
    SENDING = "sending"  # claimed; a worker that died here leaves it so (the lease makes the delivery due again)
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Attempt(models.Model):
    """One try of a delivery: what came back (status, the first bytes of the answer), how long it took, or why
    nothing came back (redacted)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.SENDING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True, default="")
    response_snippet = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhooks_attempt_once")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"
