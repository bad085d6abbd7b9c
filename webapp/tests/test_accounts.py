"""Sign up, verify, sign in, sign out and reset a password through the pages, as a browser does."""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from billing.plans import DEFAULT_PLAN, plan_named
from webapp import services
from webapp.models import EmailVerification

from .conftest import PASSWORD, link_in, sign_in, sign_up

pytestmark = pytest.mark.django_db


def input_tag(html: str, element_id: str) -> str:
    found = re.search(rf'<input[^>]*\bid="{element_id}"[^>]*>', html)
    assert found, element_id
    return found.group(0)


def attribute(tag: str, name: str) -> str:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return found.group(1) if found else ""


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_sign_up_mails_a_link_that_activates_the_account_and_the_dashboard_shows_the_free_plan(
        client, django_user_model):
    response = sign_up(client)

    assert response.status_code == 302 and response["Location"] == "/accounts/sign-up/done/"
    user = django_user_model.objects.get(username="carol")
    assert user.email == "carol@example.com" and not user.is_active
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["carol@example.com"]
    assert "Verify your email" in mail.outbox[0].subject

    page = client.get(link_in(mail.outbox[0]))

    assert page.status_code == 200 and b"Your email address is verified" in page.content
    user.refresh_from_db()
    assert user.is_active
    assert sign_in(client).status_code == 302 and signed_in_user_id(client) == str(user.pk)
    dashboard = client.get("/")
    free = plan_named(DEFAULT_PLAN)
    assert f'Your plan: <span id="plan-name">{free.name}</span>' in dashboard.text
    assert f'<dd id="credits-available">{free.monthly_credits}</dd>' in dashboard.text


def test_following_the_link_twice_says_already_verified(client, django_user_model):
    sign_up(client)
    link = link_in(mail.outbox[0])
    client.get(link)

    again = client.get(link)

    assert again.status_code == 200 and b"Already verified" in again.content


def test_an_unverified_account_cannot_sign_in_and_may_ask_for_the_link_again(client, django_user_model):
    sign_up(client)
    fresh = Client()  # another browser: nothing in its session

    refused = sign_in(fresh)

    assert refused.status_code == 400 and signed_in_user_id(fresh) is None
    assert "Please verify your email address first" in refused.text
    assert 'action="/accounts/verify/again/"' in refused.text
    resent = fresh.post("/accounts/verify/again/", follow=True)
    assert "We sent a new link" in resent.text
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["carol@example.com"]
    assert fresh.get(link_in(mail.outbox[1])).status_code == 200
    assert sign_in(fresh).status_code == 302


def test_a_wrong_password_for_an_unverified_account_reveals_nothing(client):
    sign_up(client)

    refused = sign_in(Client(), password="not-the-password")

    assert refused.status_code == 400
    assert "Please enter a correct username and password" in refused.text
    assert "verify" not in refused.text.lower().replace("/accounts/verify", "")


def test_the_link_is_resent_only_to_whoever_proved_the_password_and_only_a_few_times(client, settings):
    settings.VERIFICATION_EMAILS_PER_USER = "2/hour"
    sign_up(client)

    anonymous = Client().post("/accounts/verify/again/", follow=True)
    assert "Sign in with your username and password" in anonymous.text and len(mail.outbox) == 1

    for _ in range(2):
        client.post("/accounts/verify/again/")
    refused = client.post("/accounts/verify/again/", follow=True)

    assert "We have sent several links already" in refused.text
    assert len(mail.outbox) == 3


def test_a_deactivated_account_is_not_switched_back_on_by_a_verification_link(client, django_user_model):
    user = django_user_model.objects.create_user("dave", "dave@example.com", PASSWORD, is_active=False)
    link = f"/accounts/verify/{urlsafe_base64_encode(force_bytes(user.pk))}/" \
           f"{services.verification_tokens.make_token(user)}/"

    page = client.get(link)

    assert page.status_code == 400 and b"This link does not work" in page.content
    user.refresh_from_db()
    assert not user.is_active
    refused = sign_in(client, "dave")
    assert "Please enter a correct username and password" in refused.text  # no "verify", no resend button
    assert "/accounts/verify/again/" not in refused.text


@pytest.mark.parametrize("make_link", [
    pytest.param(lambda user, other: f"/accounts/verify/{urlsafe_base64_encode(force_bytes(user.pk))}/abc-123/",
                 id="forged-token"),
    pytest.param(lambda user, other: "/accounts/verify/not-base64!/abc-123/", id="garbage-uid"),
    pytest.param(lambda user, other: f"/accounts/verify/{urlsafe_base64_encode(b'999999')}/abc-123/",
                 id="no-such-user"),
    pytest.param(lambda user, other: f"/accounts/verify/{urlsafe_base64_encode(force_bytes(user.pk))}/"
                                     f"{services.verification_tokens.make_token(other)}/", id="other-users-token"),
    pytest.param(lambda user, other: f"/accounts/verify/{urlsafe_base64_encode(force_bytes(user.pk))}/"
                                     f"{default_token_generator.make_token(user)}/", id="password-reset-token"),
])
def test_a_bad_verification_link_is_refused_with_a_page(client, django_user_model, make_link):
    sign_up(client, username="erin", email="erin@example.com")
    sign_up(Client(), username="frank", email="frank@example.com")
    erin, frank = (django_user_model.objects.get(username=name) for name in ("erin", "frank"))

    page = client.get(make_link(erin, frank))

    assert page.status_code == 400 and b"This link does not work" in page.content
    erin.refresh_from_db()
    assert not erin.is_active
    assert EmailVerification.objects.get(user=erin).verified_at is None


def test_an_expired_verification_link_is_refused(client, settings, django_user_model):
    sign_up(client)
    link = link_in(mail.outbox[0])

    with time_machine.travel(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)):
        page = client.get(link)

    assert page.status_code == 400 and b"This link does not work" in page.content
    assert not django_user_model.objects.get(username="carol").is_active


def test_the_link_is_never_logged(client, caplog):
    caplog.set_level("DEBUG")
    sign_up(client)

    token = link_in(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    assert "verification e-mail sent" in caplog.text
    assert token not in caplog.text


def test_sign_up_refuses_bad_input_next_to_each_field(client, django_user_model):
    django_user_model.objects.create_user("taken", "taken@example.com", PASSWORD)

    response = client.post("/accounts/sign-up/", {"username": "Taken", "email": "not-an-address",
                                                  "password1": "12345678", "password2": "12345679"})

    assert response.status_code == 400
    html = response.text
    for field in ("username", "email", "password2"):
        assert f'id="id_{field}_error"' in html, field  # the error list, right above the input
        tag = input_tag(html, f"id_{field}")
        assert f"id_{field}_error" in attribute(tag, "aria-describedby"), tag
        assert attribute(tag, "aria-invalid") == "true"
        assert f'<label for="id_{field}"' in html
    assert "A user with that username already exists." in html
    assert "Enter a valid email address." in html
    assert "The two password fields didn’t match." in html
    assert django_user_model.objects.count() == 1 and not mail.outbox


def test_signing_up_with_an_address_in_use_answers_as_a_new_sign_up_and_mails_its_owner(client, django_user_model,
                                                                                      settings):
    settings.VERIFICATION_EMAILS_PER_USER = "2/hour"
    owner = django_user_model.objects.create_user("owner", "owner@example.com", PASSWORD)
    fresh = Client().post("/accounts/sign-up/", {"username": "newbie", "email": "newbie@example.com",
                                                 "password1": PASSWORD, "password2": PASSWORD}, follow=True)
    mail.outbox.clear()

    answers = [client.post("/accounts/sign-up/", {"username": f"probe{n}", "email": "OWNER@example.com",
                                                  "password1": PASSWORD, "password2": PASSWORD}, follow=True)
               for n in range(3)]

    assert all(answer.redirect_chain == fresh.redirect_chain for answer in answers)
    without_tokens = [re.sub(r"[A-Za-z0-9]{64}", "TOKEN", page.text) for page in (fresh, *answers)]
    assert len(set(without_tokens)) == 1  # the same page, whoever has the address
    assert not django_user_model.objects.filter(username__startswith="probe").exists()
    assert [message.to for message in mail.outbox] == [[owner.email]] * 2  # the owner's limit: no flood
    body = mail.outbox[0].body
    assert "/accounts/sign-in/" in body and "/accounts/password-reset/" in body and "/accounts/verify/" not in body


def test_send_again_after_signing_up_with_an_address_in_use_says_sent_and_sends_nothing(client, django_user_model):
    django_user_model.objects.create_user("owner", "owner@example.com", PASSWORD)
    client.post("/accounts/sign-up/", {"username": "probe", "email": "owner@example.com",
                                       "password1": PASSWORD, "password2": PASSWORD})
    mail.outbox.clear()

    response = client.post("/accounts/verify/again/", follow=True)

    assert "We sent a new link. Please check your inbox." in response.text and not mail.outbox


def test_sign_up_runs_the_password_validators(client, django_user_model):
    response = client.post("/accounts/sign-up/", {"username": "gina", "email": "gina@example.com",
                                                  "password1": "12345678", "password2": "12345678"})

    assert response.status_code == 400
    assert "This password is too common." in response.text
    assert "This password is entirely numeric." in response.text
    assert not django_user_model.objects.filter(username="gina").exists()


def test_an_email_that_cannot_be_sent_is_a_message_not_a_500(client, monkeypatch, django_user_model):
    def down(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(services, "send_mail", down)

    response = sign_up(client, username="hal", email="hal@example.com")

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "we could not send the email just now" in page.text
    assert 'action="/accounts/verify/again/"' in page.text
    assert django_user_model.objects.filter(username="hal").exists()


def test_a_new_account_lands_on_the_free_plan_with_its_credits(client, django_user_model):
    from billing import services as billing

    sign_up(client)

    account = billing.summary(django_user_model.objects.get(username="carol"))
    free = plan_named(DEFAULT_PLAN)
    assert account["plan"]["code"] == DEFAULT_PLAN
    assert account["credits"]["available"] == free.monthly_credits > 0


def test_signing_out_needs_a_post(client, verified):
    sign_in(client)

    assert client.get("/accounts/sign-out/").status_code == 405
    assert signed_in_user_id(client) == str(verified.pk)
    response = client.post("/accounts/sign-out/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user_id(client) is None


def test_csrf_is_enforced_on_every_form(verified, django_user_model):
    browser = Client(enforce_csrf_checks=True)

    assert sign_in(browser).status_code == 403
    assert sign_up(browser, username="ivan", email="ivan@example.com").status_code == 403
    assert browser.post("/accounts/password-reset/", {"email": "carol@example.com"}).status_code == 403
    assert not django_user_model.objects.filter(username="ivan").exists() and len(mail.outbox) == 1

    page = browser.get("/accounts/sign-in/")
    token = page.context["csrf_token"]
    assert f'name="csrfmiddlewaretoken" value="{token}"' in page.text
    signed_in = browser.post("/accounts/sign-in/", {"username": "carol", "password": PASSWORD,
                                                    "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302
    assert browser.post("/accounts/sign-out/").status_code == 403  # sign-out is a form too
    assert signed_in_user_id(browser) == str(verified.pk)


def test_password_reset_mails_a_link_that_sets_a_new_password(client, verified):
    response = client.post("/accounts/password-reset/", {"email": "carol@example.com"})

    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["carol@example.com"]
    assert "Reset your video_saas password" in mail.outbox[1].subject
    form = client.get(link_in(mail.outbox[1]), follow=True)  # Django moves the token out of the URL
    assert form.status_code == 200 and "Choose a new password" in form.text
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "another-Secret-42",
                                                    "new_password2": "another-Secret-42"})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"

    assert sign_in(Client(), password=PASSWORD).status_code == 400
    assert sign_in(Client(), password="another-Secret-42").status_code == 302


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert not mail.outbox


def test_a_used_password_reset_link_is_refused_with_a_page(client, verified):
    client.post("/accounts/password-reset/", {"email": "carol@example.com"})
    form = client.get(link_in(mail.outbox[-1]), follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "another-Secret-42",
                                             "new_password2": "another-Secret-42"})

    again = Client().get(link_in(mail.outbox[-1]), follow=True)

    assert again.status_code == 200 and "This link does not work" in again.text


def test_a_password_reset_mail_that_cannot_be_sent_is_no_500(client, verified, monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    def down(*args, **kwargs):
        raise smtplib.SMTPConnectError(421, "try later")

    monkeypatch.setattr(EmailBackend, "send_messages", down)

    response = client.post("/accounts/password-reset/", {"email": "carol@example.com"})

    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
