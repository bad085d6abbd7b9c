"""The dashboard in a real browser: the signed-in account's latest videos and the same balance the API reports."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_dashboard_lists_a_finished_video_and_the_balance_the_api_reports(signed_in_page, site):
    video = site.finished_video()
    balance = site.api().account()["credits"]["available"]

    signed_in_page.goto("/")

    job = signed_in_page.locator(".job").filter(has_text=video["product_title"]).first
    expect(job).to_contain_text("Completed")
    expect(signed_in_page.locator("#credits-available")).to_have_text(str(balance))
