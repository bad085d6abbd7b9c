"""Web accounts: sign-up with e-mail verification, and the sign-in throttle.

The account itself (its plan and first credits) is billing's: the user's post_save opens it
(billing/receivers.py). Failed sign-ins are counted by the same limiter as new videos (video_generation/rate_limits).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from video_generation.rate_limits import RateLimitExceeded, Reservation, parse_rate, reserve

from .models import EmailVerification

logger = logging.getLogger(__name__)


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset-token scheme (HMAC of the user's state, expiring after PASSWORD_RESET_TIMEOUT) under a salt
    of its own, so a verification link is no password-reset link and the other way round."""

    key_salt = "webapp.services.EmailVerificationTokenGenerator"


verification_tokens = EmailVerificationTokenGenerator()


class Verification(Enum):
    VERIFIED = "verified"  # this link activated the account
    ALREADY = "already"  # the account was verified before
    INVALID = "invalid"  # forged, expired, for another account, or for an account that never awaited verification


def owner_of_address(email: str):
    """The account that already uses this e-mail address, or None."""
    return get_user_model()._default_manager.filter(email__iexact=email).order_by("pk").first()


@transaction.atomic
def account_sign_up(*, username: str, email: str, password: str):
    """A new user, inactive until its e-mail address is verified (billing opens its free-plan account on save)."""
    user = get_user_model()(username=username, email=email, is_active=False)
    user.set_password(password)
    user.save()
    EmailVerification.objects.create(user=user)
    return user


def address_taken_notify(*, owner, absolute_url: Callable[[str], str]) -> None:
    """Someone signed up with the address of an existing account: tell its owner (sign in, or reset the password)
    rather than the visitor. Counted with the owner's verification e-mails (VERIFICATION_EMAILS_PER_USER), so the
    form cannot be used to flood an inbox; past the limit nothing is sent. SMTP failures propagate."""
    try:
        verification_resend_reserve(owner)
    except RateLimitExceeded:
        logger.info("webapp: address-taken e-mail not sent (limit)", extra={"user_id": owner.pk})
        return
    context = {"user": owner, "sign_in": absolute_url(reverse("webapp:login")),
               "reset": absolute_url(reverse("webapp:password_reset"))}
    subject = "".join(render_to_string("webapp/email/address_taken_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("webapp/email/address_taken_body.txt", context), None, [owner.email])
    logger.info("webapp: address-taken e-mail sent", extra={"user_id": owner.pk})


def awaiting_verification(user) -> bool:
    return EmailVerification.objects.filter(user=user, verified_at__isnull=True).exists()


def verification_send(*, user, absolute_url: Callable[[str], str]) -> None:
    """Mail `user` the link that verifies their address. `absolute_url` turns a path into a link on the host the
    request came to (request.build_absolute_uri), as Django's password reset does. The link is a credential: never
    logged. SMTP failures propagate (smtplib.SMTPException, OSError) for the caller to answer."""
    path = reverse("webapp:verify_email", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                  "token": verification_tokens.make_token(user)})
    context = {"user": user, "link": absolute_url(path),
               "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)}
    subject = "".join(render_to_string("webapp/email/verify_subject.txt", context).splitlines())
    send_mail(subject, render_to_string("webapp/email/verify_body.txt", context), None, [user.email])
    logger.info("webapp: verification e-mail sent", extra={"user_id": user.pk})


def email_verify(*, uidb64: str, token: str) -> Verification:
    """Activate the account the link was made for, once."""
    user_model = get_user_model()
    try:
        user = user_model._default_manager.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, user_model.DoesNotExist):
        return Verification.INVALID
    if not verification_tokens.check_token(user, token):
        return Verification.INVALID
    with transaction.atomic():
        pending = EmailVerification.objects.filter(user=user, verified_at__isnull=True).update(
            verified_at=timezone.now())
        if pending:
            user_model._default_manager.filter(pk=user.pk).update(is_active=True)
            return Verification.VERIFIED
    if EmailVerification.objects.filter(user=user).exists():
        return Verification.ALREADY
    return Verification.INVALID


def verification_resend_reserve(user) -> Reservation:
    """Count one "send the link again" for `user`; raises rate_limits.RateLimitExceeded past
    VERIFICATION_EMAILS_PER_USER."""
    text = settings.VERIFICATION_EMAILS_PER_USER
    return reserve(f"verify-email:{user.pk}", parse_rate(text), rate_text=text or "")


@dataclass
class SignInAttempt:
    """The slots one sign-in took in the failure limits: a successful sign-in gives them back (only failures
    count)."""

    reservations: list[Reservation]

    def succeeded(self) -> None:
        for each in self.reservations:
            each.release()


def _subject(kind: str, value: str) -> str:
    # Hashed: arbitrary user input never becomes part of a cache key as typed, and no username sits in the cache.
    return f"login-{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def sign_in_attempt(*, username: str, address: str) -> SignInAttempt:
    """Count a sign-in attempt against LOGIN_FAILURES_PER_USERNAME and LOGIN_FAILURES_PER_IP, or raise
    rate_limits.RateLimitExceeded (with the wait) when either is used up, taking nothing."""
    taken: list[Reservation] = []
    limits = [(_subject("user", username.casefold()), settings.LOGIN_FAILURES_PER_USERNAME),
              (_subject("ip", address), settings.LOGIN_FAILURES_PER_IP)]
    try:
        for subject, text in limits:
            taken.append(reserve(subject, parse_rate(text), rate_text=text or ""))
    except Exception:
        SignInAttempt(taken).succeeded()
        raise
    return SignInAttempt(taken)
