"""The sandbox's Stripe: its API answers in Stripe's shapes, the hosted Checkout page takes a payment, and the
events it sends are signed exactly as Stripe signs them (checked here with our own HMAC, not the sandbox's code)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import stripe

from sandbox import SandboxProcess

WEBHOOK_SECRET = "whsec_sandboxtest_0123456789"
KEY = "sk_test_sandboxtest_key_0123456789"


class Receiver:
    """A webhook endpoint on loopback that records every delivery and answers `statuses` in turn (then 200)."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append({"body": body, "signature": self.headers.get("Stripe-Signature"),
                                            "content_type": self.headers.get("Content-Type")})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(d["body"]) for d in self.deliveries]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.time() + timeout
        while len(self.deliveries) < count and time.time() < deadline:
            time.sleep(0.05)
        return self.events()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def stripe_sbx(receiver):
    with SandboxProcess(extra_args=["--stripe-webhook-url", receiver.url, "--stripe-webhook-secret", WEBHOOK_SECRET,
                                    "--stripe-secret-key", KEY]) as s:
        yield s


@pytest.fixture
def api(stripe_sbx, receiver):
    receiver.deliveries.clear()
    with httpx.Client(base_url=stripe_sbx.env["STRIPE_API_BASE"], headers={"Authorization": f"Bearer {KEY}"},
                      timeout=30) as client:
        yield client


def verify(delivery: dict) -> int:
    """Stripe's scheme, by hand: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>; returns t."""
    parts = dict(item.split("=", 1) for item in delivery["signature"].split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + delivery["body"], hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    return int(parts["t"])


def customer(api) -> str:
    r = api.post("/v1/customers", data={"name": "alice", "metadata[user_id]": "7"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def session(api, mode="payment", price="price_sandbox_credits_50", **extra) -> dict:
    form = {"mode": mode, "customer": customer(api), "line_items[0][price]": price, "line_items[0][quantity]": "1",
            "success_url": "https://app.example/ok?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example/no", "metadata[pack]": "credits-50", "metadata[credits]": "50",
            **extra}
    r = api.post("/v1/checkout/sessions", data=form)
    assert r.status_code == 200, r.text
    return r.json()


def pay(url: str, deliver: str = "once") -> httpx.Response:
    return httpx.post(url, data={"deliver": deliver}, timeout=30)


def test_the_env_file_points_the_product_at_the_sandboxs_stripe(stripe_sbx):
    env = stripe_sbx.env
    assert env["STRIPE_API_BASE"] == f"{stripe_sbx.url}/stripe"
    assert (env["STRIPE_SECRET_KEY"], env["STRIPE_WEBHOOK_SECRET"]) == (KEY, WEBHOOK_SECRET)
    assert env["STRIPE_PRICE_PRO"].startswith("price_") and env["STRIPE_PRICE_CREDITS_50"].startswith("price_")


def test_every_call_needs_the_secret_key(stripe_sbx):
    base = stripe_sbx.env["STRIPE_API_BASE"]
    for headers in ({}, {"Authorization": "Bearer sk_test_wrong_key_0000"}):
        r = httpx.post(f"{base}/v1/customers", data={"name": "x"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_a_customer_is_created_from_a_form(api):
    r = api.post("/v1/customers", data={"email": "a@example.com", "metadata[user_id]": "7"})
    body = r.json()
    assert body["id"].startswith("cus_") and body["object"] == "customer" and body["livemode"] is False
    assert (body["email"], body["metadata"]) == ("a@example.com", {"user_id": "7"})
    assert isinstance(body["created"], int)


def test_a_checkout_session_has_stripes_shape_and_a_hosted_page(api, stripe_sbx):
    body = session(api, client_reference_id="7")
    assert body["id"].startswith("cs_test_") and body["object"] == "checkout.session"
    assert (body["mode"], body["status"], body["payment_status"], body["livemode"]) == \
        ("payment", "open", "unpaid", False)
    assert (body["amount_total"], body["currency"], body["client_reference_id"]) == (500, "usd", "7")
    assert body["metadata"] == {"pack": "credits-50", "credits": "50"}
    assert body["url"] == f"{stripe_sbx.url}/stripe/pay/{body['id']}"
    page = httpx.get(body["url"])
    assert page.status_code == 200 and "<button" in page.text and "$5.00" in page.text


@pytest.mark.parametrize("change, status, param", [
    ({"mode": "payment", "line_items[0][price]": "price_sandbox_pro"}, 400, "line_items[0][price]"),
    ({"mode": "subscription", "line_items[0][price]": "price_sandbox_credits_50"}, 400, "line_items"),
    ({"line_items[0][price]": "plan_x"}, 404, "line_items[0][price]"),
    ({"customer": "cus_nobody"}, 404, None),
    ({"mode": "bogus"}, 400, "mode"),
])
def test_a_session_stripe_would_refuse_is_refused(api, change, status, param):
    form = {"mode": "payment", "customer": customer(api), "line_items[0][price]": "price_sandbox_credits_50",
            "success_url": "https://app.example/ok", **change}
    r = api.post("/v1/checkout/sessions", data=form)
    assert r.status_code == status and r.json()["error"].get("param") == param


def test_paying_for_a_pack_sends_one_signed_checkout_completed(api, receiver):
    created = session(api)
    r = pay(created["url"])
    assert r.status_code == 303 and r.headers["location"] == f"https://app.example/ok?session_id={created['id']}"
    [event] = receiver.wait_for(1)
    assert abs(verify(receiver.deliveries[0]) - time.time()) < 60
    assert receiver.deliveries[0]["content_type"].startswith("application/json")
    assert event["id"].startswith("evt_") and event["object"] == "event" and event["livemode"] is False
    assert event["type"] == "checkout.session.completed" and event["api_version"]
    paid = event["data"]["object"]
    assert (paid["id"], paid["status"], paid["payment_status"]) == (created["id"], "complete", "paid")
    assert paid["metadata"] == created["metadata"] and paid["payment_intent"].startswith("pi_")
    assert api.get(f"/v1/checkout/sessions/{created['id']}").json()["payment_status"] == "paid"


def test_the_official_library_reads_what_it_answers(stripe_sbx):
    client = stripe.StripeClient(KEY, base_addresses={"api": stripe_sbx.env["STRIPE_API_BASE"]},
                                 http_client=stripe.HTTPXClient(allow_sync_methods=True))
    made = client.v1.customers.create(params={"name": "bob"})
    created = client.v1.checkout.sessions.create(params={
        "mode": "payment", "customer": made.id, "line_items": [{"price": "price_anything", "quantity": 2}],
        "success_url": "https://app.example/ok"})
    assert created.customer == made.id and created.amount_total == 2000
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(params={"mode": "payment", "customer": "cus_none",
                                                   "line_items": [{"price": "price_x"}], "success_url": "x"})
    assert refused.value.code == "resource_missing"


def test_paying_for_a_subscription_sends_the_subscription_the_paid_invoice_and_the_checkout(api, receiver):
    plan = {"metadata[plan]": "pro", "subscription_data[metadata][plan]": "pro"}
    created = session(api, mode="subscription", price="price_sandbox_pro", **plan)
    pay(created["url"])
    events = receiver.wait_for(3)
    assert [e["type"] for e in events] == ["customer.subscription.created", "invoice.paid",
                                           "checkout.session.completed"]
    for delivery in receiver.deliveries:
        verify(delivery)
    subscription, invoice, completed = (e["data"]["object"] for e in events)
    assert subscription["id"].startswith("sub_") and subscription["status"] == "active"
    assert subscription["metadata"] == {"plan": "pro"}
    assert invoice["id"].startswith("in_") and invoice["status"] == "paid"
    assert invoice["customer"] == created["customer"] == completed["customer"]
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription["id"]
    [line] = invoice["lines"]["data"]
    assert line["pricing"]["price_details"]["price"] == "price_sandbox_pro"
    assert 27 * 86400 <= line["period"]["end"] - line["period"]["start"] <= 31 * 86400
    assert (completed["subscription"], completed["invoice"]) == (subscription["id"], invoice["id"])


def test_a_session_is_paid_once(api, receiver):
    created = session(api)
    pay(created["url"])
    receiver.wait_for(1)
    assert pay(created["url"]).status_code == 409
    time.sleep(0.3)
    assert len(receiver.deliveries) == 1


def test_deliver_twice_sends_each_event_again_under_the_same_id(api, receiver):
    pay(session(api)["url"], deliver="twice")
    first, second = receiver.wait_for(2)
    assert first == second
    assert all(verify(d) for d in receiver.deliveries)


def test_deliver_twice_new_id_sends_the_same_session_under_a_second_event_id(api, receiver):
    pay(session(api)["url"], deliver="twice-new-id")
    first, second = receiver.wait_for(2)
    assert first["id"] != second["id"] and first["data"] == second["data"]


def test_a_refused_delivery_is_retried(api, receiver):
    receiver.statuses[:] = [500, 400]
    pay(session(api)["url"])
    events = receiver.wait_for(3)
    assert len(events) == 3 and len({e["id"] for e in events}) == 1


def test_the_portal_lists_the_subscription_and_cancelling_it_sends_subscription_deleted(api, receiver, stripe_sbx):
    created = session(api, mode="subscription", price="price_sandbox_pro")
    pay(created["url"])
    subscription = receiver.wait_for(3)[0]["data"]["object"]
    portal = api.post("/v1/billing_portal/sessions", data={"customer": created["customer"],
                                                           "return_url": "https://app.example/billing"}).json()
    assert portal["id"].startswith("bps_") and portal["object"] == "billing_portal.session"
    page = httpx.get(portal["url"])
    assert subscription["id"] in page.text
    r = httpx.post(f"{portal['url']}/cancel", data={"subscription": subscription["id"]})
    assert r.status_code == 303 and r.headers["location"] == "https://app.example/billing"
    deleted = receiver.wait_for(4)[3]
    assert deleted["type"] == "customer.subscription.deleted"
    assert (deleted["data"]["object"]["id"], deleted["data"]["object"]["status"]) == (subscription["id"], "canceled")


def test_a_portal_cannot_cancel_another_customers_subscription(api, receiver):
    created = session(api, mode="subscription", price="price_sandbox_pro")
    pay(created["url"])
    subscription = receiver.wait_for(3)[0]["data"]["object"]
    someone_else = api.post("/v1/billing_portal/sessions", data={"customer": customer(api)}).json()
    assert httpx.post(f"{someone_else['url']}/cancel", data={"subscription": subscription["id"]}).status_code == 404
    assert api.get(f"/v1/subscriptions/{subscription['id']}").json()["status"] == "active"


def test_the_api_can_cancel_a_subscription(api, receiver):
    pay(session(api, mode="subscription", price="price_sandbox_pro")["url"])
    subscription = receiver.wait_for(3)[0]["data"]["object"]
    r = api.delete(f"/v1/subscriptions/{subscription['id']}")
    assert r.json()["status"] == "canceled"
    assert receiver.wait_for(4)[3]["type"] == "customer.subscription.deleted"


def test_each_payment_is_in_the_ledger_once(api, stripe_sbx):
    created = session(api)
    pay(created["url"], deliver="twice")
    entries = httpx.get(f"{stripe_sbx.url}/_sandbox/ledger").json()["entries"]
    assert [e["id"] for e in entries if e["kind"] == "stripe.checkout.paid"].count(created["id"]) == 1
