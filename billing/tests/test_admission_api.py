"""Generate through the API with billing in force: the hold, the refusals and their bodies."""

import pytest
from django.db import connection

from billing.models import LedgerEntry, UserProfile
from billing.plans import plan_named
from video_generation.models import VideoJob

pytestmark = pytest.mark.django_db

GENERATE = "/api/video/generate/"


def test_generate_answers_the_credits_it_held(user, client_for, brief):
    response = client_for(user).post(GENERATE, brief, format="json")
    assert response.status_code == 202
    assert response.json()["credits"] == 3
    assert UserProfile.objects.get(user=user).held_credits == 3


def test_too_few_credits_is_402_with_what_is_needed_and_available(user, client_for, brief, settings):
    settings.GENERATE_RATE_LIMIT = "2/hour"
    UserProfile.objects.filter(user=user).update(granted_credits=2)  # a test shortcut past the ledger
    client = client_for(user)
    for _ in range(3):  # refused requests give their rate-limit slot back: never 429 here
        response = client.post(GENERATE, brief, format="json")
        assert response.status_code == 402
        assert response.json() == {"error": "Insufficient credits", "required": 3, "available": 2}
    assert not VideoJob.objects.exists()
    assert not LedgerEntry.objects.filter(kind="hold").exists()


def test_max_credits_below_the_quote_is_402_and_creates_nothing(user, client_for, brief):
    response = client_for(user).post(GENERATE, {**brief, "max_credits": 2}, format="json")
    assert response.status_code == 402
    assert response.json() == {"error": "The quote is above max_credits", "required": 3, "max_credits": 2}
    assert not VideoJob.objects.exists()
    assert client_for(user).post(GENERATE, {**brief, "max_credits": 3}, format="json").status_code == 202


@pytest.mark.parametrize("value", [0, -1, "3", 2.5, True, None])
def test_max_credits_must_be_a_positive_integer(user, client_for, brief, value):
    response = client_for(user).post(GENERATE, {**brief, "max_credits": value}, format="json")
    assert response.status_code == 400
    assert "max_credits" in response.json()["details"]


def test_the_plan_caps_scenes_per_video_as_a_field_error(user, client_for, brief):
    eleven = {**brief, "scenes": [brief["scenes"][0]] * 11}
    response = client_for(user).post(GENERATE, eleven, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["scenes"] == [
        "Your Free plan allows at most 10 scenes per video (this brief has 11)."]
    assert not VideoJob.objects.exists()


def test_a_plan_may_offer_only_some_qualities(user, client_for, brief):
    free = plan_named("free")
    free.allowed_qualities = ["fast"]
    free.save()
    client = client_for(user)
    refused = client.post(GENERATE, {**brief, "quality": "standard"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["details"] == {"quality": ["Your Free plan offers quality fast only."]}
    assert client.post(GENERATE, {**brief, "quality": "fast"}, format="json").status_code == 202


def test_too_many_videos_in_progress_is_429(user, client_for, brief):
    UserProfile.objects.filter(user=user).update(plan=plan_named("enterprise"))
    enterprise = plan_named("enterprise")
    enterprise.max_jobs_in_flight = 1
    enterprise.save()
    client = client_for(user)
    assert client.post(GENERATE, brief, format="json").status_code == 202
    response = client.post(GENERATE, brief, format="json")
    assert response.status_code == 429
    assert response.json() == {"error": "Too many videos in progress", "limit": 1}


def test_the_plan_can_set_its_own_rate_limit(user, client_for, brief, settings):
    settings.GENERATE_RATE_LIMIT = "100/hour"
    pro = plan_named("pro")
    pro.generate_rate_limit = "1/hour"
    pro.save()
    UserProfile.objects.filter(user=user).update(plan=pro)
    client = client_for(user)
    assert client.post(GENERATE, brief, format="json").status_code == 202
    response = client.post(GENERATE, brief, format="json")
    assert response.status_code == 429
    assert response.json()["error"] == "Rate limit exceeded"
    assert response.json()["rate_limit"] == "1/hour"  # the plan's, not GENERATE_RATE_LIMIT


def test_a_replayed_key_holds_nothing_more(user, client_for, brief):
    client = client_for(user)
    first = client.post(GENERATE, brief, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(GENERATE, brief, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["credits"] == 3
    assert UserProfile.objects.get(user=user).held_credits == 3


def test_holding_credits_adds_one_statement_to_a_submit_on_postgresql(user, client_for, brief, settings,
                                                                       django_assert_num_queries):
    """The submit path stays short: after the job insert, the hold is one statement on PostgreSQL (the balance
    update and the hold entry, billing/sql.take_first_hold); elsewhere a locked read of the account with its plan
    and its videos in progress, then the update and the entry."""
    settings.CREDITS_LOW_THRESHOLD = 0  # a hold crossing it also reads the webhook endpoints (webhooks/tests)
    client = client_for(user)
    client.post(GENERATE, brief, format="json")  # the plan's rate limit is remembered from here on
    hold = 1 if connection.vendor == "postgresql" else 1 + 2
    with django_assert_num_queries(2 + 1 + hold):  # the test's savepoint and its release, the job, the hold
        assert client.post(GENERATE, brief, format="json").status_code == 202
