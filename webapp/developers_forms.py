"""The Developers pages' forms: what the browser sends and how it is labelled. What passes is decided by the API's
own serializers and services (api_keys, webhooks); their refusals are put next to the field they concern
(`add_api_errors`)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings

from api_keys.models import Scope
from webhooks.models import SUBSCRIBABLE_EVENTS, EventType

EXPIRY_DAYS = (30, 90, 365)
NEVER = "never"

EVENT_DESCRIPTIONS = {
    EventType.JOB_COMPLETED: "a video is finished",
    EventType.JOB_FAILED: "a video failed (you were not charged)",
    EventType.JOB_CANCELLED: "a video was cancelled",
    EventType.CREDITS_LOW: "your credits run low",
}


def expiry_choices() -> list[tuple[str, str]]:
    """30, 90 or 365 days; "never" only where the key store lets a key live for ever (no default lifetime: a key
    created without an expiry gets API_KEY_DEFAULT_LIFETIME_DAYS)."""
    choices = [(str(days), "1 year" if days == 365 else f"{days} days") for days in EXPIRY_DAYS]
    if not settings.API_KEY_DEFAULT_LIFETIME_DAYS:
        choices.append((NEVER, "Never"))
    return choices


def default_expiry_choice() -> str:
    days = settings.API_KEY_DEFAULT_LIFETIME_DAYS
    return str(days) if days in EXPIRY_DAYS else ("90" if days else NEVER)


def event_choices() -> list[tuple[str, str]]:
    return [(str(event), f"{event} — {EVENT_DESCRIPTIONS.get(event, '')}".rstrip(" —"))
            for event in SUBSCRIBABLE_EVENTS]


class KeyCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100,
                           help_text="What the key is for, so you can tell it apart later, e.g. “CI” or “Shop sync”.")
    expires = forms.ChoiceField(label="Expires after", choices=expiry_choices)
    scopes = forms.MultipleChoiceField(
        label="Scopes", required=False, choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do. Tick none for a key that may do everything.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires"].initial = default_expiry_choice()

    def api_data(self, now) -> dict:
        """The body the API's KeyCreateSerializer takes."""
        expires = self.cleaned_data["expires"]
        expires_at = None if expires == NEVER else now + dt.timedelta(days=int(expires))
        return {"name": self.cleaned_data["name"], "scopes": self.cleaned_data["scopes"], "expires_at": expires_at}


class EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(label="Events", choices=event_choices,
                         error_messages={"required": "Tick at least one event to receive."}, **kwargs)


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=2048, widget=forms.URLInput(attrs={"autocomplete": "url"}),
                          help_text="Where we POST the events: a public https address.")
    events = EventsField(initial=[str(e) for e in SUBSCRIBABLE_EVENTS],
                         help_text="Which events this endpoint receives.")
    description = forms.CharField(label="Description (optional)", max_length=500, required=False)

    def api_data(self) -> dict:
        """The body the API's EndpointCreateSerializer takes."""
        return {"url": self.cleaned_data["url"], "events": self.cleaned_data["events"],
                "description": self.cleaned_data["description"]}


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(label="Enabled", required=False,
                                 help_text="Untick to stop sending events here for now (nothing is queued meanwhile).")

    def api_data(self) -> dict:
        """The body the API's EndpointUpdateSerializer takes."""
        return {**super().api_data(), "enabled": self.cleaned_data["enabled"]}


# The API's field names, where they differ from the form's.
API_FIELDS = {"expires_at": "expires"}


def add_api_errors(form: forms.Form, errors) -> None:
    """Put a serializer's or service's refusals (DRF's error dict) on the form: each next to its field, the rest at
    the top of the form."""
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors}
    for name, messages in errors.items():
        field = API_FIELDS.get(name, name)
        form.add_error(field if field in form.fields else None, list(_flatten(messages)))


def _flatten(messages):
    """DRF nests a list field's errors by item ({0: ["..."]}): every message, as text."""
    if isinstance(messages, dict):
        for nested in messages.values():
            yield from _flatten(nested)
    elif isinstance(messages, list | tuple):
        for nested in messages:
            yield from _flatten(nested)
    else:
        yield str(messages)
