"""The Account pages' forms. What can be bought is validated by billing's CheckoutRequestSerializer (the API's)."""

from __future__ import annotations

from django import forms

from billing.serializers import CheckoutRequestSerializer

from .account_services import DEFAULT_USAGE_DAYS, USAGE_RANGES


class UsageRangeForm(forms.Form):
    days = forms.TypedChoiceField(label="Show the last", coerce=int, initial=DEFAULT_USAGE_DAYS,
                                  choices=[(days, f"{days} days") for days in USAGE_RANGES],
                                  error_messages={"invalid_choice": "Choose 7, 30 or 90 days."})


class DeleteAccountForm(forms.Form):
    confirm = forms.CharField(label="Type your username to confirm", max_length=150, strip=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none",
                                                            "spellcheck": "false"}))


def purchase_choice(post) -> CheckoutRequestSerializer:
    """The API's checkout body from a purchase form's button (`plan` or `pack`), validated as the API does."""
    return CheckoutRequestSerializer(data={name: post[name] for name in ("plan", "pack") if name in post})


def purchase_errors(serializer: CheckoutRequestSerializer) -> list[str]:
    return [str(message) for messages in serializer.errors.values() for message in messages]
