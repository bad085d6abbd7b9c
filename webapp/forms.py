from __future__ import annotations

import math

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError

from video_generation.rate_limits import RateLimitExceeded
from video_saas.client_address import UNKNOWN, client_address

from . import services


class SignUpForm(UserCreationForm):
    """Username, e-mail and the password twice, checked by AUTH_PASSWORD_VALIDATORS (UserCreationForm)."""

    email = forms.EmailField(label="Email", max_length=254, help_text="We send a link to this address to verify it.",
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        # An address that already has an account is not refused here: the page would tell anyone which addresses
        # have accounts. The view answers as for a new one and mails the owner instead (services.account_sign_up).
        return get_user_model().objects.normalize_email(self.cleaned_data["email"])


def _wait_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "a minute"
    return f"{minutes} minutes"


class SignInForm(AuthenticationForm):
    """Django's sign-in form with two more refusals: too many failed attempts (per username and per address), and
    an account whose e-mail address is not verified yet (said only to whoever gives its password)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Try again in %(wait)s, or reset your password.",
        "unverified": "Please verify your email address first: follow the link we emailed you.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.unverified_user = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data  # the field's own "This field is required."
        try:
            attempt = services.sign_in_attempt(username=username, address=self._address())
        except RateLimitExceeded as refused:
            raise ValidationError(self.error_messages["throttled"], code="throttled",
                                  params={"wait": _wait_words(int(refused.wait or 60))}) from None
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is not None:
            attempt.succeeded()
            self.confirm_login_allowed(self.user_cache)
            return self.cleaned_data
        user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is not None and not user.is_active and user.check_password(password) \
                and services.awaiting_verification(user):
            attempt.succeeded()  # the right password: not a failure
            self.unverified_user = user
            raise ValidationError(self.error_messages["unverified"], code="unverified")
        raise self.get_invalid_login_error()

    def _address(self) -> str:
        return client_address(self.request.META) if self.request is not None else UNKNOWN
