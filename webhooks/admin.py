"""Endpoints, events, deliveries and their attempts in the admin: all readable, attempts never editable; staff can
disable or enable an endpoint and replay a delivery. Secrets are never shown."""

from django.contrib import admin, messages

from . import services
from .models import Attempt, Delivery, Endpoint, Event


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "user", "enabled", "disabled_reason", "failing_since", "created_at")
    list_filter = ("disabled_at",)
    search_fields = ("url", "user__username", "description")
    fields = ("user", "url", "description", "events", "disabled_at", "disabled_reason", "failing_since",
              "previous_secret_expires_at", "created_at", "updated_at")
    # The URL and events are the owner's to change, through the API's checks; staff disable or enable.
    readonly_fields = ("user", "url", "events", "failing_since", "previous_secret_expires_at", "created_at",
                       "updated_at")
    actions = ("enable",)

    def has_add_permission(self, request):
        return False  # an endpoint's secret is shown once, to its owner, when the API creates it

    @admin.display(boolean=True)
    def enabled(self, endpoint: Endpoint) -> bool:
        return endpoint.enabled

    @admin.action(description="Enable the selected endpoints (clears the reason they were disabled)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_update(endpoint, enabled=True)


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fields = ("url", "status", "attempt_count", "next_attempt_at", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("type", "user", "job", "created_at")
    list_filter = ("type",)
    search_fields = ("id", "user__username", "job__id")
    readonly_fields = ("id", "user", "type", "job", "payload", "created_at")
    inlines = (DeliveryInline,)


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = Attempt
    fields = ("number", "outcome", "started_at", "finished_at", "status_code", "latency_ms", "error",
              "response_snippet")
    readonly_fields = fields
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("event", "url", "endpoint", "status", "attempt_count", "next_attempt_at", "created_at")
    list_filter = ("status", "event__type")
    search_fields = ("id", "url", "event__user__username", "event__job__id")
    readonly_fields = ("id", "event", "endpoint", "url", "status", "attempt_count", "next_attempt_at", "rung_at",
                       "replay_of", "created_at", "updated_at")
    inlines = (AttemptInline,)
    actions = ("replay",)

    @admin.action(description="Replay the selected deliveries (a new delivery of the same event)")
    def replay(self, request, queryset):
        for delivery in queryset.select_related("event", "endpoint"):
            try:
                services.replay(delivery)
            except services.EndpointDisabled as refused:
                self.message_user(request, f"{delivery.id}: {refused}", messages.WARNING)
