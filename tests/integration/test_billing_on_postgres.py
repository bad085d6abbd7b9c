"""The ledger under real concurrency (PostgreSQL row locks): many submits against one balance, and a completion
racing a cancellation."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from billing.models import EntryKind, LedgerEntry, UserProfile
from devstack.briefs import headphones_brief
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import create_job, dispatch
from video_generation.pipeline.transitions import cancel_job_row, complete_job
from video_generation.serializers import VideoGenerationRequestSerializer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _quiet_broker(monkeypatch, settings):
    settings.GENERATE_RATE_LIMIT = "1000/hour"
    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


def race(targets) -> None:
    barrier = threading.Barrier(len(targets))

    def run(target):
        barrier.wait()
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def assert_balanced(user) -> UserProfile:
    account = UserProfile.objects.get(user=user)
    totals = LedgerEntry.objects.filter(account=account).aggregate(amount=Sum("amount"), held=Sum("held_delta"))
    assert totals["amount"] == account.available_credits >= 0
    assert totals["held"] == account.held_credits
    return account


def test_twelve_concurrent_submits_by_a_free_user_spend_each_credit_once(user):
    brief = headphones_brief("https://cdn.example.com/headphones.jpg")  # 3 credits; the free plan has 15
    answers = []

    def submit():
        client = APIClient()
        client.force_authenticate(user)
        response = client.post("/api/video/generate/", brief, format="json")
        answers.append((response.status_code, response.json()))

    race([submit] * 12)
    codes = sorted(code for code, _ in answers)
    assert codes.count(202) == 5 and codes.count(402) == 7, codes
    assert all(body == {"error": "Insufficient credits", "required": 3, "available": 0}
               for code, body in answers if code == 402)
    assert VideoJob.objects.filter(user=user).count() == 5
    account = assert_balanced(user)
    assert (account.available_credits, account.held_credits) == (0, 15)


def test_a_completion_racing_a_cancellation_either_charges_or_releases(user):
    data = VideoGenerationRequestSerializer(data=headphones_brief("https://cdn.example.com/headphones.jpg"))
    data.is_valid(raise_exception=True)
    for _ in range(5):
        job = create_job(user=user, data=data.validated_data)
        race([lambda job_id=job.id: complete_job(job_id, final_uri="gs://b/final.mp4", duration_seconds=22.0),
              lambda job_id=job.id: cancel_job_row(job_id)])
        job.refresh_from_db()
        kinds = sorted(LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True))
        if job.status == JobStatus.COMPLETED:
            assert kinds == [EntryKind.CAPTURE, EntryKind.HOLD, EntryKind.RELEASE]
        else:
            assert job.status == JobStatus.CANCELLED
            assert kinds == [EntryKind.HOLD, EntryKind.RELEASE]
    account = assert_balanced(user)
    assert account.held_credits == 0
    completed = VideoJob.objects.filter(user=user, status=JobStatus.COMPLETED).count()
    assert account.available_credits == 15 - 3 * completed
