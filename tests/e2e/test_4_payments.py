"""Payments end to end: the API server, the sandbox's Stripe (hosted Checkout, billing portal, signed webhooks) as
real processes. A user pays as a person would, on the Checkout page; Stripe's events reach the webhook, twice."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e

ACCOUNT = """
import json
from billing.models import LedgerEntry, StripeEvent, UserProfile
p = UserProfile.objects.select_related("plan").get(user__username={username!r})
print(json.dumps({{"plan": p.plan.code, "granted": p.granted_credits, "purchased": p.purchased_credits,
    "subscription": p.stripe_subscription_id, "customer": p.stripe_customer_id,
    "entries": [[e.kind, e.amount, e.payment_ref] for e in LedgerEntry.objects.filter(account=p).order_by("id")],
    "events": list(StripeEvent.objects.values_list("event_id", flat=True))}}))
"""


@pytest.fixture
def http():
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def account(stack, username: str) -> dict:
    return json.loads(stack.manage("shell", "-c", ACCOUNT.format(username=username)).strip().splitlines()[-1])


def checkout(http, stack, token: str, body: dict) -> dict:
    r = http.post(f"{stack.api_url}/api/billing/checkout/", json=body, headers={"Authorization": f"Token {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def pay(http, checkout_url: str, deliver: str) -> None:
    page = http.get(checkout_url)
    assert page.status_code == 200 and "Pay</button>" in page.text
    assert http.post(checkout_url, data={"deliver": deliver}).status_code == 303


def deliveries(http, stack, object_id: str) -> list[dict]:
    events = http.get(f"{stack.sandbox_url}/_sandbox/stripe/events").json()["events"]
    return [e for e in events if e["object_id"] == object_id]


def test_credits_bought_on_the_checkout_page_arrive_once_though_stripe_delivers_twice(e2e_stack, http):
    stack = e2e_stack
    token = stack.create_token("buyer")
    before = account(stack, "buyer")

    session = checkout(http, stack, token, {"pack": "credits-50"})
    assert session["session_id"].startswith("cs_test_")
    pay(http, session["checkout_url"], deliver="twice")

    sent = deliveries(http, stack, session["session_id"])
    assert [e["type"] for e in sent] == ["checkout.session.completed"] * 2 and sent[0]["id"] == sent[1]["id"]
    assert [d["status"] for e in sent for d in e["deliveries"]] == [200, 200]
    after = account(stack, "buyer")
    assert after["purchased"] == before["purchased"] + 50
    assert [entry for entry in after["entries"] if entry[0] == "purchase"] == [["purchase", 50, session["session_id"]]]
    assert after["events"].count(sent[0]["id"]) == 1


def test_a_subscription_paid_on_the_checkout_page_and_cancelled_in_the_portal(e2e_stack, http):
    stack = e2e_stack
    token = stack.create_token("subscriber")
    session = checkout(http, stack, token, {"plan": "pro"})
    pay(http, session["checkout_url"], deliver="once")

    subscribed = account(stack, "subscriber")
    assert subscribed["plan"] == "pro" and subscribed["subscription"].startswith("sub_")
    paid_invoices = [entry for entry in subscribed["entries"] if entry[0] == "grant" and entry[2].startswith("in_")]
    assert paid_invoices == [["grant", 150, paid_invoices[0][2]]], subscribed["entries"]

    portal = http.get(f"{stack.api_url}/api/billing/portal/", headers={"Authorization": f"Token {token}"})
    assert portal.status_code == 200, portal.text
    page = http.get(portal.json()["portal_url"])
    assert subscribed["subscription"] in page.text
    cancelled = http.post(f"{portal.json()['portal_url']}/cancel", data={"subscription": subscribed["subscription"]})
    assert cancelled.status_code == 303

    ended = account(stack, "subscriber")
    assert (ended["plan"], ended["subscription"]) == ("free", "")
    assert ended["granted"] == subscribed["granted"]  # a paid period's credits last to its end
