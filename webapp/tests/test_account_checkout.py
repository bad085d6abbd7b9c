"""Buying credits or a plan from the Account page: Stripe Checkout (mocked with respx, as billing/tests do), the
return pages, the billing portal. Credits come only from Stripe's webhook, once."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from django.test import Client

from billing import stripe_service
from billing.models import UserProfile
from billing.plans import plan_named
from billing.tests.conftest import PACK_PRICE, PRO_PRICE, SECRET_KEY, WEBHOOK_SECRET, event, pack_session

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

API = "https://api.stripe.com"
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_test_1"
PORTAL_URL = "https://billing.stripe.com/p/session/1"


@pytest.fixture(autouse=True)
def payments_on(settings):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = API
    settings.STRIPE_PRICES = {"plan:pro": PRO_PRICE, "plan:enterprise": "", "pack:credits-50": PACK_PRICE,
                              "pack:credits-200": ""}


@pytest.fixture
def stripe_api():
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        router.post("/v1/customers").respond(200, json={"id": "cus_mia0001", "object": "customer"})
        router.post("/v1/checkout/sessions").respond(200, json={
            "id": "cs_test_1", "object": "checkout.session", "url": CHECKOUT_URL})
        router.post("/v1/billing_portal/sessions").respond(200, json={
            "id": "bps_1", "object": "billing_portal.session", "url": PORTAL_URL})
        yield router


def attempt_on(page: str) -> str:
    return re.search(r'name="attempt" value="([^"]+)"', page).group(1)


def buy(browser, **choice):
    attempt = choice.pop("attempt", None) or attempt_on(browser.get("/account/").text)
    return browser.post("/account/checkout/", {"attempt": attempt, **choice})


def session_calls(stripe_api) -> list[httpx.Request]:
    return [call.request for call in stripe_api.calls if call.request.url.path == "/v1/checkout/sessions"]


def form_of(request: httpx.Request) -> dict:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def account_of(user) -> UserProfile:
    return UserProfile.objects.select_related("plan").get(user=user)


# --- What is on offer -----------------------------------------------------------------------------------------

def test_the_page_offers_the_packs_and_plans_that_have_a_stripe_price(browser):
    page = browser.get("/account/").text

    assert 'id="buy-credits-form"' in page and 'id="buy-credits-50"' in page
    assert 'id="buy-credits-200"' not in page  # no Stripe price: not on sale
    assert 'id="change-plan-pro"' in page
    assert 'id="change-plan-free"' not in page and 'id="change-plan-enterprise"' not in page


def test_a_subscriber_changes_plans_in_the_portal_not_here(browser, member):
    UserProfile.objects.filter(user=member).update(plan=plan_named("pro"), stripe_customer_id="cus_mia0001",
                                                   stripe_subscription_id="sub_1")

    page = browser.get("/account/").text

    assert 'id="change-plan-' not in page and 'id="billing-portal"' in page


# --- Checkout -------------------------------------------------------------------------------------------------

def test_buying_a_pack_sends_the_browser_to_the_checkout_stripe_made(browser, member, stripe_api):
    response = buy(browser, pack="credits-50")

    assert response.status_code == 303 and response["Location"] == CHECKOUT_URL
    [request] = session_calls(stripe_api)
    sent = form_of(request)
    assert sent["mode"] == "payment" and sent["line_items[0][price]"] == PACK_PRICE
    assert sent["metadata[pack]"] == "credits-50" and sent["metadata[credits]"] == "50"
    assert sent["success_url"] == "http://testserver/account/payment/done/?session_id={CHECKOUT_SESSION_ID}"
    assert sent["cancel_url"] == "http://testserver/account/payment/cancelled/"
    assert request.headers["Idempotency-Key"].startswith("webapp-checkout-")
    assert account_of(member).stripe_customer_id == "cus_mia0001"
    assert account_of(member).purchased_credits == 0  # nothing until Stripe's webhook says it was paid


def test_changing_plan_opens_a_subscription_checkout(browser, stripe_api):
    response = buy(browser, plan="pro")

    assert response.status_code == 303 and response["Location"] == CHECKOUT_URL
    sent = form_of(session_calls(stripe_api)[0])
    assert sent["mode"] == "subscription" and sent["line_items[0][price]"] == PRO_PRICE


def test_a_double_submit_opens_one_checkout(browser, stripe_api):
    attempt = attempt_on(browser.get("/account/").text)

    first = buy(browser, pack="credits-50", attempt=attempt)
    second = buy(browser, pack="credits-50", attempt=attempt)

    assert first["Location"] == second["Location"] == CHECKOUT_URL
    assert len(session_calls(stripe_api)) == 1


def test_a_new_visit_to_the_page_is_a_new_purchase(browser, stripe_api):
    buy(browser, pack="credits-50")
    buy(browser, pack="credits-50")

    keys = {request.headers["Idempotency-Key"] for request in session_calls(stripe_api)}
    assert len(keys) == 2


def test_the_page_is_never_cached_so_going_back_to_it_gives_a_fresh_form(browser):
    first, second = browser.get("/account/"), browser.get("/account/")

    assert "no-store" in first["Cache-Control"] and attempt_on(first.text) != attempt_on(second.text)


def test_the_same_form_token_cannot_open_another_users_checkout(browser, stripe_api, django_user_model):
    attempt = attempt_on(browser.get("/account/").text)
    buy(browser, pack="credits-50", attempt=attempt)
    other = Client()
    other.force_login(django_user_model.objects.create_user("ned", "ned@example.com", PASSWORD))

    buy(other, pack="credits-50", attempt=attempt)

    keys = [request.headers["Idempotency-Key"] for request in session_calls(stripe_api)]
    assert len(keys) == 2 and keys[0] != keys[1]


@pytest.mark.parametrize("choice, message", [
    ({"pack": "credits-9000"}, "That credit pack is not on sale."),
    ({"pack": "credits-200"}, "That credit pack is not on sale."),  # no Stripe price
    ({"plan": "free"}, "That plan cannot be bought here."),
    ({"plan": "platinum"}, "That plan cannot be bought here."),
    ({"plan": "pro", "pack": "credits-50"}, "Please choose one credit pack or one plan."),
    ({}, "Please choose one credit pack or one plan."),
    ({"pack": "x" * 10_000}, "That credit pack is not on sale."),
])
def test_what_is_not_on_sale_is_400_with_a_message_and_no_checkout(browser, stripe_api, choice, message):
    response = buy(browser, **choice)

    assert response.status_code == 400 and message in response.text
    assert 'id="purchase-errors"' in response.text and not session_calls(stripe_api)


@pytest.mark.parametrize("attempt", ["", "short", "<script>" * 4, "a" * 65])
def test_a_form_without_a_valid_token_is_400(browser, stripe_api, attempt):
    response = browser.post("/account/checkout/", {"attempt": attempt, "pack": "credits-50"})

    assert response.status_code == 400 and "This form has expired" in response.text
    assert not session_calls(stripe_api)


def test_the_plan_you_are_on_is_refused(browser, member, stripe_api):
    UserProfile.objects.filter(user=member).update(plan=plan_named("pro"))

    response = buy(browser, plan="pro")

    assert response.status_code == 400 and "You are on the Pro plan already." in response.text
    assert not session_calls(stripe_api)


def test_another_plan_while_subscribed_points_to_the_portal(browser, member, stripe_api, settings):
    settings.STRIPE_PRICES = {**settings.STRIPE_PRICES, "plan:enterprise": "price_1Enterprise"}
    UserProfile.objects.filter(user=member).update(plan=plan_named("pro"), stripe_customer_id="cus_mia0001",
                                                   stripe_subscription_id="sub_1")

    response = buy(browser, plan="enterprise")

    assert response.status_code == 409 and "billing portal" in response.text and not session_calls(stripe_api)


def test_a_stripe_failure_is_a_502_page_without_details(browser):
    with respx.mock(base_url=API, assert_all_mocked=True) as stripe_down:
        stripe_down.post("/v1/customers").respond(500, json={"error": {"message": "secret internals"}})
        response = buy(browser, pack="credits-50")

    assert response.status_code == 502 and "Nothing was charged" in response.text
    assert "secret internals" not in response.text


def test_without_payments_configured_a_checkout_is_503(browser, settings, stripe_api):
    page = browser.get("/account/").text
    settings.STRIPE_SECRET_KEY = ""

    response = browser.post("/account/checkout/", {"attempt": attempt_on(page), "pack": "credits-50"})

    assert response.status_code == 503 and "Payments are not available" in response.text


def test_the_checkout_needs_the_csrf_token(member, stripe_api):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post("/account/checkout/", {"attempt": "a" * 32, "pack": "credits-50"})

    assert response.status_code == 403 and not session_calls(stripe_api)


# --- Coming back from Stripe ----------------------------------------------------------------------------------

def test_the_return_page_shows_the_ledger_balance_which_rises_once_when_the_webhook_arrives(browser, stripe_api):
    buy(browser, pack="credits-50")
    done = "/account/payment/done/?session_id=cs_test_1"

    before = browser.get(done).text
    assert "Payment received" in before and "Your credits appear as soon as Stripe confirms it" in before
    assert '<dd id="credits-available">15</dd>' in before and 'hx-trigger="every 3s"' in before

    paid = event("checkout.session.completed", pack_session("cus_mia0001", session_id="cs_test_1"))
    stripe_service.handle_event(paid)
    stripe_service.handle_event(paid)  # Stripe delivers it again: recorded once

    polled = browser.get(done, headers={"HX-Request": "true"})
    assert polled.status_code == 286  # htmx stops polling
    assert "Stripe confirmed your payment" in polled.text and '<dd id="credits-available">65</dd>' in polled.text
    assert '<dd id="credits-available">65</dd>' in browser.get("/account/").text


def test_the_return_page_for_a_checkout_this_browser_did_not_open_watches_nothing(browser):
    page = browser.get("/account/payment/done/?session_id=cs_test_someone_else").text

    assert "Payment received" in page and "hx-trigger" not in page and "Stripe confirmed" not in page


@pytest.mark.parametrize("session_id", ["", "<script>", "cs_" + "x" * 300])
def test_the_return_page_ignores_a_malformed_session_id(browser, session_id):
    response = browser.get("/account/payment/done/", {"session_id": session_id})

    assert response.status_code == 200 and "hx-trigger" not in response.text


def test_the_cancel_page_says_nothing_was_charged(browser):
    assert "nothing was charged" in browser.get("/account/payment/cancelled/").text


# --- The billing portal ---------------------------------------------------------------------------------------

def test_the_portal_sends_a_paying_customer_to_stripe_and_back_here(browser, member, stripe_api):
    UserProfile.objects.filter(user=member).update(stripe_customer_id="cus_mia0001")

    response = browser.post("/account/billing-portal/")

    assert response.status_code == 303 and response["Location"] == PORTAL_URL
    [call] = [call.request for call in stripe_api.calls if call.request.url.path == "/v1/billing_portal/sessions"]
    assert form_of(call) == {"customer": "cus_mia0001", "return_url": "http://testserver/account/"}


def test_the_portal_before_any_payment_is_409(browser, stripe_api):
    response = browser.post("/account/billing-portal/")

    assert response.status_code == 409 and "no billing portal" in response.text and not stripe_api.calls


def test_a_submit_while_the_same_forms_first_is_still_at_stripe_waits_then_says_so(browser, stripe_api,
                                                                                  monkeypatch):
    from django.core.cache import cache

    from webapp import account_services

    monkeypatch.setattr(account_services, "CHECKOUT_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: False)  # another request holds the form's lock

    response = buy(browser, pack="credits-50")

    assert response.status_code == 409 and "still being prepared" in response.text and not session_calls(stripe_api)
