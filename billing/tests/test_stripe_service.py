"""billing.stripe_service against a respx-mocked api.stripe.com: the requests it makes are Stripe's documented
form-encoded calls, it keeps its secrets to itself, and every failure is one PaymentProviderError."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from billing import stripe_service
from billing.models import CreditPack, Plan, UserProfile

from .conftest import PACK_PRICE, PRO_PRICE, SECRET_KEY, logged

pytestmark = pytest.mark.django_db


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def customer_created(stripe_api, customer_id="cus_new0001"):
    return stripe_api.post("/v1/customers").respond(200, json={"id": customer_id, "object": "customer",
                                                                "livemode": False, "metadata": {}})


def session_created(stripe_api, session_id="cs_test_a1"):
    return stripe_api.post("/v1/checkout/sessions").respond(200, json={
        "id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "mode": "payment", "status": "open", "payment_status": "unpaid", "livemode": False})


@pytest.fixture
def account(user):
    user.email = "alice@example.com"
    user.save()
    return UserProfile.objects.select_related("user", "plan").get(user=user)


def test_the_first_checkout_creates_the_customer_and_stores_it_before_anyone_pays(stripe_api, account, user):
    customers = customer_created(stripe_api)
    session_created(stripe_api)
    stripe_service.checkout_pack(account, CreditPack.objects.get(code="credits-50"))
    sent = customers.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(sent) == {"name": "alice", "email": "alice@example.com", "metadata[user_id]": str(user.pk),
                          "metadata[account_id]": str(account.id)}
    assert UserProfile.objects.get(id=account.id).stripe_customer_id == "cus_new0001"


def test_a_later_checkout_reuses_the_stored_customer(stripe_api, account):
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_kept0001")
    account.refresh_from_db()
    customers = customer_created(stripe_api)
    sessions = session_created(stripe_api)
    stripe_service.checkout_pack(account, CreditPack.objects.get(code="credits-50"))
    assert not customers.called and form(sessions.calls.last.request)["customer"] == "cus_kept0001"


def test_when_two_first_checkouts_race_the_customer_stored_first_is_used(stripe_api, account):
    customer_created(stripe_api, "cus_loser0001")
    # The other checkout stored its customer after this one read the account (still without one).
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_winner01")
    assert stripe_service.ensure_customer(account) == "cus_winner01"
    assert UserProfile.objects.get(id=account.id).stripe_customer_id == "cus_winner01"


def test_a_pack_checkout_is_a_one_time_payment_naming_the_pack_and_its_credits(stripe_api, account, user):
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_kept0001")
    account.refresh_from_db()
    sessions = session_created(stripe_api, "cs_test_pack")
    checkout = stripe_service.checkout_pack(account, CreditPack.objects.get(code="credits-50"))
    assert checkout == stripe_service.Checkout(url="https://checkout.stripe.com/c/pay/cs_test_pack",
                                               session_id="cs_test_pack")
    assert form(sessions.calls.last.request) == {
        "mode": "payment", "customer": "cus_kept0001", "client_reference_id": str(user.pk),
        "line_items[0][price]": PACK_PRICE, "line_items[0][quantity]": "1",
        "success_url": "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example.com/cancelled",
        "metadata[user_id]": str(user.pk), "metadata[pack]": "credits-50", "metadata[credits]": "50",
        "payment_intent_data[metadata][user_id]": str(user.pk),
        "payment_intent_data[metadata][pack]": "credits-50", "payment_intent_data[metadata][credits]": "50"}


def test_a_plan_checkout_is_a_subscription_to_the_plans_price(stripe_api, account, user):
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_kept0001")
    account.refresh_from_db()
    sessions = session_created(stripe_api)
    stripe_service.checkout_plan(account, Plan.objects.get(code="pro"))
    sent = form(sessions.calls.last.request)
    assert (sent["mode"], sent["line_items[0][price]"], sent["metadata[plan]"]) == ("subscription", PRO_PRICE, "pro")
    assert sent["subscription_data[metadata][plan]"] == "pro"


def test_the_price_set_in_the_admin_wins_over_the_setting(account):
    pro = Plan.objects.get(code="pro")
    assert stripe_service.price_id(pro) == PRO_PRICE
    pro.stripe_price_id = "price_fromAdmin"
    pro.save()
    assert stripe_service.price_id(pro) == "price_fromAdmin"
    assert stripe_service.plan_for_price("price_fromAdmin") == pro
    assert stripe_service.plan_for_price(PRO_PRICE) is None


def test_only_plans_and_active_packs_with_a_price_are_on_sale(account):
    assert [plan.code for plan in stripe_service.purchasable_plans()] == ["pro"]
    assert [pack.code for pack in stripe_service.purchasable_packs()] == ["credits-50"]
    CreditPack.objects.filter(code="credits-50").update(active=False)
    assert stripe_service.purchasable_packs() == []


def test_the_portal_session_returns_to_the_configured_page(stripe_api, account):
    UserProfile.objects.filter(id=account.id).update(stripe_customer_id="cus_kept0001")
    account.refresh_from_db()
    portal = stripe_api.post("/v1/billing_portal/sessions").respond(200, json={
        "id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/x"})
    assert stripe_service.portal_url(account) == "https://billing.stripe.com/p/session/x"
    assert form(portal.calls.last.request) == {"customer": "cus_kept0001",
                                               "return_url": "https://app.example.com/billing"}


def test_the_base_url_is_a_setting(stripe_api, account, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9999/stripe/"
    import respx

    with respx.mock(assert_all_mocked=True) as elsewhere:
        route = elsewhere.post("http://127.0.0.1:9999/stripe/v1/customers").respond(
            200, json={"id": "cus_local0001", "object": "customer"})
        assert stripe_service.ensure_customer(account) == "cus_local0001"
        assert route.called


@pytest.mark.parametrize("status, body", [
    (400, {"error": {"type": "invalid_request_error", "message": "No such price: 'price_1ProMonthly'",
                     "param": "line_items[0][price]", "code": "resource_missing"}}),
    (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****cdef"}}),
    (402, {"error": {"type": "card_error", "message": "Your card was declined.", "code": "card_declined"}}),
])
def test_a_refusal_is_one_payment_provider_error_and_no_customer_is_stored(stripe_api, account, status, body, caplog):
    stripe_api.post("/v1/customers").respond(status, json=body)
    with pytest.raises(stripe_service.PaymentProviderError):
        stripe_service.ensure_customer(account)
    assert UserProfile.objects.get(id=account.id).stripe_customer_id == ""
    assert caplog.records and SECRET_KEY[-12:] not in logged(caplog)


def test_a_network_failure_is_retried_with_one_idempotency_key_then_reported(stripe_api, account):
    route = stripe_api.post("/v1/customers").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(stripe_service.PaymentProviderError):
        stripe_service.ensure_customer(account)
    keys = {call.request.headers.get("Idempotency-Key") for call in route.calls}
    assert route.call_count == 1 + stripe_service.MAX_NETWORK_RETRIES and len(keys) == 1 and None not in keys


def test_without_a_secret_key_nothing_is_sent(stripe_api, account, settings):
    settings.STRIPE_SECRET_KEY = ""
    route = customer_created(stripe_api)
    with pytest.raises(stripe_service.PaymentsNotConfigured):
        stripe_service.ensure_customer(account)
    assert not route.called
