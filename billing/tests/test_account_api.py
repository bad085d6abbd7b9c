import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import ledger
from billing.models import UserProfile
from billing.plans import plan_named
from video_generation.pipeline import create_job
from video_generation.pipeline.transitions import complete_job, fail_job

pytestmark = pytest.mark.django_db


def test_the_account_shows_plan_balances_and_period(user, client_for, job_data):
    create_job(user=user, data=job_data)
    body = client_for(user).get("/api/account/").json()
    profile = UserProfile.objects.get(user=user)
    assert body["username"] == "alice"
    assert body["plan"]["code"] == "free"
    assert body["plan"]["monthly_credits"] == 15
    assert body["plan"]["max_jobs_in_flight"] == 5
    assert body["credits"] == {"available": 12, "held": 3, "granted": 15, "purchased": 0}
    assert body["videos_this_month"] == 0
    assert body["period_ends_at"] == profile.period_end.isoformat().replace("+00:00", "Z")


def test_an_unlimited_plan_shows_no_available_number(user, client_for):
    UserProfile.objects.filter(user=user).update(plan=plan_named("enterprise"))
    body = client_for(user).get("/api/account/").json()
    assert body["plan"]["unlimited"] is True
    assert body["credits"]["available"] is None


def test_reading_an_ended_period_rolls_it_over_first(user, client_for):
    UserProfile.objects.filter(user=user).update(period_end=timezone.now() - timedelta(seconds=1),
                                                 granted_credits=4)
    body = client_for(user).get("/api/account/").json()
    assert body["credits"]["granted"] == 15  # 4 left expired, 15 granted for the new period


def test_the_ledger_is_newest_first_and_filters_by_job(user, client_for, job_data):
    job = create_job(user=user, data=job_data)
    other = create_job(user=user, data=job_data)
    fail_job(other.id, "Presenter render failed at HeyGen: boom")
    client = client_for(user)
    entries = client.get("/api/account/ledger/").json()["results"]
    assert [e["kind"] for e in entries] == ["release", "hold", "hold", "grant"]
    assert [e["balance_after"] for e in entries] == [12, 9, 12, 15]
    mine = client.get(f"/api/account/ledger/?job={job.id}").json()["results"]
    assert [(e["kind"], e["amount"], e["job"]) for e in mine] == [("hold", -3, str(job.id))]


def test_nobody_sees_another_users_ledger(user, other_user, client_for, job_data):
    job = create_job(user=user, data=job_data)
    theirs = client_for(other_user).get(f"/api/account/ledger/?job={job.id}").json()
    assert theirs["results"] == []
    assert [e["kind"] for e in client_for(other_user).get("/api/account/ledger/").json()["results"]] == ["grant"]


@pytest.mark.parametrize("query", ["job=zzz", "job=1", f"job={uuid.uuid4()}x"])
def test_a_malformed_job_filter_is_400(user, client_for, query):
    assert client_for(user).get(f"/api/account/ledger/?{query}").status_code == 400


def test_usage_counts_each_day_of_delivered_videos(user, client_for, job_data):
    for seconds in (22.0, 15.5):
        job = create_job(user=user, data=job_data)
        complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=seconds)
    failed = create_job(user=user, data=job_data)
    fail_job(failed.id, "boom")
    today = timezone.localdate()
    body = client_for(user).get(f"/api/account/usage/?from={today}&to={today}").json()
    assert body["from"] == body["to"] == str(today)
    [day] = body["days"]
    assert (day["videos"], day["seconds"], day["credits"]) == (2, 37.5, 5)


@pytest.mark.parametrize("query", ["from=2026-13-01", "to=yesterday", "to=", "from=2026-1-1x"])
def test_a_malformed_usage_date_is_400(user, client_for, query):
    assert client_for(user).get(f"/api/account/usage/?{query}").status_code == 400


def test_any_usage_range_is_answered_an_inverted_one_is_empty(user, client_for, job_data):
    job = create_job(user=user, data=job_data)
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    today = timezone.localdate()
    client = client_for(user)
    assert client.get(f"/api/account/usage/?from={today}&to={today - timedelta(days=1)}").json()["days"] == []
    decade = client.get(f"/api/account/usage/?from={today - timedelta(days=3650)}&to={today}").json()["days"]
    assert [day["videos"] for day in decade] == [1]


@pytest.mark.parametrize("path", ["/api/account/", "/api/account/ledger/", "/api/account/usage/"])
def test_the_account_needs_a_token(client, path):
    assert client.get(path).status_code == 401


def test_an_older_user_without_an_account_gets_one_on_first_read(user, client_for):
    profile = UserProfile.objects.get(user=user)
    profile.entries.all()._raw_delete(profile.entries.all().db)  # as if the user predated billing
    profile.delete()
    body = client_for(user).get("/api/account/").json()
    assert body["credits"]["granted"] == 15
    assert ledger.open_account(user).plan.code == "free"
