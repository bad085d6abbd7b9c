"""Billing fixtures: briefs and clients for the ledger tests; and Stripe: payments configured against a respx-mocked
api.stripe.com, with events signed with our endpoint secret exactly as Stripe signs them (written here,
independently of the code under test)."""


from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

import pytest
import respx
from rest_framework.test import APIClient

from devstack.briefs import headphones_brief
from video_generation.serializers import VideoGenerationRequestSerializer

API = "https://api.stripe.com"
SECRET_KEY = "sk_test_51TestKeyDoNotLeak0123456789abcdef"
WEBHOOK_SECRET = "whsec_test_0123456789abcdefTESTSECRET"
PRO_PRICE = "price_1ProMonthly"
PACK_PRICE = "price_1Credits50"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = API
    settings.STRIPE_SUCCESS_URL = "https://app.example.com/ok?session_id={CHECKOUT_SESSION_ID}"
    settings.STRIPE_CANCEL_URL = "https://app.example.com/cancelled"
    settings.STRIPE_PORTAL_RETURN_URL = "https://app.example.com/billing"
    settings.STRIPE_PRICES = {"plan:pro": PRO_PRICE, "plan:enterprise": "", "pack:credits-50": PACK_PRICE,
                              "pack:credits-200": ""}
    return settings


@pytest.fixture
def stripe_api():
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, at: float | None = None) -> str:
    timestamp = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):08d}"


def event(kind: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {"id": event_id or new_id("evt"), "object": "event", "api_version": "2026-08-26.dahlia",
            "created": int(time.time()), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind}


def pack_session(customer: str, *, session_id: str | None = None, credits: str = "50", paid: bool = True,
                 pack: str = "credits-50") -> dict:
    return {"id": session_id or new_id("cs"), "object": "checkout.session", "customer": customer,
            "mode": "payment", "payment_status": "paid" if paid else "unpaid",
            "status": "complete" if paid else "open", "client_reference_id": "1",
            "metadata": {"user_id": "1", "pack": pack, "credits": credits}, "subscription": None, "livemode": False}


def subscription_session(customer: str, *, subscription: str, plan: str = "pro") -> dict:
    return {"id": new_id("cs"), "object": "checkout.session", "customer": customer, "mode": "subscription",
            "payment_status": "paid", "status": "complete", "metadata": {"user_id": "1", "plan": plan},
            "subscription": subscription, "livemode": False}


def paid_invoice(customer: str, *, subscription: str, price: str = PRO_PRICE, start: int = 1_900_000_000,
                 end: int = 1_902_678_400, invoice_id: str | None = None) -> dict:
    line = {"id": new_id("il"), "object": "line_item", "amount": 1500, "currency": "usd",
            "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                       "subscription_item_details": {"proration": False, "subscription": subscription,
                                                     "subscription_item": new_id("si")}},
            "period": {"start": start, "end": end},
            "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_1"}}}
    return {"id": invoice_id or new_id("in"), "object": "invoice", "customer": customer, "status": "paid",
            "billing_reason": "subscription_create",
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}},
            "lines": {"object": "list", "data": [line], "has_more": False}, "livemode": False}


def body_of(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def logged(caplog) -> str:
    """The log lines as the handlers write them (through the project's redacting formatter)."""
    from video_generation.services.redact import RedactingFormatter

    return "\n".join(RedactingFormatter().format(record) for record in caplog.records)


def validated(brief: dict) -> dict:
    serializer = VideoGenerationRequestSerializer(data=brief)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@pytest.fixture
def brief() -> dict:
    """The headphones brief: one 22 s chain, a narration of about 19 s: 3 credits."""
    return headphones_brief("https://cdn.example.com/headphones.jpg")


@pytest.fixture
def job_data(brief) -> dict:
    return validated(brief)


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client
    return make


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Accepting a job publishes its first message after commit; these tests look at money, not messages."""
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


@pytest.fixture(autouse=True)
def _forget_plan_rates():
    from billing import services

    services._plan_rates.clear()
