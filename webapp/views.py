"""The web app's pages. Each validates a form and calls a service (webapp.services, billing.services, ...)."""

from __future__ import annotations

import logging
import smtplib

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from billing import services as billing
from video_generation.models import VideoJob
from video_generation.rate_limits import RateLimitExceeded

from . import services
from .forms import SignInForm, SignUpForm

logger = logging.getLogger(__name__)

UNVERIFIED_SESSION_KEY = "webapp_unverified_user"  # who may ask for the link again: proved their password
ADDRESS_TAKEN = "address-taken"  # in place of the new user's id: the sign-up was for an address already in use
RESENT = "We sent a new link. Please check your inbox."
SEND_FAILED = "We could not send the email just now. Please try again in a few minutes."
RECENT_JOBS = 5


def home(request):
    if not request.user.is_authenticated:
        return render(request, "webapp/landing.html")
    jobs = (VideoJob.objects.filter(user=request.user).order_by("-created_at")
            .only("id", "product_title", "status", "progress", "created_at")[:RECENT_JOBS])
    return render(request, "webapp/dashboard.html", {"account": billing.summary(request.user), "jobs": jobs})


def sign_up(request):
    if request.user.is_authenticated:
        return redirect("webapp:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if owner := services.owner_of_address(form.cleaned_data["email"]):
            return _address_taken(request, owner)
        user = services.account_sign_up(username=form.cleaned_data["username"], email=form.cleaned_data["email"],
                                        password=form.cleaned_data["password1"])
        request.session[UNVERIFIED_SESSION_KEY] = user.pk
        if not _send_verification(request, user):
            messages.error(request, "Your account was created, but we could not send the email just now. "
                                    "Use “Send the link again” in a few minutes.")
        return redirect("webapp:sign_up_done")
    return render(request, "webapp/accounts/sign_up.html", {"form": form}, status=400 if form.errors else 200)


def _address_taken(request, owner):
    """Answered exactly as a new sign-up is (the same page, the same "send again" button), so the form does not tell
    who has an account; the owner of the address is mailed instead."""
    request.session[UNVERIFIED_SESSION_KEY] = ADDRESS_TAKEN
    try:
        services.address_taken_notify(owner=owner, absolute_url=request.build_absolute_uri)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("webapp: the address-taken e-mail could not be sent (%s)", type(exc).__name__)
    return redirect("webapp:sign_up_done")


def sign_up_done(request):
    return render(request, "webapp/accounts/sign_up_done.html",
                  {"can_resend": UNVERIFIED_SESSION_KEY in request.session})


def verify_email(request, uidb64: str, token: str):
    outcome = services.email_verify(uidb64=uidb64, token=token)
    if outcome is not services.Verification.INVALID:
        request.session.pop(UNVERIFIED_SESSION_KEY, None)
    return render(request, "webapp/accounts/verify_email.html", {"outcome": outcome.value},
                  status=400 if outcome is services.Verification.INVALID else 200)


@require_POST
def resend_verification(request):
    if request.session.get(UNVERIFIED_SESSION_KEY) == ADDRESS_TAKEN:
        messages.success(request, RESENT)  # as for a new account: the owner of the address was mailed already
        return redirect("webapp:sign_up_done")
    user = get_user_model()._default_manager.filter(pk=request.session.get(UNVERIFIED_SESSION_KEY)).first()
    if user is None or not services.awaiting_verification(user):
        messages.info(request, "Sign in with your username and password to ask for a new link.")
        return redirect("webapp:login")
    try:
        services.verification_resend_reserve(user)
    except RateLimitExceeded:
        messages.error(request, "We have sent several links already. Please check your inbox (and spam folder), "
                                "or try again later.")
        return redirect("webapp:sign_up_done")
    if _send_verification(request, user):
        messages.success(request, RESENT)
    else:
        messages.error(request, SEND_FAILED)
    return redirect("webapp:sign_up_done")


def _send_verification(request, user) -> bool:
    try:
        services.verification_send(user=user, absolute_url=request.build_absolute_uri)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("webapp: the verification e-mail could not be sent (%s)", type(exc).__name__)
        return False
    return True


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "webapp/accounts/sign_in.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        if form.unverified_user is not None:
            self.request.session[UNVERIFIED_SESSION_KEY] = form.unverified_user.pk
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "webapp/accounts/password_reset_form.html"
    email_template_name = "webapp/email/password_reset_body.txt"
    subject_template_name = "webapp/email/password_reset_subject.txt"
    success_url = reverse_lazy("webapp:password_reset_done")
    # A mail that cannot be sent is logged by Django's form and answered like any other: the page never says whether
    # an account uses the address.


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "webapp/accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "webapp/accounts/password_reset_confirm.html"
    success_url = reverse_lazy("webapp:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "webapp/accounts/password_reset_complete.html"
