"""Money through real processes: a free user is quoted, held, and charged the finished length; a video the
providers could not make (a safety block, a failed render) costs them nothing."""

from __future__ import annotations

import pytest

from .conftest import E2E
from .test_2_faults import heygen_fault, short_brief, veo_fault

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def free_user(e2e):
    """A second user on the free plan (15 credits) on the shared stack."""
    harness = E2E(e2e.stack, e2e.stack.create_token("e2e-free"), e2e.api_urls)
    yield harness
    harness.http.close()


def api(harness: E2E, method: str, path: str, **kwargs):
    response = harness.http.request(method, f"{harness.api_urls['v3']}{path}", headers=harness._headers(), **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def ledger_of(harness: E2E, job_id: str) -> list[tuple[str, int]]:
    entries = api(harness, "GET", f"/api/account/ledger/?job={job_id}")["results"]
    return [(entry["kind"], entry["amount"]) for entry in reversed(entries)]


@pytest.fixture(scope="module")
def billed_jobs(free_user):
    """One delivered video and two the providers could not make, submitted together."""
    delivered = short_brief(free_user, scenes=2)
    quote = api(free_user, "POST", "/api/video/quote/", json=delivered)
    ids = {"delivered": free_user.submit(delivered),
           "safety_block": free_user.submit(veo_fault(free_user, "safety", scenes=2)),
           "render_failed": free_user.submit(heygen_fault(free_user, "render_failed"))}
    held = api(free_user, "GET", "/api/account/")["credits"]["held"]
    finals = free_user.wait_all(ids.values(), timeout=600)
    return quote, ids, held, {name: finals[job_id] for name, job_id in ids.items()}


def test_the_quote_is_what_is_held_and_the_finished_length_is_what_is_charged(free_user, billed_jobs):
    quote, ids, held, finals = billed_jobs
    job = finals["delivered"]
    assert job["status"] == "completed", job["error_message"]
    assert job["credits_quoted"] == quote["credits"]
    assert held == sum(final["credits_quoted"] for final in finals.values())  # all three held at once
    charged = -(-job["duration_seconds"] // 8)
    assert job["credits_used"] == min(charged, quote["credits"]) >= 1
    assert ledger_of(free_user, ids["delivered"]) == [("hold", -quote["credits"]), ("release", quote["credits"]),
                                                       ("capture", -job["credits_used"])]
    assert float(job["cost_usd"]) > 0


@pytest.mark.parametrize("name", ["safety_block", "render_failed"])
def test_a_video_the_providers_could_not_make_is_released_in_full(free_user, billed_jobs, name):
    _, ids, _, finals = billed_jobs
    job = finals[name]
    assert job["status"] == "failed"
    assert job["credits_used"] == 0
    assert ledger_of(free_user, ids[name]) == [("hold", -job["credits_quoted"]), ("release", job["credits_quoted"])]


def test_the_account_ends_with_only_the_delivered_video_paid(free_user, billed_jobs):
    _, _, _, finals = billed_jobs
    account = api(free_user, "GET", "/api/account/")
    assert account["credits"] == {"available": 15 - finals["delivered"]["credits_used"], "held": 0, "granted":
                                  15 - finals["delivered"]["credits_used"], "purchased": 0}
    assert account["videos_this_month"] == 1
