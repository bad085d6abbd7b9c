"""Buying credits in a real browser: the Account page's pack button, the sandbox's hosted Stripe Checkout page, back
to our "payment done" page. Stripe may deliver a webhook twice (the sandbox does when asked): the balance rises by the
pack's credits once, and the ledger holds one purchase."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, expect

from billing.plans import SEED_PACKS

from .helpers import Account, assert_accessible, screenshots, sign_in

PACK = "credits-50"
PACK_CREDITS = SEED_PACKS[PACK]["credits"]
CONFIRMATION_TIMEOUT_MS = 60_000  # the webhook, then the page's htmx polling (every 3 s), on 2 shared cores


def credits_available(page: Page) -> int:
    return int(page.locator("#credits-available").inner_text().strip())


def pay_on_the_sandbox_checkout_page(page: Page, *, deliver: str) -> None:
    """Press Pay on the sandbox's Checkout page. Its form says how Stripe delivers the events that follow in a hidden
    `deliver` field ("once" by default; "twice": the same event sent twice, as Stripe may)."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox Checkout")
    page.locator('form input[name="deliver"]').evaluate("(input, value) => { input.value = value; }", deliver)
    page.get_by_role("button", name="Pay").click()


def stripe_deliveries(sandbox_url: str, session_id: str) -> list[dict]:
    """What the sandbox's Stripe sent about this Checkout Session, with each delivery's answer."""
    with httpx.Client(timeout=30, trust_env=False) as http:
        events = http.get(f"{sandbox_url}/_sandbox/stripe/events").json()["events"]
    return [event for event in events if event["object_id"] == session_id]


def test_a_pack_bought_on_stripes_page_raises_the_balance_once_though_the_webhook_arrives_twice(
        page: Page, new_account, browser_stack, page_log):
    buyer: Account = new_account("buyer")
    sign_in(page, buyer)
    page.goto("/account/")
    before = credits_available(page)

    buy = page.locator(f"#buy-{PACK}")
    expect(buy).to_contain_text(f"Buy {PACK_CREDITS} credits")
    buy.click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(browser_stack.sandbox_url)}/stripe/pay/cs_test_\w+$"))
    pay_on_the_sandbox_checkout_page(page, deliver="twice")

    expect(page).to_have_url(re.compile(r"/account/payment/done/\?session_id=cs_test_\w+$"))
    session_id = parse_qs(urlsplit(page.url).query)["session_id"][0]
    expect(page.locator("#payment-status")).to_contain_text("Stripe confirmed your payment",
                                                             timeout=CONFIRMATION_TIMEOUT_MS)
    expect(page.locator("#credits-available")).to_have_text(str(before + PACK_CREDITS))
    assert_accessible(page)
    screenshots(page, "payment-done")

    # Stripe sent the same checkout.session.completed twice, and both were taken (200): the second changed nothing.
    sent = stripe_deliveries(browser_stack.sandbox_url, session_id)
    assert [event["type"] for event in sent] == ["checkout.session.completed"] * 2, sent
    assert sent[0]["id"] == sent[1]["id"]
    assert [delivery["status"] for event in sent for delivery in event["deliveries"]] == [200, 200], sent
    page.reload()
    expect(page.locator("#payment-status")).to_contain_text("Stripe confirmed your payment")
    expect(page.locator("#credits-available")).to_have_text(str(before + PACK_CREDITS))
    page.goto("/account/")
    expect(page.locator("#credits-available")).to_have_text(str(before + PACK_CREDITS))

    page.goto("/account/ledger/")
    purchases = page.locator("#ledger tbody tr").filter(
        has=page.locator("td:nth-child(2)", has_text=re.compile(r"^\s*Purchase")))
    expect(purchases).to_have_count(1)
    expect(purchases.locator("td:nth-child(3)")).to_have_text(f"+{PACK_CREDITS}")
    expect(purchases.locator("td:nth-child(4)")).to_have_text(str(before + PACK_CREDITS))
    page_log.assert_clean()
