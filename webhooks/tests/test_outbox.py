"""The outbox: a job's final transition (and a ledger entry that takes the credits low) writes its event and
deliveries in its own transaction, rolled back with it; the bells ring only after the commit."""

import json

import pytest
from django.db import transaction

from billing import ledger
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import transitions
from webhooks import services
from webhooks.models import Delivery, Event, EventType
from webhooks.tests.conftest import JOB_HOOK_URL, running_job

pytestmark = pytest.mark.django_db


def test_a_failed_job_writes_its_event_and_a_delivery_per_receiver_with_the_transition(user, endpoint, broker):
    job = running_job(user, webhook_url=JOB_HOOK_URL)

    assert transitions.fail_job(job.id, "Veo refused the prompt")

    [event] = Event.objects.all()
    assert (event.type, event.job_id, event.user_id) == (EventType.JOB_FAILED, job.id, user.id)
    deliveries = {(d.endpoint_id, d.url, d.status) for d in Delivery.objects.filter(event=event)}
    assert deliveries == {(endpoint.id, endpoint.url, "pending"), (None, JOB_HOOK_URL, "pending")}


def test_the_payload_is_thin_ids_status_credits_and_the_status_link_never_a_download_url(user, endpoint, broker):
    job = running_job(user)
    transitions.complete_job(job.id, final_uri="gs://bucket/final.mp4", duration_seconds=8.0)

    payload = Event.objects.get().payload
    assert payload["type"] == "job.completed" and payload["timestamp"].endswith("Z")
    assert payload["data"] == {"job_id": str(job.id), "product_id": job.product_id, "status": "completed",
                               "credits": VideoJob.objects.get(id=job.id).credits_used,
                               "links": {"status": f"http://testserver/api/video/status/{job.id}/"}}
    assert "gs://" not in json.dumps(payload) and "download" not in json.dumps(payload)


def test_a_cancelled_job_sends_job_cancelled(user, endpoint, broker):
    transitions.cancel_job_row(running_job(user).id)
    assert Event.objects.get().type == EventType.JOB_CANCELLED


def test_a_transition_rolled_back_leaves_no_event_and_no_delivery(user, endpoint, broker):
    job = running_job(user, webhook_url=JOB_HOOK_URL)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert transitions.fail_job(job.id, "boom")
        assert Event.objects.count() == 1  # written inside the transition's transaction...
        raise RuntimeError("the transaction fails after the transition")

    assert (Event.objects.count(), Delivery.objects.count()) == (0, 0)  # ...and gone with it
    assert VideoJob.objects.get(id=job.id).status == JobStatus.PROCESSING_VEO


def test_the_bells_ring_only_once_the_transition_commits(user, endpoint, broker,
                                                         django_capture_on_commit_callbacks):
    job = running_job(user, webhook_url=JOB_HOOK_URL)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        transitions.fail_job(job.id, "boom")
        assert broker.published == []
    for callback in pending:
        callback()
    assert sorted(broker.deliveries_rung()) == sorted(str(d.id) for d in Delivery.objects.all())
    assert {queue for *_rest, queue in broker.published} == {"webhooks"}  # their own queue, not the pipeline's


def test_a_second_final_transition_writes_nothing_more(user, endpoint, broker):
    job = running_job(user)
    assert transitions.fail_job(job.id, "boom")
    assert not transitions.cancel_job_row(job.id)
    assert Event.objects.count() == 1


def test_only_the_owners_enabled_subscribed_endpoints_receive_it(user, other_user, endpoint, broker):
    services.endpoint_create(user=other_user, url="http://others.example.com/hook")
    services.endpoint_create(user=user, url="http://only-credits.example.com/", events=["credits.low"])
    disabled = services.endpoint_create(user=user, url="http://off.example.com/")
    services.endpoint_update(disabled, enabled=False)

    transitions.fail_job(running_job(user).id, "boom")

    assert [d.endpoint_id for d in Delivery.objects.all()] == [endpoint.id]


def test_without_any_receiver_nothing_is_written(user, broker):
    transitions.fail_job(running_job(user).id, "boom")
    assert Event.objects.count() == 0


# --- credits.low: billing's signal, once per crossing ---------------------------------------------------------

@pytest.fixture
def low_threshold(settings):
    settings.CREDITS_LOW_THRESHOLD = 5


def adjust(user, credits: int, key: str) -> None:
    account = ledger.open_account(user)
    ledger.adjust(account.id, credits, reason="test", by=None, key=key)


def available(user) -> int:
    return ledger.open_account(user).available_credits


def test_credits_falling_below_the_threshold_send_credits_low_once_per_crossing(user, endpoint, broker,
                                                                               low_threshold):
    adjust(user, -(available(user) - 6), "down-to-6")
    assert Event.objects.count() == 0  # 6: not below 5

    adjust(user, -2, "down-to-4")
    adjust(user, -1, "down-to-3")  # still low: no second event
    [event] = Event.objects.all()
    assert event.type == EventType.CREDITS_LOW
    assert event.payload["data"] == {"available_credits": 4, "threshold": 5,
                                     "links": {"account": "http://testserver/api/account/"}}

    adjust(user, 10, "back-up")
    adjust(user, -10, "down-again")
    assert Event.objects.filter(type=EventType.CREDITS_LOW).count() == 2


def test_a_ledger_change_rolled_back_takes_its_credits_low_event_with_it(user, endpoint, broker, low_threshold):
    with pytest.raises(RuntimeError), transaction.atomic():
        adjust(user, -available(user), "all-of-it")
        assert Event.objects.count() == 1
        raise RuntimeError
    assert Event.objects.count() == 0
