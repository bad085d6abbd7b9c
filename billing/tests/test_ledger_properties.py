"""Whatever happens to a user's jobs, in whatever order, the ledger stays true: a property test."""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import ledger
from billing.models import EntryKind, LedgerEntry, UserProfile
from billing.tests.conftest import validated
from devstack.briefs import headphones_brief
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import JobRefused, cancel_job, create_job, retry_job
from video_generation.pipeline.states import ACTIVE_STATUSES
from video_generation.pipeline.transitions import complete_job, fail_job

pytestmark = pytest.mark.django_db

BRIEFS = [validated(headphones_brief("https://cdn.example.com/p.jpg", scenes=n)) for n in (1, 3, 5)]
_users = itertools.count()

operations = st.lists(st.one_of(
    st.tuples(st.just("submit"), st.integers(0, len(BRIEFS) - 1)),
    st.tuples(st.sampled_from(["complete", "fail", "safety_block", "cancel", "retry"]), st.integers(0, 7)),
    st.tuples(st.just("complete_at"), st.integers(0, 7), st.floats(0.5, 60.0)),
    st.tuples(st.just("rollover")),
), max_size=25)


def apply(user, jobs: list, operation: tuple) -> None:
    name, *args = operation
    if name == "submit":
        try:
            jobs.append(create_job(user=user, data=BRIEFS[args[0]]))
        except JobRefused as refused:
            assert refused.status_code in (402, 429)
        return
    if name == "rollover":
        account = UserProfile.objects.get(user=user)
        ledger.roll_over(account.id, now=account.period_end + timedelta(seconds=1))
        return
    if not jobs:
        return
    job = jobs[args[0] % len(jobs)]
    if name in ("complete", "complete_at"):
        complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=args[1] if len(args) > 1 else 22.0)
    elif name == "fail":
        fail_job(job.id, "Presenter render failed at HeyGen: avatar render failed")
    elif name == "safety_block":
        fail_job(job.id, "B-roll generation (scene 1) failed at Google Veo: the safety filter blocked the video")
    elif name == "cancel":
        cancel_job(job)
    elif name == "retry":
        try:
            retry_job(job)
        except JobRefused as refused:
            assert refused.status_code in (402, 429)


def check(user) -> None:
    account = UserProfile.objects.get(user=user)
    entries = LedgerEntry.objects.filter(account=account)
    totals = entries.aggregate(amount=Sum("amount"), granted=Sum("granted_delta"), purchased=Sum("purchased_delta"),
                               held=Sum("held_delta"))
    assert totals["amount"] == account.available_credits
    assert (totals["granted"], totals["purchased"] or 0, totals["held"] or 0) == \
        (account.granted_credits, account.purchased_credits, account.held_credits)
    assert min(account.granted_credits, account.purchased_credits, account.held_credits,
               account.available_credits) >= 0
    assert all(entry.balance_after >= 0 for entry in entries)
    assert account.jobs_in_progress == VideoJob.objects.filter(user=user, status__in=ACTIVE_STATUSES).count()
    for job in VideoJob.objects.filter(user=user):
        mine = entries.filter(job_id=job.id)
        held = mine.aggregate(total=Sum("held_delta"))["total"] or 0
        captured = -(mine.filter(kind=EntryKind.CAPTURE).aggregate(total=Sum("amount"))["total"] or 0)
        if job.is_terminal:
            assert held == 0, f"{job.status} job still holds {held}"
        else:
            assert held == job.quote["credits"]
        if job.status == JobStatus.COMPLETED:
            assert captured == job.credits_used <= job.quote["credits"]
        else:
            assert captured == 0, f"a {job.status} job was charged"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(operations)
def test_the_ledger_balances_after_any_sequence_of_job_events(monkeypatch, sequence):
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)
    user = get_user_model().objects.create_user(username=f"prop-{next(_users)}")
    jobs: list = []
    for operation in sequence:
        apply(user, jobs, operation)
        check(user)
