"""Stripe on loopback: the part of its API the product uses, a hosted Checkout page with a Pay button, a billing
portal page that cancels subscriptions, and webhook events signed the way Stripe signs them.

Served under /stripe (the product's STRIPE_API_BASE is ``<sandbox>/stripe``):

    POST /stripe/v1/customers                  form-encoded, like every Stripe POST
    POST /stripe/v1/checkout/sessions          mode payment|subscription, line_items[0][price], metadata[...]
    POST /stripe/v1/billing_portal/sessions    customer, return_url
    GET  /stripe/v1/{customers,checkout/sessions,subscriptions,invoices}/<id>
    DELETE /stripe/v1/subscriptions/<id>       cancels at once (customer.subscription.deleted)
    GET  /stripe/pay/<session>                 the hosted Checkout page; POST pays (deliver=once|twice|twice-new-id)
    GET  /stripe/portal/<portal session>       lists the customer's subscriptions; POST .../cancel cancels one
    GET  /_sandbox/stripe/events               every event sent and each delivery's answer

Paying sends, in Stripe's order: for a subscription customer.subscription.created and invoice.paid (with its line's
price and period), then checkout.session.completed. Each event is POSTed to --stripe-webhook-url with
``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; a failed delivery is retried a few
times. --stripe-duplicate-events (or the Pay form's deliver=twice) delivers every event twice, as Stripe may.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import html
import json
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from base64 import b64decode
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from .httpkit import Request, Response, json_response

PREFIX = "/stripe"
API_VERSION = "2026-08-26.dahlia"  # what events say when the request that caused them named no Stripe-Version
DELIVERY_ATTEMPTS = 4
DELIVERY_TIMEOUT = 10.0
ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Price:
    amount: int  # cents
    recurring: bool
    name: str


# The seeded plans' and packs' prices; any other price_... id is accepted at a default amount.
CATALOGUE = {
    "price_sandbox_pro": Price(1500, True, "Pro"),
    "price_sandbox_enterprise": Price(49900, True, "Enterprise"),
    "price_sandbox_credits_50": Price(500, False, "50 credits"),
    "price_sandbox_credits_200": Price(2000, False, "200 credits"),
}
PRICE_SETTINGS = {"STRIPE_PRICE_PRO": "price_sandbox_pro", "STRIPE_PRICE_CREDITS_50": "price_sandbox_credits_50",
                  "STRIPE_PRICE_CREDITS_200": "price_sandbox_credits_200"}
DEFAULT_AMOUNT = 1000


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def response(self) -> Response:
        error = {"type": self.kind, "message": self.message}
        if self.param:
            error["param"] = self.param
        if self.code:
            error["code"] = self.code
        return json_response(self.status, {"error": error}, {"Request-Id": new_id("req")})


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def missing(kind: str, object_id: str, param: str | None = None) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def decode_form(body: bytes) -> dict:
    """Stripe's form encoding: ``a[b][0][c]=v`` is {"a": {"b": [{"c": "v"}]}}."""
    root: dict = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        name, _, rest = key.partition("[")
        path = [name] + (rest.rstrip("]").split("][") if rest else [])
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(400, f"Invalid parameter: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(value):
    if not isinstance(value, dict):
        return value
    if value and all(key.isdigit() for key in value):
        return [_lists(value[key]) for key in sorted(value, key=int)]
    return {key: _lists(item) for key, item in value.items()}


def sign(body: str, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def add_month(moment: int) -> int:
    day = datetime.fromtimestamp(moment, tz=UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return int(day.replace(year=year, month=month,
                           day=min(day.day, calendar.monthrange(year, month)[1])).timestamp())


class Webhooks:
    """Sends events to the configured endpoint, signed, in order; failed deliveries are retried in the background."""

    def __init__(self, ctx, url: str | None, secret: str, duplicate: bool):
        self.ctx, self.url, self.secret, self.duplicate = ctx, url, secret, duplicate
        self.sent: list[dict] = []  # {"event": ..., "deliveries": [{"status": ..., "at": ...}]}
        self.lock = threading.Lock()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(self, events: list[dict], *, deliver: str = "once") -> None:
        for event in events:
            copies = [event]
            if deliver == "twice" or self.duplicate:
                copies.append(event)
            if deliver == "twice-new-id":
                copies.append({**event, "id": new_id("evt")})
            for copy in copies:
                record = {"event": copy, "deliveries": []}
                with self.lock:
                    self.sent.append(record)
                if not self._deliver(record):
                    threading.Thread(target=self._retry, args=(record,), daemon=True).start()

    def _deliver(self, record: dict) -> bool:
        if not self.url:
            record["deliveries"].append({"status": None, "error": "no webhook endpoint configured", "at": time.time()})
            return True
        body = json.dumps(record["event"], indent=2)
        request = urllib.request.Request(self.url, data=body.encode(), method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(body, self.secret, int(time.time())),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
        try:
            with self.opener.open(request, timeout=DELIVERY_TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        except OSError as exc:
            record["deliveries"].append({"status": None, "error": type(exc).__name__, "at": time.time()})
            self.ctx.log(f"stripe: delivering {record['event']['id']} failed: {exc!r}")
            return False
        record["deliveries"].append({"status": status, "at": time.time()})
        self.ctx.log(f"stripe: delivered {record['event']['type']} {record['event']['id']}: {status}")
        return 200 <= status < 300

    def _retry(self, record: dict) -> None:
        for attempt in range(1, DELIVERY_ATTEMPTS):
            if self.ctx.stopping.wait(0.5 * 2 ** attempt) or self._deliver(record):
                return

    def report(self) -> list[dict]:
        with self.lock:
            return [{"id": r["event"]["id"], "type": r["event"]["type"], "object_id": r["event"]["data"]["object"]
                     .get("id"), "deliveries": list(r["deliveries"])} for r in self.sent]


class StripeService:
    def __init__(self, ctx, *, secret_key: str, webhook_url: str | None, webhook_secret: str,
                 duplicate_events: bool = False):
        self.ctx = ctx
        self.secret_key = secret_key
        self.webhooks = Webhooks(ctx, webhook_url, webhook_secret, duplicate_events)
        self.objects: dict[str, dict[str, dict]] = {"customers": {}, "checkout/sessions": {}, "subscriptions": {},
                                                    "invoices": {}, "billing_portal/sessions": {}}
        self.versions: dict[str, str] = {}  # checkout session id -> the Stripe-Version it was created with
        self.lock = threading.Lock()

    # -- routing -----------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        path = req.path[len(PREFIX):]
        try:
            if path.startswith("/v1/"):
                self.authenticate(req)
                return self.api(req, path[len("/v1/"):].rstrip("/"))
            if path.startswith("/pay/"):
                return self.checkout_page(req, path[len("/pay/"):])
            if path.startswith("/portal/"):
                return self.portal_page(req, path[len("/portal/"):])
        except StripeError as exc:
            return exc.response()
        return StripeError(404, f"Unrecognized request URL ({req.method}: {req.path}).").response()

    def authenticate(self, req: Request) -> None:
        scheme, _, credential = (req.header("authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                credential = b64decode(credential).decode().partition(":")[0]
            except ValueError:
                credential = ""
        if not credential or not hmac.compare_digest(credential.encode(), self.secret_key.encode()):
            shown = f"{credential[:8]}{'*' * 12}{credential[-4:]}" if len(credential) > 12 else ""
            raise StripeError(401, f"Invalid API Key provided: {shown}" if shown else
                              "You did not provide an API key.")

    def api(self, req: Request, path: str) -> Response:
        routes = {("POST", "customers"): self.create_customer,
                  ("POST", "checkout/sessions"): self.create_checkout_session,
                  ("POST", "billing_portal/sessions"): self.create_portal_session}
        if (req.method, path) in routes:
            return json_response(200, routes[(req.method, path)](req, decode_form(req.body)))
        collection, _, object_id = path.rpartition("/")
        if collection in self.objects and req.method == "GET":
            return json_response(200, self.get(collection, object_id))
        if collection == "subscriptions" and req.method == "DELETE":
            return json_response(200, self.cancel_subscription(object_id, request_id=new_id("req")))
        raise StripeError(404, f"Unrecognized request URL ({req.method}: /v1/{path}).")

    def get(self, collection: str, object_id: str) -> dict:
        with self.lock:
            found = self.objects[collection].get(object_id)
        if found is None:
            raise missing(collection.rpartition("/")[2].rstrip("s").replace("_", " "), object_id)
        return found

    # -- the API -----------------------------------------------------------------------------------------------
    def create_customer(self, req: Request, form: dict) -> dict:
        customer = {"id": new_id("cus", 14), "object": "customer", "address": None, "balance": 0,
                    "created": int(time.time()), "currency": None, "default_source": None, "delinquent": False,
                    "description": form.get("description"), "email": form.get("email"),
                    "invoice_prefix": new_id("", 8)[1:].upper(), "livemode": False,
                    "metadata": self._metadata(form), "name": form.get("name"), "phone": form.get("phone"),
                    "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None}
        with self.lock:
            self.objects["customers"][customer["id"]] = customer
        return customer

    def create_checkout_session(self, req: Request, form: dict) -> dict:
        mode = form.get("mode")
        if mode not in ("payment", "subscription", "setup"):
            raise StripeError(400, "Missing required param: mode." if mode is None else
                              "Invalid mode: must be one of payment, setup, or subscription", param="mode")
        if mode == "setup":
            raise StripeError(400, "The sandbox does not support setup mode.", param="mode")
        customer = form.get("customer")
        if customer is not None:
            self.get("customers", customer)
        success_url = form.get("success_url")
        if not success_url:
            raise StripeError(400, "Missing required param: success_url.", param="success_url")
        items = self._line_items(form.get("line_items"), mode)
        now = int(time.time())
        session = {
            "id": new_id("cs_test", 58), "object": "checkout.session", "after_expiration": None,
            "allow_promotion_codes": None, "amount_subtotal": sum(i["amount"] for i in items),
            "amount_total": sum(i["amount"] for i in items), "billing_address_collection": None,
            "cancel_url": form.get("cancel_url"), "client_reference_id": form.get("client_reference_id"),
            "created": now, "currency": "usd", "customer": customer,
            "customer_creation": None if customer else "if_required", "customer_details": None,
            "customer_email": form.get("customer_email"), "expires_at": now + 24 * 3600, "invoice": None,
            "livemode": False, "locale": None, "metadata": self._metadata(form), "mode": mode,
            "payment_intent": None, "payment_link": None, "payment_method_types": ["card"],
            "payment_status": "unpaid", "status": "open", "submit_type": None, "subscription": None,
            "success_url": success_url, "ui_mode": "hosted",
            "url": f"{self.ctx.base_url}{PREFIX}/pay/{{id}}",
        }
        session["url"] = session["url"].format(id=session["id"])
        with self.lock:
            self.objects["checkout/sessions"][session["id"]] = session
            self.versions[session["id"]] = req.header("stripe-version") or API_VERSION
            session["_items"] = items  # kept out of the answers (see _public)
            session["_subscription_metadata"] = self._metadata(form.get("subscription_data") or {})
        return _public(session)

    def _line_items(self, value, mode: str) -> list[dict]:
        if not isinstance(value, list) or not value:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        items = []
        for index, item in enumerate(value):
            price_id = item.get("price") if isinstance(item, dict) else None
            if not isinstance(price_id, str) or not price_id.startswith("price_"):
                raise missing("price", str(price_id), param=f"line_items[{index}][price]")
            price = CATALOGUE.get(price_id) or Price(DEFAULT_AMOUNT, mode == "subscription", price_id)
            if mode == "payment" and price.recurring:
                raise StripeError(400, "You specified `payment` mode but passed a recurring price. Either switch to "
                                       "`subscription` mode or use only one-time prices.",
                                  param=f"line_items[{index}][price]")
            if mode == "subscription" and not price.recurring:
                raise StripeError(400, "You must provide at least one recurring price in `subscription` mode when "
                                       "using prices.", param="line_items")
            quantity = item.get("quantity", "1")
            if not str(quantity).isdigit() or int(quantity) < 1:
                raise StripeError(400, "Invalid integer: quantity", param=f"line_items[{index}][quantity]")
            items.append({"price": price_id, "quantity": int(quantity), "amount": price.amount * int(quantity),
                          "name": price.name})
        return items

    def create_portal_session(self, req: Request, form: dict) -> dict:
        customer = form.get("customer")
        if not customer:
            raise StripeError(400, "Missing required param: customer.", param="customer")
        self.get("customers", customer)
        session = {"id": new_id("bps"), "object": "billing_portal.session", "configuration": "bpc_sandbox",
                   "created": int(time.time()), "customer": customer, "flow": None, "livemode": False,
                   "locale": None, "on_behalf_of": None, "return_url": form.get("return_url")}
        session["url"] = f"{self.ctx.base_url}{PREFIX}/portal/{session['id']}"
        with self.lock:
            self.objects["billing_portal/sessions"][session["id"]] = session
        return session

    @staticmethod
    def _metadata(form: dict) -> dict:
        metadata = form.get("metadata")
        return dict(metadata) if isinstance(metadata, dict) else {}

    # -- the hosted Checkout page ------------------------------------------------------------------------------
    def checkout_page(self, req: Request, session_id: str) -> Response:
        with self.lock:
            session = self.objects["checkout/sessions"].get(session_id)
        if session is None:
            return _page(404, "Checkout", "<p>This checkout session does not exist.</p>")
        if req.method == "POST":
            return self.pay(session, dict(parse_qsl(req.body.decode("utf-8", "replace"))))
        if session["status"] != "open":
            return _page(200, "Checkout", "<p>This checkout session is already paid.</p>")
        lines = "".join(f"<li>{html.escape(item['name'])} × {item['quantity']}: ${item['amount'] / 100:.2f}</li>"
                        for item in session["_items"])
        per = " per month" if session["mode"] == "subscription" else ""
        body = (f"<ul>{lines}</ul><p>Total: ${session['amount_total'] / 100:.2f}{per}</p>"
                f'<form method="post" action="{PREFIX}/pay/{html.escape(session_id)}">'
                f'<input type="hidden" name="deliver" value="once"><button type="submit">Pay</button></form>'
                f'<p><a href="{html.escape(session["cancel_url"] or "")}">Cancel</a></p>')
        return _page(200, "Sandbox Checkout", body)

    def pay(self, session: dict, form: dict) -> Response:
        with self.lock:
            if session["status"] != "open":
                return _page(409, "Checkout", "<p>This checkout session is already paid.</p>")
            session.update(status="complete", payment_status="paid")
        events = (self._pay_subscription(session) if session["mode"] == "subscription"
                  else [self._event("checkout.session.completed", self._pay_once(session), session["id"])])
        self.ctx.ledger.record("stripe.checkout.paid", session["id"], session["id"], mode=session["mode"],
                               amount=session["amount_total"])
        self.webhooks.send(events, deliver=form.get("deliver", "once"))
        target = (session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", session["id"])
        return Response(303, b"", {"Location": target})

    def _pay_once(self, session: dict) -> dict:
        session["payment_intent"] = new_id("pi")
        return _public(session)

    def _pay_subscription(self, session: dict) -> list[dict]:
        now = int(time.time())
        end = add_month(now)
        subscription_id, invoice_id = new_id("sub"), new_id("in")
        item = session["_items"][0]
        price = {"id": item["price"], "object": "price", "active": True, "currency": "usd", "livemode": False,
                 "nickname": item["name"], "product": "prod_" + item["price"].removeprefix("price_"),
                 "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
                 "type": "recurring", "unit_amount": item["amount"] // item["quantity"]}
        subscription = {
            "id": subscription_id, "object": "subscription", "billing_cycle_anchor": now, "cancel_at": None,
            "cancel_at_period_end": False, "canceled_at": None, "collection_method": "charge_automatically",
            "created": now, "currency": "usd", "customer": session["customer"], "ended_at": None,
            "items": {"object": "list", "data": [{
                "id": new_id("si"), "object": "subscription_item", "created": now, "current_period_start": now,
                "current_period_end": end, "price": price, "quantity": item["quantity"],
                "subscription": subscription_id}], "has_more": False, "total_count": 1,
                "url": f"/v1/subscription_items?subscription={subscription_id}"},
            "latest_invoice": invoice_id, "livemode": False, "metadata": session["_subscription_metadata"],
            "start_date": now, "status": "active", "trial_end": None, "trial_start": None,
        }
        invoice = self._invoice(invoice_id, subscription, price, item, now, end)
        session.update(subscription=subscription_id, invoice=invoice_id)
        with self.lock:
            self.objects["subscriptions"][subscription_id] = subscription
            self.objects["invoices"][invoice_id] = invoice
        return [self._event("customer.subscription.created", subscription, session["id"]),
                self._event("invoice.paid", invoice, session["id"]),
                self._event("checkout.session.completed", _public(session), session["id"])]

    @staticmethod
    def _invoice(invoice_id: str, subscription: dict, price: dict, item: dict, start: int, end: int) -> dict:
        line = {
            "id": new_id("il"), "object": "line_item", "amount": item["amount"], "currency": "usd",
            "description": f"{item['quantity']} × {item['name']} (at ${price['unit_amount'] / 100:.2f} / month)",
            "discountable": True, "discounts": [], "invoice": invoice_id, "livemode": False,
            "metadata": subscription["metadata"],
            "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                       "subscription_item_details": {
                           "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
                           "subscription": subscription["id"],
                           "subscription_item": subscription["items"]["data"][0]["id"]}},
            "period": {"start": start, "end": end},
            "pricing": {"type": "price_details", "price_details": {"price": price["id"], "product": price["product"]},
                        "unit_amount_decimal": str(price["unit_amount"])},
            "quantity": item["quantity"], "subtotal": item["amount"], "taxes": [],
        }
        return {
            "id": invoice_id, "object": "invoice", "amount_due": item["amount"], "amount_paid": item["amount"],
            "amount_remaining": 0, "attempt_count": 1, "attempted": True, "billing_reason": "subscription_create",
            "collection_method": "charge_automatically", "created": start, "currency": "usd",
            "customer": subscription["customer"],
            "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                      "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False, "metadata": {}, "number": new_id("", 8)[1:].upper() + "-0001",
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"metadata": subscription["metadata"],
                                                "subscription": subscription["id"]}},
            "period_end": start, "period_start": start, "status": "paid",
            "status_transitions": {"finalized_at": start, "paid_at": start, "marked_uncollectible_at": None,
                                   "voided_at": None},
            "subtotal": item["amount"], "total": item["amount"],
        }

    def _event(self, kind: str, obj: dict, session_id: str | None = None, request_id: str | None = None) -> dict:
        version = self.versions.get(session_id, API_VERSION) if session_id else API_VERSION
        return {"id": new_id("evt"), "object": "event", "api_version": version, "created": int(time.time()),
                "data": {"object": json.loads(json.dumps(obj))}, "livemode": False, "pending_webhooks": 1,
                "request": {"id": request_id, "idempotency_key": None}, "type": kind}

    # -- the billing portal ------------------------------------------------------------------------------------
    def portal_page(self, req: Request, rest: str) -> Response:
        portal_id, _, action = rest.partition("/")
        with self.lock:
            portal = self.objects["billing_portal/sessions"].get(portal_id)
        if portal is None:
            return _page(404, "Billing portal", "<p>This portal session does not exist.</p>")
        if req.method == "POST" and action == "cancel":
            chosen = dict(parse_qsl(req.body.decode("utf-8", "replace"))).get("subscription", "")
            subscription = self.objects["subscriptions"].get(chosen)
            if subscription is None or subscription["customer"] != portal["customer"]:
                return _page(404, "Billing portal", "<p>No such subscription.</p>")
            self.cancel_subscription(chosen)
            return Response(303, b"", {"Location": portal["return_url"] or f"{PREFIX}/portal/{portal_id}"})
        with self.lock:
            active = [s for s in self.objects["subscriptions"].values()
                      if s["customer"] == portal["customer"] and s["status"] == "active"]
        rows = "".join(
            f"<li>{html.escape(s['items']['data'][0]['price']['nickname'])} ({html.escape(s['id'])})"
            f'<form method="post" action="{PREFIX}/portal/{html.escape(portal_id)}/cancel">'
            f'<input type="hidden" name="subscription" value="{html.escape(s["id"])}">'
            f'<button type="submit">Cancel subscription</button></form></li>' for s in active)
        return _page(200, "Sandbox billing portal", f"<ul>{rows}</ul>" if rows else "<p>No subscriptions.</p>")

    def cancel_subscription(self, subscription_id: str, *, request_id: str | None = None) -> dict:
        subscription = self.get("subscriptions", subscription_id)
        with self.lock:
            if subscription["status"] == "canceled":
                return subscription
            now = int(time.time())
            subscription.update(status="canceled", canceled_at=now, ended_at=now,
                                cancellation_details={"comment": None, "feedback": None,
                                                      "reason": "cancellation_requested"})
        self.webhooks.send([self._event("customer.subscription.deleted", subscription, request_id=request_id)])
        return subscription


def _public(session: dict) -> dict:
    return {key: value for key, value in session.items() if not key.startswith("_")}


def _page(status: int, title: str, body: str) -> Response:
    document = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
                f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, document.encode(), {"Content-Type": "text/html; charset=utf-8"})
