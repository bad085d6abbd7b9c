"""Accounts in a real browser: sign up, verify the address from the e-mail, sign in, and a wrong password."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import expect

from billing.plans import DEFAULT_PLAN, SEED_PLANS

from .helpers import Account, labelled

FREE_PLAN = SEED_PLANS[DEFAULT_PLAN]


def test_a_new_account_signs_up_verifies_its_email_signs_in_and_sees_the_free_plans_credits(page, mailbox):
    username = f"new-{secrets.token_hex(4)}"
    address = f"{username}@example.com"
    password = secrets.token_urlsafe(12)

    page.goto("/accounts/sign-up/")
    labelled(page, "Username").fill(username)
    labelled(page, "Email").fill(address)
    labelled(page, "Password").fill(password)
    labelled(page, "Password confirmation").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/sign-up/done/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    page.goto(mailbox.link(address))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email address is verified")

    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    labelled(page, "Username").fill(username)
    labelled(page, "Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("#plan-title")).to_have_text(f"Your plan: {FREE_PLAN['name']}")
    expect(page.locator("#credits-available")).to_have_text(str(FREE_PLAN["monthly_credits"]))


def test_signing_in_before_verifying_says_so_and_offers_the_link_again(page):
    username = f"unverified-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    page.goto("/accounts/sign-up/")
    labelled(page, "Username").fill(username)
    labelled(page, "Email").fill(f"{username}@example.com")
    labelled(page, "Password").fill(password)
    labelled(page, "Password confirmation").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/sign-up/done/$"))

    page.goto("/accounts/sign-in/")
    labelled(page, "Username").fill(username)
    labelled(page, "Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Please verify your email address first")
    expect(page.get_by_role("button", name="Send the link again")).to_be_visible()


def test_a_wrong_password_shows_the_error_next_to_the_form_and_stays_on_the_sign_in_page(page, account: Account):
    page.goto("/accounts/sign-in/")
    labelled(page, "Username").fill(account.username)
    labelled(page, "Password").fill(account.password + "-wrong")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("main").get_by_role("button", name="Sign in").click()

    assert answer.value.status == 400
    expect(page).to_have_url(re.compile(r"/accounts/sign-in/$"))
    error = page.locator("form").get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Please enter a correct username and password")
    expect(labelled(page, "Username")).to_have_value(account.username)
    expect(labelled(page, "Password")).to_have_value("")
    expect(page.get_by_role("button", name=re.compile("^Sign out"))).to_have_count(0)
