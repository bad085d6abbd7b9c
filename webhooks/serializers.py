"""What the webhooks API accepts and answers. URLs follow the project's one rule for URLs we request
(video_generation/validators.py), and must be https where WEBHOOK_REQUIRE_HTTPS is on (production)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import serializers

from video_generation.serializers import (
    HttpUrlField,
    RejectUnknownFieldsMixin,
    StrictBooleanField,
    optional_text,
)
from video_generation.validators import url_pattern

from .models import SUBSCRIBABLE_EVENTS, Attempt, Delivery, DeliveryStatus, Endpoint, EventType

MAX_EVENTS_LISTED = 20


def endpoint_url_pattern() -> str:
    pattern = url_pattern()
    return pattern.replace("^https?://", "^https://", 1) if settings.WEBHOOK_REQUIRE_HTTPS else pattern


def https_only(value: str) -> None:
    if settings.WEBHOOK_REQUIRE_HTTPS and not value.startswith("https://"):
        raise ValidationError("Webhook endpoints must use https.", code="https_required")


class EndpointUrlField(HttpUrlField):
    """A URL we may POST to (public host, standard port), https where required."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(https_only)


def events_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=[str(e) for e in SUBSCRIBABLE_EVENTS]), min_length=1,
        max_length=MAX_EVENTS_LISTED,
        help_text="The events to receive (default: all of them). Each is sent once however often it is listed.",
        **kwargs)


class EndpointCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    url = EndpointUrlField()
    events = events_field(required=False)
    description = optional_text(max_length=500)


class EndpointUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    url = EndpointUrlField(required=False)
    events = events_field(required=False)
    description = optional_text(max_length=500)
    enabled = StrictBooleanField(required=False, help_text="false disables the endpoint; true enables it again "
                                                           "(clearing the reason it was disabled).")


class EndpointSerializer(serializers.ModelSerializer):
    enabled = serializers.BooleanField(read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=[str(e) for e in SUBSCRIBABLE_EVENTS]))
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="During a rotation's overlap: when the replaced secret stops signing.")

    class Meta:
        model = Endpoint
        fields = ["id", "url", "description", "events", "enabled", "disabled_at", "disabled_reason",
                  "previous_secret_expires_at", "created_at", "updated_at"]
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown this once.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class RotatedSecretSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    secret = serializers.CharField(help_text="The new signing secret: shown this once.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then every delivery is signed with both the new and the replaced secret.")


class PageSerializer(serializers.Serializer):
    """`?page=`: an integer if given ("" or "two" is a 400; a page past the end is the paginator's 404)."""

    page = serializers.IntegerField(required=False)


class DeliveryFilterSerializer(PageSerializer):
    endpoint = serializers.UUIDField(required=False)
    event_type = serializers.ChoiceField(choices=EventType.choices, required=False)
    job = serializers.UUIDField(required=False)
    outcome = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "outcome", "started_at", "finished_at", "status_code", "latency_ms", "error",
                  "response_snippet"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.id", read_only=True)
    event_type = serializers.ChoiceField(source="event.type", choices=EventType.choices, read_only=True)
    message_id = serializers.CharField(source="event.message_id", read_only=True,
                                       help_text="The webhook-id header (the same on every attempt and replay).")
    job_id = serializers.UUIDField(source="event.job_id", read_only=True, allow_null=True)
    endpoint_id = serializers.UUIDField(read_only=True, allow_null=True,
                                        help_text="Empty for a delivery to the job's own webhook_url.")
    replay_of = serializers.UUIDField(source="replay_of_id", read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "event_type", "message_id", "job_id", "endpoint_id", "url", "status",
                  "attempt_count", "next_attempt_at", "replay_of", "created_at", "updated_at"]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.JSONField(source="event.payload", read_only=True)
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempts"]
        read_only_fields = fields
