"""POST /api/billing/stripe-webhook/, attacked: only a body signed with our endpoint secret within 300 s in either
direction is read; each event id is applied once, each checkout session credited once; nothing a signed body says
can make it answer 500."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from billing.models import EntryKind, LedgerEntry, StripeEvent, UserProfile

from .conftest import (
    WEBHOOK_SECRET,
    body_of,
    event,
    logged,
    pack_session,
    paid_invoice,
    sign,
    subscription_session,
)

URL = "/api/billing/stripe-webhook/"
CUSTOMER = "cus_alice0001"

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(user):
    UserProfile.objects.filter(user=user).update(stripe_customer_id=CUSTOMER)
    return UserProfile.objects.get(user=user)


def deliver(body: bytes, signature: str | None = "sign", client: APIClient | None = None):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": sign(body) if signature == "sign" else signature}
    return (client or APIClient()).post(URL, data=body, content_type="application/json", **headers)


def purchases(account) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account=account, kind=EntryKind.PURCHASE))


def fresh(account) -> UserProfile:
    return UserProfile.objects.select_related("plan").get(id=account.id)


def nothing_written(account) -> bool:
    return not StripeEvent.objects.exists() and not purchases(account)


# --- what a genuine delivery does ---------------------------------------------------------------------------------

def test_a_paid_pack_checkout_buys_its_credits(account):
    session = pack_session(CUSTOMER)
    r = deliver(body_of(event("checkout.session.completed", session)))
    assert r.status_code == 200, r.content
    assert r.json() == {"received": True, "outcome": "credits bought"}
    assert fresh(account).purchased_credits == account.purchased_credits + 50
    [entry] = purchases(account)
    assert (entry.amount, entry.payment_ref, entry.idempotency_key) == (50, session["id"], f"purchase:{session['id']}")
    assert entry.memo == "50 credits bought"


def test_an_unpaid_checkout_buys_nothing_but_is_recorded(account):
    r = deliver(body_of(event("checkout.session.completed", pack_session(CUSTOMER, paid=False))))
    assert r.status_code == 200 and r.json()["outcome"] == "not paid"
    assert purchases(account) == [] and StripeEvent.objects.count() == 1


def test_a_delayed_payment_that_succeeds_later_buys_the_credits_once(account):
    session = pack_session(CUSTOMER, paid=False)
    deliver(body_of(event("checkout.session.completed", session)))
    session.update(payment_status="paid", status="complete")
    deliver(body_of(event("checkout.session.async_payment_succeeded", session)))
    deliver(body_of(event("checkout.session.completed", session)))  # a late, paid copy of the first
    assert [entry.amount for entry in purchases(account)] == [50]


def test_a_subscription_checkout_puts_the_account_on_the_plan_and_the_invoice_grants_its_credits(account):
    granted_before = fresh(account).granted_credits
    r = deliver(body_of(event("checkout.session.completed", subscription_session(CUSTOMER, subscription="sub_1"))))
    assert r.json()["outcome"] == "subscribed"
    after_checkout = fresh(account)
    assert (after_checkout.plan.code, after_checkout.stripe_subscription_id) == ("pro", "sub_1")
    assert after_checkout.granted_credits == granted_before  # credits come with the paid invoice

    # The paid period starts after the free one did: what is left of the free grant expires.
    invoice = paid_invoice(CUSTOMER, subscription="sub_1", start=int(time.time()) + 5,
                           end=int(time.time()) + 30 * 86400)
    r = deliver(body_of(event("invoice.paid", invoice)))
    assert r.json()["outcome"] == "period paid"
    paid = fresh(account)
    assert paid.granted_credits == 150
    assert int(paid.period_start.timestamp()) == invoice["lines"]["data"][0]["period"]["start"]
    assert int(paid.period_end.timestamp()) == invoice["lines"]["data"][0]["period"]["end"]
    grant = LedgerEntry.objects.get(account=account, idempotency_key=f"grant:invoice:{invoice['id']}")
    assert grant.payment_ref == invoice["id"]


def test_an_invoice_paid_before_its_checkout_event_is_enough_on_its_own(account):
    deliver(body_of(event("invoice.paid", paid_invoice(CUSTOMER, subscription="sub_2", start=int(time.time()) + 5,
                                                       end=int(time.time()) + 86400))))
    deliver(body_of(event("checkout.session.completed", subscription_session(CUSTOMER, subscription="sub_2"))))
    paid = fresh(account)
    assert (paid.plan.code, paid.stripe_subscription_id, paid.granted_credits) == ("pro", "sub_2", 150)


def test_an_invoice_in_an_older_api_versions_shape_is_read_too(account):
    invoice = paid_invoice(CUSTOMER, subscription="sub_3")
    line = invoice["lines"]["data"][0]
    del invoice["parent"], line["pricing"]
    invoice["subscription"], line["price"] = "sub_3", {"id": "price_1ProMonthly", "object": "price"}
    assert deliver(body_of(event("invoice.paid", invoice))).json()["outcome"] == "period paid"
    assert fresh(account).stripe_subscription_id == "sub_3"


def test_a_deleted_subscription_returns_the_account_to_the_free_plan(account):
    deliver(body_of(event("checkout.session.completed", subscription_session(CUSTOMER, subscription="sub_4"))))
    r = deliver(body_of(event("customer.subscription.deleted",
                              {"id": "sub_4", "object": "subscription", "customer": CUSTOMER, "status": "canceled"})))
    assert r.json()["outcome"] == "subscription ended"
    ended = fresh(account)
    assert (ended.plan.code, ended.stripe_subscription_id) == ("free", "")


def test_a_checkout_event_delivered_after_its_subscription_ended_leaves_the_account_on_free(account):
    session = subscription_session(CUSTOMER, subscription="sub_late")
    deliver(body_of(event("customer.subscription.deleted",
                          {"id": "sub_late", "object": "subscription", "customer": CUSTOMER})))
    r = deliver(body_of(event("checkout.session.completed", session)))
    assert r.json()["outcome"].startswith("subscription not recorded")
    assert (fresh(account).plan.code, fresh(account).stripe_subscription_id) == ("free", "")


def test_an_invoice_paid_after_its_subscription_ended_grants_its_credits_once_but_not_the_plan(account):
    granted_before = fresh(account).granted_credits
    deliver(body_of(event("checkout.session.completed", subscription_session(CUSTOMER, subscription="sub_gone"))))
    deliver(body_of(event("customer.subscription.deleted",
                          {"id": "sub_gone", "object": "subscription", "customer": CUSTOMER})))
    invoice = paid_invoice(CUSTOMER, subscription="sub_gone", start=int(time.time()) + 5,
                           end=int(time.time()) + 30 * 86400)
    for _ in range(2):
        assert deliver(body_of(event("invoice.paid", invoice))).json()["outcome"] == "period paid"
    after = fresh(account)
    assert (after.plan.code, after.stripe_subscription_id) == ("free", "")
    assert after.granted_credits == granted_before + 150
    assert LedgerEntry.objects.filter(idempotency_key=f"grant:invoice:{invoice['id']}").count() == 1


def test_the_end_of_an_older_subscription_leaves_the_current_one(account):
    deliver(body_of(event("checkout.session.completed", subscription_session(CUSTOMER, subscription="sub_new"))))
    deliver(body_of(event("customer.subscription.deleted",
                          {"id": "sub_old", "object": "subscription", "customer": CUSTOMER})))
    assert fresh(account).stripe_subscription_id == "sub_new"


def test_an_unknown_event_type_is_acknowledged_and_recorded(account):
    r = deliver(body_of(event("customer.subscription.created", {"id": "sub_5", "customer": CUSTOMER})))
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert StripeEvent.objects.get().type == "customer.subscription.created"


# --- duplicates --------------------------------------------------------------------------------------------------

def test_a_replayed_event_is_applied_once(account):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    first, again = deliver(body), deliver(body)
    assert (first.json()["outcome"], again.json()["outcome"]) == ("credits bought", "duplicate")
    assert len(purchases(account)) == 1 and fresh(account).purchased_credits == account.purchased_credits + 50


def test_one_checkout_session_under_two_event_ids_is_credited_once(account):
    session = pack_session(CUSTOMER)
    deliver(body_of(event("checkout.session.completed", session)))
    second = deliver(body_of(event("checkout.session.completed", session)))
    assert second.status_code == 200
    assert StripeEvent.objects.count() == 2 and len(purchases(account)) == 1


def test_the_same_invoice_under_two_event_ids_is_granted_once(account):
    invoice = paid_invoice(CUSTOMER, subscription="sub_6", start=int(time.time()), end=int(time.time()) + 86400)
    deliver(body_of(event("invoice.paid", invoice)))
    deliver(body_of(event("invoice.paid", invoice)))
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.GRANT, payment_ref=invoice["id"]).count() == 1


# --- events we cannot apply: acknowledged (Stripe would retry for days), nothing but the event written ----------

def test_an_event_for_an_unknown_customer_is_acknowledged_and_only_recorded(account, caplog):
    r = deliver(body_of(event("checkout.session.completed", pack_session("cus_stranger"))))
    assert r.status_code == 200 and r.json()["outcome"] == "unknown customer"
    assert StripeEvent.objects.count() == 1 and not LedgerEntry.objects.filter(kind=EntryKind.PURCHASE).exists()
    assert "cus_stranger" in caplog.text


def test_an_invoice_for_an_unknown_price_grants_nothing(account):
    granted = fresh(account).granted_credits
    r = deliver(body_of(event("invoice.paid", paid_invoice(CUSTOMER, subscription="sub_7", price="price_unknown"))))
    assert r.status_code == 200 and r.json()["outcome"] == "unknown price"
    after = fresh(account)
    assert (after.granted_credits, after.plan.code, after.stripe_subscription_id) == (granted, "free", "")


@pytest.mark.parametrize("credits", ["0", "-5", "5.5", "1000001", "", "٥٠", None, 50, ["50"]])
def test_a_session_without_a_sane_credit_count_buys_nothing(account, credits):
    session = pack_session(CUSTOMER)
    session["metadata"]["credits"] = credits
    r = deliver(body_of(event("checkout.session.completed", session)))
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert purchases(account) == []


def test_an_invoice_that_bills_no_subscription_grants_nothing(account):
    invoice = paid_invoice(CUSTOMER, subscription="sub_8")
    invoice["parent"] = None
    assert deliver(body_of(event("invoice.paid", invoice))).json()["outcome"] == "ignored"


# --- forgeries: 400, and nothing written -------------------------------------------------------------------------

def test_a_signature_made_with_another_secret_is_refused(account):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    r = deliver(body, sign(body, secret="whsec_attacker"))
    assert r.status_code == 400 and r.json() == {"error": "The Stripe-Signature header does not sign this body."}
    assert nothing_written(account)


def test_a_signature_of_another_body_is_refused(account):
    signed = body_of(event("checkout.session.completed", pack_session(CUSTOMER, credits="1")))
    sent = body_of(event("checkout.session.completed", pack_session(CUSTOMER, credits="1000")))
    assert deliver(sent, sign(signed)).status_code == 400
    assert nothing_written(account)


def test_a_body_changed_by_one_byte_is_refused(account):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    assert deliver(body + b" ", sign(body)).status_code == 400
    assert nothing_written(account)


@pytest.mark.parametrize("header", [None, "", "t=1", "v1=abc", "garbage", "t=abc,v1=00", "t=,v1=",
                                    "t=1,v0=00", "t=9" * 400])
def test_a_missing_or_malformed_signature_is_refused(account, header):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    assert deliver(body, header).status_code == 400
    assert nothing_written(account)


@pytest.mark.parametrize("skew", [-301, 301, -100_000_000, 10**12])
def test_a_timestamp_more_than_300_seconds_away_is_refused(account, skew):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    r = deliver(body, sign(body, at=time.time() + skew))
    assert r.status_code == 400, r.content
    assert nothing_written(account)


@pytest.mark.parametrize("skew", [-290, 290])
def test_a_timestamp_within_300_seconds_either_way_is_accepted(account, skew):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    assert deliver(body, sign(body, at=time.time() + skew)).status_code == 200


def test_a_second_valid_signature_in_the_header_is_accepted_for_rotation(account):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    old, new = sign(body, secret="whsec_old"), sign(body)
    assert deliver(body, f"{old},v1={new.partition('v1=')[2]}").status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"null", b"\"evt\"", b"\xff\xfe\x00",
                                  b'{"id": "evt_1", "type": "invoice.paid"}',
                                  b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": []}}',
                                  b'{"id": 12, "type": "invoice.paid", "data": {"object": {}}}',
                                  b'{"id": "evt\\u0000x", "type": "invoice.paid", "data": {"object": {}}}',
                                  b'{"id": "' + b"e" * 300 + b'", "type": "x", "data": {"object": {}}}'])
def test_a_validly_signed_body_that_is_not_a_stripe_event_is_400(account, body):
    r = deliver(body, f"t={int(time.time())},v1=" + sign(body).partition("v1=")[2])
    assert r.status_code == 400, r.content
    assert nothing_written(account)


def test_a_body_over_the_cap_is_413_before_it_is_read(account, settings):
    body = b'{"pad": "' + b"x" * settings.REQUEST_MAX_BODY_BYTES + b'"}'
    r = deliver(body)
    assert r.status_code == 413 and r.json()["max_bytes"] == settings.REQUEST_MAX_BODY_BYTES
    assert nothing_written(account)


def test_without_a_webhook_secret_nothing_is_read_and_stripe_is_told_to_retry(account, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    r = deliver(body, sign(body, secret=""))
    assert r.status_code == 503 and r.json() == {"error": "Payments are not configured"}
    assert nothing_written(account)


def test_only_post_is_answered(account):
    assert APIClient().get(URL).status_code == 405


def test_the_secret_never_reaches_the_answer_or_the_log(account, caplog):
    body = body_of(event("checkout.session.completed", pack_session(CUSTOMER)))
    r = deliver(body, sign(body, secret="whsec_attacker"))
    assert WEBHOOK_SECRET[6:18] not in r.content.decode() and WEBHOOK_SECRET[6:18] not in logged(caplog)


signed_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)
stripe_ish = st.fixed_dictionaries({
    "id": st.one_of(st.just("evt_fuzz"), st.text(max_size=10)),
    "type": st.sampled_from(["checkout.session.completed", "checkout.session.async_payment_succeeded",
                             "invoice.paid", "customer.subscription.deleted", "x"]),
    "data": st.fixed_dictionaries({"object": st.dictionaries(
        st.sampled_from(["id", "customer", "mode", "payment_status", "metadata", "subscription", "lines",
                         "parent", "period"]),
        st.one_of(st.just(CUSTOMER), signed_values), max_size=8)}),
})


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(signed_values, stripe_ish))
def test_no_signed_body_whatever_it_says_gets_a_500(account, payload):
    body = json.dumps(payload).encode()
    assert deliver(body).status_code in (200, 400)


# --- two deliveries of one event at the same moment (PostgreSQL: real row locks) -----------------------------------

def deliver_at_once(body: bytes, start: threading.Barrier, answers: list) -> None:
    start.wait()
    try:
        answers.append(deliver(body).status_code)
    finally:
        connection.close()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_deliveries_of_one_event_credit_once(user):
    UserProfile.objects.filter(user=user).update(stripe_customer_id=CUSTOMER)
    account = UserProfile.objects.get(user=user)
    assert connection.vendor == "postgresql"
    bodies = {"same event": [body_of(event("checkout.session.completed", pack_session(CUSTOMER)))] * 2}
    session = pack_session(CUSTOMER)
    bodies["same session, two event ids"] = [body_of(event("checkout.session.completed", session)) for _ in "ab"]
    for name, pair in bodies.items():
        before = fresh(account).purchased_credits
        answers, start = [], threading.Barrier(2)
        threads = [threading.Thread(target=deliver_at_once, args=(body, start, answers)) for body in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert answers == [200, 200], name
        assert fresh(account).purchased_credits == before + 50, name
    assert len(purchases(account)) == 2
