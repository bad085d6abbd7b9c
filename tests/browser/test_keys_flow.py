"""The Developers page in a real browser: an API key made in the page works for a program outside the browser until
it is revoked in the page; a webhook endpoint added in the page receives a signed test event, and its replay."""

from __future__ import annotations

import re
import secrets
import time

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from standardwebhooks.webhooks import Webhook

from api_keys.models import Scope
from video_generation.tests.fake_network import Answer, RecordingServer

from .helpers import assert_accessible, screenshots, sign_in

DELIVERY_TIMEOUT_S = 60.0  # the worker picks the delivery up and POSTs it, on 2 shared cores


def field(scope: Page | Locator, label: str) -> Locator:
    """The control labelled exactly `label` inside `scope` (Django's labels may end with a colon)."""
    return scope.get_by_label(re.compile(rf"^\s*{re.escape(label)}:?\s*$"))


def signed_in_as_new_account(page: Page, new_account, prefix: str) -> None:
    """A fresh account (its own keys and endpoints, nobody else's limits), signed in through the form."""
    sign_in(page, new_account(prefix))


def reload_until(page: Page, locator: Locator, text: str | re.Pattern, timeout_s: float = DELIVERY_TIMEOUT_S) -> None:
    """Reload the page (as a person waiting for it would) until `locator` contains `text`: for what the worker
    changes after the page was drawn, on pages that do not poll."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            expect(locator).to_contain_text(text, timeout=2_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


@pytest.fixture
def http():
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


# --- API keys ---------------------------------------------------------------------------------------------------

def create_key(page: Page, name: str, *, expires: str, scopes: list[Scope]) -> str:
    """Fill and send the Create key form; the secret shown once."""
    form = page.locator("#create-key-form")
    field(form, "Name").fill(name)
    field(form, "Expires after").select_option(label=expires)
    for scope in scopes:
        field(form, scope.label).check()
    form.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-secret")
    expect(secret).to_be_visible()
    return secret.input_value()


def test_a_key_made_in_the_page_works_outside_the_browser_until_it_is_revoked_in_the_page(
        page: Page, new_account, browser_stack, http, page_log):
    signed_in_as_new_account(page, new_account, "keys")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=browser_stack.api_url)
    page.goto("/developers/")
    name = f"CI {secrets.token_hex(3)}"
    secret = create_key(page, name, expires="30 days", scopes=[Scope.JOBS_READ])

    row = page.locator("#keys tr[data-key-id]").filter(has_text=name)
    expect(row).to_have_count(1)
    prefix = row.locator("code").first.inner_text().rstrip("…")
    assert secret.startswith(prefix) and len(secret) > len(prefix), (prefix, secret)
    expect(row).to_contain_text(Scope.JOBS_READ.value)
    page.locator("#copy-key").click()
    expect(page.locator("#new-key-secret-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.wait_for_load_state("load")

    as_the_key = {"Authorization": f"Bearer {secret}"}
    jobs = http.get(f"{browser_stack.api_url}/api/video/list_jobs/", headers=as_the_key)
    assert jobs.status_code == 200, jobs.text
    account = http.get(f"{browser_stack.api_url}/api/account/", headers=as_the_key)
    assert account.status_code == 403, account.text  # the one scope ticked in the form is all the key may do

    page.goto("/developers/")
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator("#keys tr[data-key-id]").filter(has_text=name)
    expect(row.locator("td[data-label='Last used']")).not_to_have_text("Never")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.locator(".revoke-key").click()
    expect(page.get_by_text(f"Key “{name}” revoked")).to_be_visible()
    expect(row).to_have_count(0)
    assert asked and name in asked[0], asked

    refused = http.get(f"{browser_stack.api_url}/api/video/list_jobs/", headers=as_the_key)
    assert refused.status_code == 401, refused.text
    page_log.assert_clean()


# --- Webhooks ---------------------------------------------------------------------------------------------------

@pytest.fixture
def receiver():
    """A customer's webhook endpoint on this machine (the stack allows loopback URLs, as local runs do); answers 200."""
    server = RecordingServer(default=Answer(200, b"ok", (("Content-Type", "text/plain"),)))
    yield server
    server.stop()


def test_an_endpoint_added_in_the_page_receives_a_signed_test_event_and_its_replay(
        page: Page, new_account, receiver, page_log):
    signed_in_as_new_account(page, new_account, "hooks")
    page.goto("/developers/")
    url = f"{receiver.url}/hook"
    form = page.locator("#add-endpoint-form")
    field(form, "URL").fill(url)
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhook endpoint")
    signing_secret = page.locator("#new-webhook-secret").input_value()

    page.locator(".send-test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery of webhook.test")
    page.get_by_role("link", name="endpoint", exact=True).click()
    deliveries = page.locator("#deliveries tbody tr")
    reload_until(page, deliveries.first.locator("td[data-label='Response']"), re.compile(r"^2\d\d$"))
    expect(deliveries).to_have_count(1)
    expect(deliveries.first).to_contain_text("webhook.test")
    expect(deliveries.first.locator("td[data-label='Status']")).to_have_text("Succeeded")
    assert_accessible(page)
    screenshots(page, "webhook-endpoint-delivered")

    deliveries.first.locator(".replay").click()
    expect(page.get_by_text("Sent again: this is the new delivery.")).to_be_visible()
    page.get_by_role("link", name="endpoint", exact=True).click()
    replayed = deliveries.filter(has_text="(replay)")
    reload_until(page, replayed.locator("td[data-label='Response']"), re.compile(r"^2\d\d$"))
    expect(deliveries).to_have_count(2)
    expect(replayed.locator("td[data-label='Status']")).to_have_text("Succeeded")

    # What reached the endpoint: the same event twice (one webhook-id), each signed with the secret the page showed.
    assert [request.path for request in receiver.requests] == ["/hook", "/hook"]
    verified = []
    for request in receiver.requests:
        headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        verified.append((headers["webhook-id"], Webhook(signing_secret).verify(request.body, headers)["type"]))
    assert verified[0] == verified[1] and verified[0][1] == "webhook.test", verified
    page_log.assert_clean()
