"""The Account pages' forms. What can be bought is validated by billing's CheckoutRequestSerializer (the API's)."""

from __future__ import annotations

from django import forms
from django.utils.html import format_html

from billing.serializers import CheckoutRequestSerializer

from .account_services import DEFAULT_USAGE_DAYS, USAGE_RANGES


class UsageRangeForm(forms.Form):
    days = forms.TypedChoiceField(label="Show the last", coerce=int, initial=DEFAULT_USAGE_DAYS,
                                  choices=[(days, f"{days} days") for days in USAGE_RANGES],
                                  error_messages={"invalid_choice": "Choose 7, 30 or 90 days."})


class DeleteAccountForm(forms.Form):
    """Whether the confirmation is the username is accounts.services.erase_confirmed_account's to decide."""

    confirm = forms.CharField(label="Type your username to confirm", max_length=150, strip=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none",
                                                            "spellcheck": "false"}))

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's templates show help text unescaped: the username goes in escaped.
        self.fields["confirm"].help_text = format_html("Your username is <strong>{}</strong>.", user.get_username())


def purchase_choice(post) -> CheckoutRequestSerializer:
    """The API's checkout body from a purchase form's button (`plan` or `pack`), validated as the API does."""
    return CheckoutRequestSerializer(data={name: post[name] for name in ("plan", "pack") if name in post})


PURCHASE_REFUSALS = {  # the serializer's reasons, worded for a person at the page's buttons
    "pack": "That credit pack is not on sale. Please choose one of those shown.",
    "plan": "That plan cannot be bought here. Please choose one of those shown.",
}
CHOOSE_ONE = "Please choose one credit pack or one plan."


def purchase_errors(serializer: CheckoutRequestSerializer) -> list[str]:
    return [PURCHASE_REFUSALS.get(field, CHOOSE_ONE) for field in serializer.errors]
