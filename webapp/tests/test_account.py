"""The Account pages: plan and balances, the ledger, usage per day, the data export and deleting the account."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry, UserProfile
from billing.plans import plan_named
from billing.tests.conftest import validated
from devstack.briefs import headphones_brief
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import create_job
from video_generation.pipeline.transitions import complete_job, fail_job

from .conftest import PASSWORD, sign_in
from .test_pages import URL_ATTRIBUTE

pytestmark = pytest.mark.django_db

PAGES = ["/account/", "/account/ledger/", "/account/usage/", "/account/export/", "/account/delete/",
         "/account/payment/done/", "/account/payment/cancelled/"]
POST_ONLY = ["/account/checkout/", "/account/billing-portal/"]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Accepting a job publishes its first message after commit; these tests look at pages, not messages."""
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


@pytest.fixture
def job_data() -> dict:
    return validated(headphones_brief("https://cdn.example.com/headphones.jpg"))  # 3 credits


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("mia", "mia@example.com", PASSWORD)


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user("ned", "ned@example.com", PASSWORD)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def delivered(user, job_data, seconds: float = 22.0) -> VideoJob:
    job = create_job(user=user, data=job_data)
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=seconds)
    return job


# --- Sign-in and methods --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PAGES + POST_ONLY)
def test_every_account_page_sends_an_anonymous_visitor_to_sign_in(client, path):
    response = client.post(path) if path in POST_ONLY else client.get(path)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/?next=")


@pytest.mark.parametrize("path", POST_ONLY)
def test_a_get_on_an_action_is_405(member, path):
    assert signed_in(member).get(path).status_code == 405


@pytest.mark.parametrize("path", [path for path in PAGES if path != "/account/export/"] + ["/account/deleted/"])
def test_every_account_page_is_labelled_in_order_and_loads_nothing_from_elsewhere(member, path):
    html = signed_in(member).get(path).text

    assert '<main id="main"' in html and '<nav aria-label="Main">' in html
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(later <= earlier + 1 for earlier, later in zip(levels, levels[1:], strict=False)), levels
    for url in URL_ATTRIBUTE.findall(html):
        assert not re.match(r"(?i)^\s*(?:[a-z][a-z0-9+.-]*:)?//", url), (path, url)
    for input_id in re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{input_id}"' in html, (path, input_id)


def test_the_nav_marks_the_account_pages_as_current(member):
    html = signed_in(member).get("/account/ledger/").text

    assert '<a href="/account/" aria-current="page">Account</a>' in html
    assert '<a href="/account/ledger/" aria-current="page">Ledger</a>' in html


def test_the_deleted_page_needs_no_account(client):
    assert "Your account was deleted" in client.get("/account/deleted/").text


# --- Overview -------------------------------------------------------------------------------------------------

def test_the_overview_shows_the_plan_the_balances_and_every_plan_on_offer(member):
    page = signed_in(member).get("/account/").text

    assert '<span id="plan-name">Free</span>' in page and '<dd id="credits-available">15</dd>' in page
    for plan in ("Free", "Pro", "Enterprise"):
        assert re.search(rf'<h3 class="plan-name">{plan}\b', page)
    assert "$15.00" in page and "Unlimited" in page and 'id="export-data"' in page


def test_the_dashboard_shows_the_same_balances_partial(member):
    page = signed_in(member).get("/").text

    assert '<span id="plan-name">Free</span>' in page and '<dd id="credits-available">15</dd>' in page


def test_without_payments_configured_nothing_can_be_bought(member, settings):
    settings.STRIPE_SECRET_KEY = ""

    page = signed_in(member).get("/account/").text

    assert "Payments are not available right now" in page
    assert 'id="buy-credits-form"' not in page and 'id="change-plan-' not in page


# --- The ledger -----------------------------------------------------------------------------------------------

def test_the_ledger_shows_the_users_own_entries_newest_first_in_words_with_their_video(member, stranger, job_data):
    held = create_job(user=member, data=job_data)
    failed = create_job(user=member, data=job_data)
    fail_job(failed.id, "boom")
    theirs = create_job(user=stranger, data=job_data)

    page = signed_in(member).get("/account/ledger/").text

    table = page[page.index('<table id="ledger"'):page.index("</table>")]
    kinds = re.findall(r"<td>([A-Z][^<]+?)(?:<br>|</td>)", table)
    assert kinds == ["Release (a hold ended)", "Hold (a video accepted)", "Hold (a video accepted)",
                     "Grant (plan credits for a period)"]
    assert re.findall(r'<td class="number">([^<]+)</td>', table) == ["+3", "12", "-3", "9", "-3", "12", "+15", "15"]
    assert f'href="/videos/{failed.id}/"' in table and f'href="/videos/{held.id}/"' in table
    assert str(theirs.id) not in page


def test_the_ledger_is_paged(member):
    account = UserProfile.objects.get(user=member)
    for number in range(60):
        ledger.purchase(account.id, 1, key=f"purchase:test{number}", payment_ref=f"cs_test{number}")
    client = signed_in(member)

    first, second = client.get("/account/ledger/").text, client.get("/account/ledger/?page=2").text

    assert first.count("<tr>") == 51 and second.count("<tr>") == 12  # 61 entries and a header row on each
    assert 'href="?page=2"' in first and "Page 2 of 2" in second


@pytest.mark.parametrize("page", ["zero", "-1", "0", "1.5", "9" * 40])
def test_a_malformed_ledger_page_is_400(member, page):
    response = signed_in(member).get(f"/account/ledger/?page={page}")

    assert response.status_code in (400, 404)
    if not page.startswith("9"):
        assert response.status_code == 400 and "whole number from 1" in response.text


def test_a_ledger_page_past_the_last_is_404(member):
    assert signed_in(member).get("/account/ledger/?page=2").status_code == 404


# --- Usage ----------------------------------------------------------------------------------------------------

def test_the_chart_has_one_bar_per_day_as_tall_as_its_credits_and_a_table_with_the_numbers(member, stranger,
                                                                                             job_data):
    delivered(member, job_data, 22.0)
    delivered(member, job_data, 15.5)  # 2 credits
    delivered(stranger, job_data)
    yesterday = delivered(member, job_data, 22.0)
    VideoJob.objects.filter(id=yesterday.id).update(completed_at=timezone.now() - timedelta(days=1))

    page = signed_in(member).get("/account/usage/?days=7").text

    bars = re.findall(r'<rect class="usage-bar" data-day="([\d-]+)" data-credits="(\d+)" x="[\d.]+" '
                      r'y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', page)
    assert len(bars) == 7 and 'id="usage-chart"' in page
    today, day_before = timezone.localdate(), timezone.localdate() - timedelta(days=1)
    assert [bar[0] for bar in bars][-2:] == [str(day_before), str(today)]
    heights = {day: (int(credits), float(height)) for day, credits, _, height in bars}
    assert heights[str(today)] == (5, 160.0) and heights[str(day_before)] == (3, 96.0)  # 3/5 of the tallest
    assert all(height == 0.0 for day, (credits, height) in heights.items() if credits == 0)
    table = page[page.index('<table id="usage-table"'):]
    rows = re.findall(r'<td class="number">([^<]+)</td><td class="number">([^<]+)</td>\s*'
                      r'<td class="number">([^<]+)</td>', table)
    assert rows == [("1", "22.0", "3"), ("2", "37.5", "5")]


@pytest.mark.parametrize("days, bars", [(None, 30), ("30", 30), ("90", 90)])
def test_the_chart_shows_the_range_asked_for(member, days, bars):
    page = signed_in(member).get("/account/usage/" + (f"?days={days}" if days else "")).text

    assert page.count('<rect class="usage-bar"') == bars and "No videos in these days." in page


@pytest.mark.parametrize("days", ["8", "", "abc", "-7", "9" * 50])
def test_a_range_not_offered_is_400_with_a_message_at_the_field(member, days):
    response = signed_in(member).get(f"/account/usage/?days={days}")

    assert response.status_code == 400
    assert ("Choose 7, 30 or 90 days." in response.text or "This field is required." in response.text)
    assert 'aria-invalid="true"' in response.text and "usage-chart" not in response.text


def test_the_range_form_swaps_just_the_chart_for_htmx(member):
    response = signed_in(member).get("/account/usage/?days=7", headers={"HX-Request": "true"})

    assert response.text.lstrip().startswith("<div id=\"usage\"") and "<html" not in response.text


# --- Export ---------------------------------------------------------------------------------------------------

def test_the_export_is_a_download_of_the_users_data_and_nobody_elses(member, stranger, job_data):
    mine = delivered(member, job_data)
    theirs = delivered(stranger, job_data)

    response = signed_in(member).get("/account/export/")

    assert response["Content-Disposition"] == 'attachment; filename="account-export.json"'
    assert response["Cache-Control"] == "no-store"
    document = json.loads(b"".join(response.streaming_content))
    assert document["account"]["username"] == "mia"
    assert [job["id"] for job in document["jobs"]] == [str(mine.id)]
    assert str(theirs.id) not in json.dumps(document) and "ned@example.com" not in json.dumps(document)


# --- Deleting the account -------------------------------------------------------------------------------------

def test_the_delete_page_explains_what_is_erased(member):
    page = signed_in(member).get("/account/delete/").text

    assert 'id="delete-account-form"' in page and 'id="confirm-delete"' in page
    assert "cancelled first" in page and "credits are lost" in page and "cannot be undone" in page
    assert 'aria-describedby="id_confirm_helptext"' in page and "Your username is <strong>mia</strong>." in page


@pytest.mark.parametrize("confirmation", ["someone", "MIA", " mia", ""])
def test_a_wrong_confirmation_erases_nothing(member, job_data, confirmation):
    job = create_job(user=member, data=job_data)
    client = signed_in(member)

    response = client.post("/account/delete/", {"confirm": confirmation})

    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert VideoJob.objects.filter(id=job.id, status=JobStatus.PENDING).exists()
    assert type(member).objects.filter(pk=member.pk).exists()
    assert client.get("/account/").status_code == 200  # still signed in


def test_the_right_confirmation_erases_the_account_and_signs_out(member, stranger, job_data):
    job = create_job(user=member, data=job_data)
    kept = create_job(user=stranger, data=job_data)
    client = signed_in(member)

    response = client.post("/account/delete/", {"confirm": "mia"}, follow=True)

    assert response.redirect_chain == [("/account/deleted/", 302)]
    assert "Your account was deleted" in response.text
    assert not type(member).objects.filter(username="mia").exists()
    assert not VideoJob.objects.filter(id=job.id).exists() and VideoJob.objects.filter(id=kept.id).exists()
    assert LedgerEntry.objects.filter(job_id=job.id, kind="release").exists()  # its hold released, not charged
    assert client.get("/account/").status_code == 302  # signed out
    assert sign_in(Client(), username="mia").status_code == 400  # and can no longer sign in


def test_an_account_paying_for_a_plan_is_not_erased(member):
    UserProfile.objects.filter(user=member).update(plan=plan_named("pro"), stripe_customer_id="cus_1",
                                                   stripe_subscription_id="sub_1")

    response = signed_in(member).post("/account/delete/", {"confirm": "mia"})

    assert response.status_code == 409 and "Cancel it in the billing portal first" in response.text
    assert type(member).objects.filter(pk=member.pk).exists()


def test_deleting_is_a_post(member):
    signed_in(member).get("/account/delete/?confirm=mia")

    assert type(member).objects.filter(pk=member.pk).exists()
