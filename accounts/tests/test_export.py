"""GET /api/account/export/: the caller's account, jobs and ledger as one JSON document, with no credential in it."""

import json

import pytest
from rest_framework.test import APIClient

from api_keys.models import ApiKey
from billing.models import LedgerEntry, UserProfile
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline.transitions import complete_job

from .helpers import start_job

pytestmark = pytest.mark.django_db


def export(client) -> dict:
    response = client.get("/api/account/export/")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return json.loads(b"".join(response.streaming_content))


def test_the_export_holds_the_callers_account_jobs_with_their_briefs_steps_and_costs_and_ledger(user, token_client):
    job = start_job(user, product_title="Alice's Lamp")
    complete_job(job.id, final_uri="file:///x/final.mp4", duration_seconds=8)
    data = export(token_client(user))

    assert data["account"]["username"] == "alice"
    assert data["account"]["plan"]["code"] == UserProfile.objects.get(user=user).plan.code
    assert set(data["account"]["credits"]) == {"available", "held", "granted", "purchased"}
    [exported] = data["jobs"]
    assert exported["id"] == str(job.id)
    assert exported["status"] == JobStatus.COMPLETED
    assert exported["brief"]["product_title"] == "Alice's Lamp"
    assert exported["brief"]["scenes"] == VideoJob.objects.get(id=job.id).scenes_data
    assert exported["brief"]["captions"] == {"enabled": True, "style": "bold", "position": "auto"}
    assert (exported["brief"]["broll_fit"], exported["brief"]["scene_transitions"]) == ("extend", "continuous")
    assert exported["credits_used"] == 1 and exported["credits_quoted"] == job.quote["credits"]
    assert {step["key"] for step in exported["steps"]} == set(job.steps.values_list("key", flat=True))
    assert exported["download"] == f"/api/video/{job.id}/download/"
    assert [entry["id"] for entry in data["ledger"]] == list(
        LedgerEntry.objects.filter(account__user=user).order_by("id").values_list("id", flat=True))
    assert {entry["kind"] for entry in data["ledger"]} >= {"grant", "hold", "release", "capture"}


def test_the_export_holds_nothing_of_another_user(user, other_user, token_client):
    theirs = start_job(other_user, product_title="Bob's Secret Widget")
    mine = start_job(user)
    data = export(token_client(user))
    assert [job["id"] for job in data["jobs"]] == [str(mine.id)]
    text = json.dumps(data)
    assert str(theirs.id) not in text and "Bob's Secret Widget" not in text and "bob" not in text
    other_account = UserProfile.objects.get(user=other_user)
    assert not {entry["id"] for entry in data["ledger"]} & set(
        LedgerEntry.objects.filter(account=other_account).values_list("id", flat=True))


def test_the_export_holds_no_credential_and_no_link(user, token_client, settings):
    settings.SIGNED_URL_TTL_SECONDS = 3600
    job = start_job(user, webhook_url="https://hooks.example.com/done?token=sEcReT-hook-value")
    complete_job(job.id, final_uri="file:///x/final.mp4", duration_seconds=8)
    client = token_client(user)
    response = client.get("/api/account/export/")
    text = b"".join(response.streaming_content).decode()
    assert client.api_key not in text
    assert not any(key.key_hash in text for key in ApiKey.objects.filter(user=user))
    assert "sEcReT-hook-value" not in text
    assert "/media/" not in text and "Signature" not in text
    assert user.password not in text


def test_a_big_account_is_exported_in_a_bounded_number_of_queries(user, token_client, django_assert_max_num_queries):
    from video_generation.tests.factories import make_job

    for _ in range(450):
        make_job(user)
    client = token_client(user)
    with django_assert_max_num_queries(30):
        data = export(client)
    assert len(data["jobs"]) == 450


def test_the_export_needs_credentials():
    assert APIClient().get("/api/account/export/").status_code == 401
