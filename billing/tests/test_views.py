"""POST /api/billing/checkout/ and GET /api/billing/portal/ (Stripe mocked with respx)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import Plan, UserProfile

from .conftest import SECRET_KEY, logged

pytestmark = pytest.mark.django_db

CHECKOUT, PORTAL = "/api/billing/checkout/", "/api/billing/portal/"


@pytest.fixture
def stripe_ok(stripe_api):
    stripe_api.post("/v1/customers").respond(200, json={"id": "cus_alice0001", "object": "customer"})
    stripe_api.post("/v1/checkout/sessions").respond(200, json={
        "id": "cs_test_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_1"})
    stripe_api.post("/v1/billing_portal/sessions").respond(200, json={
        "id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/1"})
    return stripe_api


def account_of(user) -> UserProfile:
    return UserProfile.objects.select_related("plan").get(user=user)


def test_checkout_needs_a_token(stripe_ok):
    r = APIClient().post(CHECKOUT, {"pack": "credits-50"}, format="json")
    assert r.status_code == 401 and not stripe_ok.calls


def test_checkout_for_a_pack_answers_the_stripe_page(api_client, user, stripe_ok):
    r = api_client.post(CHECKOUT, {"pack": "credits-50"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json() == {"checkout_url": "https://checkout.stripe.com/c/pay/cs_test_1", "session_id": "cs_test_1"}
    assert account_of(user).stripe_customer_id == "cus_alice0001"


def test_checkout_for_a_plan_answers_the_stripe_page(api_client, stripe_ok):
    r = api_client.post(CHECKOUT, {"plan": "pro"}, format="json")
    assert r.status_code == 200 and r.json()["session_id"] == "cs_test_1"


@pytest.mark.parametrize("body, field", [
    ({"plan": "platinum"}, "plan"), ({"pack": "credits-9000"}, "pack"),
    ({"plan": "free"}, "plan"),  # no Stripe price: not on sale
    ({"plan": "enterprise"}, "plan"), ({"pack": "credits-200"}, "pack"),
    ({"plan": 1}, "plan"), ({"pack": ["credits-50"]}, "pack"),
    ({"plan": "pro", "coupon": "FREE"}, "coupon"),
    ({"plan": "pro", "pack": "credits-50"}, "non_field_errors"), ({}, "non_field_errors"),
])
def test_checkout_refuses_what_is_not_exactly_one_thing_on_sale(api_client, stripe_ok, body, field):
    r = api_client.post(CHECKOUT, body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"] == "Validation error" and field in r.json()["details"]
    assert not stripe_ok.calls


def test_checkout_refuses_a_body_that_is_not_an_object(api_client, stripe_ok):
    r = api_client.post(CHECKOUT, ["pro"], format="json")
    assert r.status_code == 400 and not stripe_ok.calls


def test_checkout_refuses_the_plan_you_are_on(api_client, user, stripe_ok):
    UserProfile.objects.filter(user=user).update(plan=Plan.objects.get(code="pro"))
    r = api_client.post(CHECKOUT, {"plan": "pro"}, format="json")
    assert r.status_code == 400 and r.json()["details"] == {"plan": ["You are on the Pro plan already."]}
    assert not stripe_ok.calls


def test_checkout_for_another_plan_while_subscribed_points_to_the_portal(api_client, user, stripe_ok, settings):
    settings.STRIPE_PRICES = {**settings.STRIPE_PRICES, "plan:enterprise": "price_1Enterprise"}
    UserProfile.objects.filter(user=user).update(plan=Plan.objects.get(code="pro"), stripe_subscription_id="sub_1")
    r = api_client.post(CHECKOUT, {"plan": "enterprise"}, format="json")
    assert r.status_code == 409 and "portal" in r.json()["error"]


def test_a_pack_can_be_bought_while_subscribed(api_client, user, stripe_ok):
    UserProfile.objects.filter(user=user).update(plan=Plan.objects.get(code="pro"), stripe_subscription_id="sub_1")
    assert api_client.post(CHECKOUT, {"pack": "credits-50"}, format="json").status_code == 200


def test_checkout_without_stripe_configured_is_503(api_client, stripe_ok, settings):
    settings.STRIPE_SECRET_KEY = ""
    r = api_client.post(CHECKOUT, {"pack": "credits-50"}, format="json")
    assert r.status_code == 503 and r.json() == {"error": "Payments are not configured"}
    assert not stripe_ok.calls


def test_a_stripe_failure_is_502_without_details(api_client, stripe_api, caplog):
    stripe_api.post("/v1/customers").respond(401, json={"error": {
        "type": "invalid_request_error", "message": f"Invalid API Key provided: {SECRET_KEY}"}})
    r = api_client.post(CHECKOUT, {"pack": "credits-50"}, format="json")
    assert r.status_code == 502
    assert r.json() == {"error": "The payment provider could not be reached; try again shortly"}
    assert caplog.records and SECRET_KEY[8:20] not in logged(caplog)


def test_the_portal_needs_a_token(stripe_ok):
    assert APIClient().get(PORTAL).status_code == 401


def test_the_portal_is_409_before_the_first_payment(api_client, stripe_ok):
    r = api_client.get(PORTAL)
    assert r.status_code == 409 and "checkout" in r.json()["error"]
    assert not stripe_ok.calls


def test_the_portal_answers_stripes_page_for_a_customer(api_client, user, stripe_ok):
    UserProfile.objects.filter(user=user).update(stripe_customer_id="cus_alice0001")
    r = api_client.get(PORTAL)
    assert r.status_code == 200 and r.json() == {"portal_url": "https://billing.stripe.com/p/session/1"}


def test_the_portal_without_stripe_configured_is_503(api_client, user, stripe_ok, settings):
    settings.STRIPE_SECRET_KEY = ""
    UserProfile.objects.filter(user=user).update(stripe_customer_id="cus_alice0001")
    assert api_client.get(PORTAL).status_code == 503


def test_the_schema_names_exactly_what_is_on_sale(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    body = schema["components"]["schemas"]["CheckoutRequest"]
    assert body["additionalProperties"] is False
    assert body["oneOf"] == [{"required": ["plan"]}, {"required": ["pack"]}]
    enums = {name: schema["components"]["schemas"][body["properties"][name]["allOf"][0]["$ref"].rpartition("/")[2]]
             for name in ("plan", "pack")}
    assert (enums["plan"]["enum"], enums["pack"]["enum"]) == (["pro"], ["credits-50"])
    assert schema["paths"][CHECKOUT]["post"]["requestBody"]["required"] is True  # an empty body is refused
    assert "/api/billing/stripe-webhook/" not in schema["paths"]  # Stripe's endpoint, not the client API
