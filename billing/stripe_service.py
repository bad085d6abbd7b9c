"""Stripe: the one module that talks to it. Customers, Checkout Sessions and billing-portal sessions go out through
the official library's StripeClient; webhook events come in, are verified against the raw body, recorded once
(StripeEvent) and applied through the ledger (ledger.py stays the only writer of credits).

Every event is mapped to an account by its Stripe customer id, which is stored on the account before the user is
sent to Stripe. What each event does:

    checkout.session.completed        payment mode, paid: the pack's credits are bought (once per session)
      (and ...async_payment_succeeded) subscription mode: the account is on the plan; credits come with the invoice
    invoice.paid                      a subscription's period is paid: the plan's credits for it (once per invoice)
    customer.subscription.deleted     back to the free plan
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import transaction

from . import ledger
from .models import CreditPack, Plan, StripeEvent, UserProfile

logger = logging.getLogger("billing")

WEBHOOK_TOLERANCE_SECONDS = 300
MAX_NETWORK_RETRIES = 2  # the library adds an Idempotency-Key to retried POSTs, so a retry never creates twice
MAX_PACK_CREDITS = 1_000_000
# Stripe ids are letters, digits and underscores (cus_…, cs_test_…, evt_…); anything else is not one of theirs.
STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,200}")
EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
CODE = re.compile(r"[-a-zA-Z0-9_]{1,32}")  # a plan's or pack's code, as we wrote it into the metadata
# Unix times between 2000 and 2200: outside that, a period is not one Stripe sent.
TIMESTAMP_RANGE = (946_684_800, 7_258_118_400)


class PaymentsNotConfigured(Exception):
    """STRIPE_SECRET_KEY (or, for webhooks, STRIPE_WEBHOOK_SECRET) is not set."""


class PaymentProviderError(Exception):
    """Stripe refused a request or could not be reached (details are logged, never shown)."""


class InvalidWebhook(Exception):
    """The body is not a Stripe event signed with our endpoint secret within the tolerance."""


class AlreadyOnPlan(Exception):
    """A checkout for the plan the account is on already."""


class AlreadySubscribed(Exception):
    """A checkout for another plan while a subscription runs: plans are changed in the billing portal."""


class NoCustomer(Exception):
    """The account has never paid through Stripe: it has no customer, so no billing portal."""


@dataclass(frozen=True)
class Checkout:
    url: str
    session_id: str


# --- The client -------------------------------------------------------------------------------------------------

def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    if not configured():
        raise PaymentsNotConfigured()
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE.rstrip("/"),
                       settings.STRIPE_TIMEOUT_SECONDS)


@functools.lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    # httpx (the project's HTTP client) instead of the library's default, requests.
    http_client = stripe.HTTPXClient(timeout=timeout, allow_sync_methods=True)
    return stripe.StripeClient(api_key, base_addresses={"api": api_base}, http_client=http_client,
                               max_network_retries=MAX_NETWORK_RETRIES)


def _call(operation: str, request):
    try:
        return request(client())
    except stripe.StripeError as exc:
        # The library's messages never hold the full key, and every log line is redacted anyway.
        logger.warning("Stripe %s failed: %s (HTTP %s) %s", operation, type(exc).__name__, exc.http_status,
                       exc.user_message or "")
        raise PaymentProviderError(operation) from None


# --- Prices -----------------------------------------------------------------------------------------------------

def price_id(item: Plan | CreditPack) -> str:
    """The Stripe Price that sells a plan or pack: its own (admin), else the STRIPE_PRICE_* setting for its code."""
    kind = "plan" if isinstance(item, Plan) else "pack"
    return item.stripe_price_id or settings.STRIPE_PRICES.get(f"{kind}:{item.code}", "")


def purchasable_plans() -> list[Plan]:
    return [plan for plan in Plan.objects.all() if price_id(plan)]


def purchasable_packs() -> list[CreditPack]:
    return [pack for pack in CreditPack.objects.filter(active=True) if price_id(pack)]


def plan_for_price(price: str) -> Plan | None:
    return next((plan for plan in Plan.objects.all() if price_id(plan) == price), None)


# --- Customers, Checkout, the portal ----------------------------------------------------------------------------

def ensure_customer(account: UserProfile) -> str:
    """The account's Stripe customer id, creating the customer the first time. Stored before anyone is sent to
    Stripe, so every event about this customer finds the account."""
    if account.stripe_customer_id:
        return account.stripe_customer_id
    user = account.user
    params = {"name": user.get_username(), "metadata": {"user_id": str(user.pk), "account_id": str(account.id)}}
    if user.email:
        params["email"] = user.email
    customer = _call("create customer", lambda stripe_client: stripe_client.v1.customers.create(params=params))
    # Two first checkouts at once each create a customer; the first stored wins and both use it.
    UserProfile.objects.filter(id=account.id, stripe_customer_id="").update(stripe_customer_id=customer.id)
    account.stripe_customer_id = UserProfile.objects.values_list("stripe_customer_id", flat=True).get(id=account.id)
    return account.stripe_customer_id


@dataclass(frozen=True)
class ReturnUrls:
    """Where Stripe sends the user back (default: the STRIPE_SUCCESS_URL and STRIPE_CANCEL_URL settings)."""

    success: str | None = None
    cancel: str | None = None


def subscribe(account: UserProfile, plan: Plan, *, return_to: ReturnUrls = ReturnUrls(),
              idempotency_key: str | None = None) -> Checkout:
    """A checkout for `plan`, if the account may start one: AlreadyOnPlan, AlreadySubscribed otherwise."""
    if account.plan_id == plan.id:
        raise AlreadyOnPlan(plan.name)
    if account.stripe_subscription_id:
        raise AlreadySubscribed()
    return checkout_plan(account, plan, return_to=return_to, idempotency_key=idempotency_key)


def checkout_plan(account: UserProfile, plan: Plan, *, return_to: ReturnUrls = ReturnUrls(),
                  idempotency_key: str | None = None) -> Checkout:
    """A Checkout Session subscribing the account to `plan` (its credits come with each paid invoice)."""
    metadata = {"user_id": str(account.user_id), "plan": plan.code}
    return _checkout(account, mode="subscription", price=price_id(plan), metadata=metadata,
                     extra={"subscription_data": {"metadata": metadata}}, return_to=return_to,
                     idempotency_key=idempotency_key)


def checkout_pack(account: UserProfile, pack: CreditPack, *, return_to: ReturnUrls = ReturnUrls(),
                  idempotency_key: str | None = None) -> Checkout:
    """A Checkout Session buying `pack` once; the credits it names are what the webhook grants."""
    metadata = {"user_id": str(account.user_id), "pack": pack.code, "credits": str(pack.credits)}
    return _checkout(account, mode="payment", price=price_id(pack), metadata=metadata,
                     extra={"payment_intent_data": {"metadata": metadata}}, return_to=return_to,
                     idempotency_key=idempotency_key)


def _checkout(account: UserProfile, *, mode: str, price: str, metadata: dict, extra: dict, return_to: ReturnUrls,
              idempotency_key: str | None) -> Checkout:
    params = {
        "mode": mode,
        "customer": ensure_customer(account),
        "client_reference_id": str(account.user_id),
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": return_to.success or settings.STRIPE_SUCCESS_URL,
        "cancel_url": return_to.cancel or settings.STRIPE_CANCEL_URL,
        "metadata": metadata,
        **extra,
    }
    # The same key within Stripe's 24 hours answers the same session: a repeated request creates no second one.
    options = {"idempotency_key": idempotency_key} if idempotency_key else None
    session = _call("create checkout session",
                    lambda stripe_client: stripe_client.v1.checkout.sessions.create(params=params, options=options))
    return Checkout(url=session.url, session_id=session.id)


def portal_url(account: UserProfile, *, return_url: str | None = None) -> str:
    """A billing-portal session for the account's customer; NoCustomer if it has none yet."""
    if not account.stripe_customer_id:
        raise NoCustomer()
    params = {"customer": account.stripe_customer_id,
              "return_url": return_url or settings.STRIPE_PORTAL_RETURN_URL}
    session = _call("create billing portal session",
                    lambda stripe_client: stripe_client.v1.billing_portal.sessions.create(params=params))
    return session.url


# --- Webhooks: verification -------------------------------------------------------------------------------------

def verified_event(payload: bytes, signature: str | None) -> dict:
    """The event in `payload` if `signature` (the Stripe-Signature header) signs exactly these bytes with our
    endpoint secret, made no more than the tolerance ago or ahead; InvalidWebhook otherwise."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured()
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError):  # ValueError: a body that is not UTF-8
        raise InvalidWebhook("The Stripe-Signature header does not sign this body.") from None
    # The library refuses only timestamps that are too old; a clock far ahead is refused as well.
    if _signed_at(signature) > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidWebhook("The Stripe-Signature timestamp is too far in the future.")
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidWebhook("The body is not JSON.") from None
    if not _is_event(event):
        raise InvalidWebhook("The body is not a Stripe event.")
    return event


def _signed_at(signature: str) -> int:
    """The header's timestamp, read as the library reads it (the first `t=`) once it has verified it."""
    try:
        return int(next(part.split("=", 2)[1] for part in signature.split(",") if part.split("=", 2)[0] == "t"))
    except (StopIteration, IndexError, ValueError):
        raise InvalidWebhook("The Stripe-Signature header has no timestamp.") from None


def _is_event(event) -> bool:
    return (isinstance(event, dict) and _is_id(event.get("id")) and isinstance(event.get("type"), str)
            and EVENT_TYPE.fullmatch(event["type"]) is not None and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict))


def _is_id(value) -> bool:
    return isinstance(value, str) and STRIPE_ID.fullmatch(value) is not None


# --- Webhooks: applying an event once ---------------------------------------------------------------------------

def handle_event(event: dict) -> str:
    """Record the event and apply it in one transaction; an event id seen before changes nothing. Returns what was
    done, for the log and the answer."""
    with transaction.atomic():
        _, created = StripeEvent.objects.get_or_create(event_id=event["id"], defaults={"type": event["type"]})
        if not created:
            return "duplicate"
        handler = EVENT_HANDLERS.get(event["type"])
        outcome = handler(event["data"]["object"]) if handler else "ignored"
    logger.info("Stripe event %s (%s): %s", event["id"], event["type"], outcome)
    return outcome


def _account_of(stripe_object: dict) -> UserProfile | None:
    customer = _object_id(stripe_object.get("customer"))
    if customer is None:
        return None
    return UserProfile.objects.filter(stripe_customer_id=customer).first()


def _object_id(value) -> str | None:
    """An id field, which Stripe sends as the id or, when expanded, as the object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if _is_id(value) else None


def _unknown_customer(stripe_object: dict) -> str:
    logger.warning("Stripe object %s is for a customer we do not know (%s): recorded, nothing done",
                   _object_id(stripe_object.get("id")), _object_id(stripe_object.get("customer")))
    return "unknown customer"


def _metadata_code(stripe_object: dict, name: str) -> str | None:
    metadata = stripe_object.get("metadata") if isinstance(stripe_object.get("metadata"), dict) else {}
    value = metadata.get(name)
    return value if isinstance(value, str) and CODE.fullmatch(value) else None


def on_checkout_completed(session: dict) -> str:
    account = _account_of(session)
    if account is None:
        return _unknown_customer(session)
    if session.get("mode") == "payment":
        return _buy_pack(account, session)
    if session.get("mode") == "subscription":
        return _start_subscription(account, session)
    return "ignored"


def on_async_payment_succeeded(session: dict) -> str:
    """A delayed payment method (a bank debit) settled after the checkout completed unpaid."""
    account = _account_of(session)
    if account is None:
        return _unknown_customer(session)
    return _buy_pack(account, session) if session.get("mode") == "payment" else "ignored"


def _buy_pack(account: UserProfile, session: dict) -> str:
    if session.get("payment_status") != "paid":
        return "not paid"
    session_id = _object_id(session.get("id"))
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    credits = _pack_credits(metadata.get("credits"))
    if session_id is None or credits is None:
        logger.warning("Stripe checkout session %s names no credit pack: nothing bought", session_id)
        return "ignored"
    pack = CreditPack.objects.filter(code=_metadata_code(session, "pack") or "").first()
    ledger.purchase(account.id, credits, key=f"purchase:{session_id}", payment_ref=session_id,
                    memo=f"{pack.name if pack else 'Credit pack'} bought")
    return "credits bought"


def _pack_credits(value) -> int | None:
    """The credits a session's metadata names (we wrote them as a decimal string)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    credits = int(value)
    return credits if 0 < credits <= MAX_PACK_CREDITS else None


def _start_subscription(account: UserProfile, session: dict) -> str:
    subscription_id = _object_id(session.get("subscription"))
    plan = Plan.objects.filter(code=_metadata_code(session, "plan") or "").first()
    if subscription_id is None or plan is None:
        logger.warning("Stripe checkout session %s names no subscription or plan", _object_id(session.get("id")))
        return "ignored"
    recorded = ledger.record_subscription(account.id, plan=plan, subscription_id=subscription_id)
    return "subscribed" if recorded else "subscription not recorded (another is current, or it has ended)"


def on_invoice_paid(invoice: dict) -> str:
    account = _account_of(invoice)
    if account is None:
        return _unknown_customer(invoice)
    subscription_id, invoice_id = _invoice_subscription(invoice), _object_id(invoice.get("id"))
    if subscription_id is None or invoice_id is None:
        return "ignored"  # not a subscription's invoice
    paid_line = _plan_line(invoice)
    if paid_line is None:
        logger.warning("Stripe invoice %s has no line with a plan's price: nothing granted", invoice_id)
        return "unknown price"
    plan, period_start, period_end = paid_line
    ledger.start_paid_period(account.id, plan=plan, period_start=period_start, period_end=period_end,
                             subscription_id=subscription_id, invoice_id=invoice_id)
    return "period paid"


def _invoice_subscription(invoice: dict) -> str | None:
    """The subscription an invoice bills: `parent.subscription_details.subscription` (API 2025-03-31 on), or the
    top-level `subscription` of older API versions."""
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    details = parent.get("subscription_details") if isinstance(parent.get("subscription_details"), dict) else {}
    return _object_id(details.get("subscription")) or _object_id(invoice.get("subscription"))


def _plan_line(invoice: dict) -> tuple[Plan, datetime, datetime] | None:
    """(plan, period start, period end) of the invoice's line for a plan's price; a proration line only if there
    is no other."""
    lines = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
    found = []
    for line in lines.get("data") if isinstance(lines.get("data"), list) else []:
        if not isinstance(line, dict):
            continue
        price, period = _line_price(line), _line_period(line)
        plan = plan_for_price(price) if price else None
        if plan is not None and period is not None:
            found.append((_is_proration(line), (plan, *period)))
    found.sort(key=lambda item: item[0])  # non-prorations first
    return found[0][1] if found else None


def _line_price(line: dict) -> str | None:
    """`pricing.price_details.price` (API 2025-03-31 on), or `price` of older versions."""
    pricing = line.get("pricing") if isinstance(line.get("pricing"), dict) else {}
    details = pricing.get("price_details") if isinstance(pricing.get("price_details"), dict) else {}
    return _object_id(details.get("price")) or _object_id(line.get("price"))


def _line_period(line: dict) -> tuple[datetime, datetime] | None:
    period = line.get("period") if isinstance(line.get("period"), dict) else {}
    start, end = period.get("start"), period.get("end")
    low, high = TIMESTAMP_RANGE
    if not all(isinstance(moment, int) and not isinstance(moment, bool) and low <= moment <= high
               for moment in (start, end)) or start >= end:
        return None
    return datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(end, tz=UTC)


def _is_proration(line: dict) -> bool:
    parent = line.get("parent") if isinstance(line.get("parent"), dict) else {}
    details = parent.get("subscription_item_details")
    return bool(isinstance(details, dict) and details.get("proration")) or line.get("proration") is True


def on_subscription_deleted(subscription: dict) -> str:
    account = _account_of(subscription)
    if account is None:
        return _unknown_customer(subscription)
    subscription_id = _object_id(subscription.get("id"))
    if subscription_id is None:
        return "ignored"
    ended = ledger.end_subscription(account.id, subscription_id=subscription_id)
    return "subscription ended" if ended else "another subscription is current"


EVENT_HANDLERS = {
    "checkout.session.completed": on_checkout_completed,
    "checkout.session.async_payment_succeeded": on_async_payment_succeeded,
    "invoice.paid": on_invoice_paid,
    "customer.subscription.deleted": on_subscription_deleted,
}
SUBSCRIBED_EVENTS = tuple(EVENT_HANDLERS)
