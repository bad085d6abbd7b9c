"""Every page of the web app, from one table: it loads only from this machine, has one h1, fits a 360 px phone, passes
the axe-core scan (no serious or critical violation), and is photographed at phone and desktop widths under
var/screenshots/ for review.

A new page is one more row in PAGES: a name (the screenshots' file names), how to get there (a path, or a function
that drives `page` there, given the `Site`), whether it needs the signed-in account, and the status it answers. A
page about a video uses `site.finished_video()` (the signed-in account's one finished headphones video, made once
and shared): `PageRow("job", lambda page, site: page.goto(f"/videos/{site.finished_video()['id']}/"), signed_in=True)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from .helpers import Site, assert_accessible, assert_fits_small_phone, labelled, screenshots


@dataclass(frozen=True)
class PageRow:
    name: str
    open: str | Callable[[Page, Site], None]
    signed_in: bool = False
    status: int = 200  # of a path's response (a function checks what it needs itself)


def sign_up_with_errors(page: Page, site: Site) -> None:
    """The sign-up form sent empty: every field's error next to it."""
    page.goto("/accounts/sign-up/")
    page.get_by_role("main").get_by_role("button", name="Sign up").click()
    expect(page.locator(".errorlist").first).to_be_visible()


def choose_new_password(page: Page, site: Site) -> None:
    """The page the password-reset e-mail's link leads to."""
    before = len(site.mailbox.messages(site.account.email))
    page.goto("/accounts/password-reset/")
    labelled(page, "Email").fill(site.account.email)
    page.get_by_role("main").get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    page.goto(site.mailbox.link(site.account.email, after=before))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")


def key_just_created(page: Page, site: Site) -> None:
    """The Developers page right after a key was made: its secret shown once, with the copy button."""
    page.goto("/developers/")
    form = page.locator("#create-key-form")
    form.locator('input[name="name"]').fill("page table")
    form.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-secret")).to_be_visible()


PAGES = [
    PageRow("landing", "/"),
    PageRow("sign-in", "/accounts/sign-in/"),
    PageRow("sign-up", "/accounts/sign-up/"),
    PageRow("sign-up-errors", sign_up_with_errors),
    PageRow("sign-up-done", "/accounts/sign-up/done/"),
    PageRow("verify-email-invalid", "/accounts/verify/MA/not-a-token/", status=400),
    PageRow("password-reset", "/accounts/password-reset/"),
    PageRow("password-reset-sent", "/accounts/password-reset/sent/"),
    PageRow("password-reset-choose", choose_new_password, signed_in=False),
    PageRow("password-reset-complete", "/accounts/reset/done/"),
    PageRow("dashboard", "/", signed_in=True),
    PageRow("new-video", "/videos/new/", signed_in=True),
    PageRow("videos", "/videos/", signed_in=True),
    PageRow("job", lambda page, site: page.goto(f"/videos/{site.finished_video()['id']}/"), signed_in=True),
    PageRow("not-found", "/videos/00000000-0000-4000-8000-000000000000/", signed_in=True, status=404),
    PageRow("account", "/account/", signed_in=True),
    PageRow("account-ledger", "/account/ledger/", signed_in=True),
    PageRow("account-usage", "/account/usage/", signed_in=True),
    PageRow("account-delete", "/account/delete/", signed_in=True),
    PageRow("account-deleted", "/account/deleted/"),
    PageRow("payment-cancelled", "/account/payment/cancelled/", signed_in=True),
    PageRow("developers", "/developers/", signed_in=True),
    PageRow("developers-key-created", key_just_created, signed_in=True),
    PageRow("developers-deliveries", "/developers/webhooks/deliveries/", signed_in=True),
]


@pytest.mark.parametrize("row", PAGES, ids=[row.name for row in PAGES])
def test_every_page_is_accessible_fits_a_phone_and_is_photographed(row: PageRow, request, site, page_log):
    page: Page = request.getfixturevalue("signed_in_page" if row.signed_in else "page")
    if callable(row.open):
        row.open(page, site)
    else:
        response = page.goto(row.open)
        assert response is not None and response.status == row.status, f"{row.open}: {response and response.status}"
    page.wait_for_load_state("load")

    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(1 if row.signed_in else 0)
    assert_accessible(page)
    assert_fits_small_phone(page)
    screenshots(page, row.name)
    page_log.assert_clean()
