from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing import ledger
from billing.models import EntryKind, LedgerEntry, UserProfile
from billing.plans import plan_named
from video_generation.models import JobStatus
from video_generation.pipeline import cancel_job, create_job, retry_job
from video_generation.pipeline.signals import JobRefused
from video_generation.pipeline.transitions import complete_job, fail_job

pytestmark = pytest.mark.django_db


def account_of(user) -> UserProfile:
    return UserProfile.objects.select_related("plan").get(user=user)


def assert_balanced(account: UserProfile) -> None:
    """The entries sum to the balances, bucket by bucket, and every entry's balance_after is a running total."""
    entries = LedgerEntry.objects.filter(account=account).order_by("id")
    totals = entries.aggregate(amount=Sum("amount"), granted=Sum("granted_delta"), purchased=Sum("purchased_delta"),
                               held=Sum("held_delta"))
    account.refresh_from_db()
    assert (totals["amount"] or 0) == account.available_credits
    assert (totals["granted"] or 0) == account.granted_credits
    assert (totals["purchased"] or 0) == account.purchased_credits
    assert (totals["held"] or 0) == account.held_credits
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running


def set_plan(user, code: str) -> None:
    UserProfile.objects.filter(user=user).update(plan=plan_named(code))


def test_a_new_user_is_on_the_free_plan_with_its_monthly_credits(user):
    account = account_of(user)
    assert account.plan.code == "free"
    assert (account.granted_credits, account.purchased_credits, account.held_credits) == (15, 0, 0)
    [grant] = LedgerEntry.objects.filter(account=account)
    assert (grant.kind, grant.amount, grant.balance_after) == (EntryKind.GRANT, 15, 15)
    assert account.period_end == ledger.add_months(account.period_start)


def test_accepting_a_job_holds_its_quoted_credits_in_the_same_transaction(user, job_data):
    job = create_job(user=user, data=job_data)
    account = account_of(user)
    assert (account.available_credits, account.held_credits) == (12, 3)
    hold = LedgerEntry.objects.get(job_id=job.id)
    assert (hold.kind, hold.amount, hold.held_delta, hold.balance_after) == (EntryKind.HOLD, -3, 3, 12)
    assert job.quote["credits"] == 3
    assert_balanced(account)


def test_too_few_credits_refuses_the_job_with_402_and_creates_nothing(user, job_data):
    for _ in range(5):
        create_job(user=user, data=job_data)
    with pytest.raises(JobRefused) as refused:
        create_job(user=user, data=job_data)
    assert refused.value.status_code == 402
    assert refused.value.body == {"error": "Insufficient credits", "required": 3, "available": 0}
    assert user.video_jobs.count() == 5
    assert LedgerEntry.objects.filter(kind=EntryKind.HOLD).count() == 5


def test_a_completed_video_is_charged_its_real_length_and_the_rest_released(user, job_data):
    job = create_job(user=user, data=job_data)
    assert complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=15.2)  # 2 credits, 3 held
    kinds = list(LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", "amount"))
    assert kinds == [("hold", -3), ("release", 3), ("capture", -2)]
    account = account_of(user)
    assert (account.available_credits, account.held_credits, account.videos_this_month) == (13, 0, 1)
    job.refresh_from_db()
    assert (job.credits_used, job.duration_seconds) == (2, 15.2)
    assert_balanced(account)


def test_a_video_longer_than_its_quote_is_charged_the_quote(user, job_data):
    job = create_job(user=user, data=job_data)
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=40.0)  # 5 credits of video, 3 quoted
    job.refresh_from_db()
    assert job.credits_used == 3
    assert account_of(user).available_credits == 12


@pytest.mark.parametrize("end", ["fail", "safety block", "cancel"])
def test_a_video_not_delivered_costs_nothing(user, job_data, end):
    job = create_job(user=user, data=job_data)
    if end == "cancel":
        assert cancel_job(job)
    else:
        reason = "B-roll generation failed at Google Veo: the safety filter blocked the video" \
            if end == "safety block" else "Presenter render failed at HeyGen: avatar render failed"
        assert fail_job(job.id, reason)
    assert list(LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", "amount")) == \
        [("hold", -3), ("release", 3)]
    account = account_of(user)
    assert (account.available_credits, account.held_credits, account.videos_this_month) == (15, 0, 0)
    assert_balanced(account)


def test_a_final_state_is_settled_once_however_often_it_is_reported(user, job_data):
    job = create_job(user=user, data=job_data)
    assert complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    assert not complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    assert not fail_job(job.id, "late failure")
    assert not cancel_job(job)
    ledger.settle_job(job.id, JobStatus.COMPLETED, 3)  # a repeated hook posts nothing new: the keys are taken
    assert LedgerEntry.objects.filter(job_id=job.id).count() == 3
    assert account_of(user).available_credits == 12


def test_an_admin_retry_holds_again_and_is_refused_without_credits(user, job_data):
    job = create_job(user=user, data=job_data)
    fail_job(job.id, "Presenter render failed at HeyGen: boom")
    assert retry_job(job)
    assert list(LedgerEntry.objects.filter(job_id=job.id).order_by("id").values_list("kind", flat=True)) == \
        ["hold", "release", "hold"]
    assert account_of(user).held_credits == 3
    fail_job(job.id, "Presenter render failed at HeyGen: boom again")
    ledger.adjust(account_of(user).id, -15, reason="test: spend it all", by=None, key="adjust:spend")
    with pytest.raises(JobRefused) as refused:
        retry_job(job)
    assert refused.value.status_code == 402
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED  # the refusal rolled the retry back
    assert_balanced(account_of(user))


def test_enterprise_holds_nothing_but_counts_the_video(user, job_data):
    set_plan(user, "enterprise")
    job = create_job(user=user, data=job_data)
    assert not LedgerEntry.objects.filter(job_id=job.id).exists()
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    account = account_of(user)
    assert account.videos_this_month == 1
    job.refresh_from_db()
    assert job.credits_used == 3  # usage is still recorded on the job
    assert_balanced(account)


def test_the_plan_limits_videos_in_progress(user, job_data):
    set_plan(user, "pro")
    plan = plan_named("pro")
    plan.max_jobs_in_flight = 2
    plan.save()
    create_job(user=user, data=job_data)
    second = create_job(user=user, data=job_data)
    with pytest.raises(JobRefused) as refused:
        create_job(user=user, data=job_data)
    assert (refused.value.status_code, refused.value.body) == (429, {"error": "Too many videos in progress",
                                                                      "limit": 2})
    cancel_job(second)
    create_job(user=user, data=job_data)  # a finished job frees its place


def test_capture_spends_granted_credits_before_purchased_ones(user, job_data):
    account = account_of(user)
    ledger.purchase(account.id, 50, key="purchase:cs_1", payment_ref="cs_1")
    ledger.adjust(account.id, -13, reason="test", by=None, key="adjust:1")  # purchased first: 37 left, 15 granted
    job = create_job(user=user, data=job_data)
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    account.refresh_from_db()
    assert (account.granted_credits, account.purchased_credits) == (12, 37)
    assert_balanced(account)


def test_the_period_rolls_over_once_expiring_the_unused_grant_but_not_held_credits(user, job_data):
    account = account_of(user)
    ledger.purchase(account.id, 10, key="purchase:cs_2", payment_ref="cs_2")
    create_job(user=user, data=job_data)  # 3 held
    old_end = account.period_end
    later = old_end + timedelta(minutes=1)
    assert ledger.roll_over(account.id, now=later)
    assert not ledger.roll_over(account.id, now=later)  # idempotent
    account.refresh_from_db()
    expired = LedgerEntry.objects.get(account=account, kind=EntryKind.EXPIRE)
    assert expired.amount == -12  # 15 granted - 3 held
    assert (account.granted_credits, account.purchased_credits, account.held_credits) == (3 + 15, 10, 3)
    assert (account.period_start, account.period_end) == (old_end, ledger.add_months(old_end))
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.GRANT).count() == 2
    assert_balanced(account)


def test_missed_periods_are_rolled_over_to_the_current_one_with_one_grant(user):
    account = account_of(user)
    much_later = account.period_end + timedelta(days=100)
    ledger.roll_over(account.id, now=much_later)
    account.refresh_from_db()
    assert account.period_start <= much_later < account.period_end
    assert LedgerEntry.objects.filter(account=account, kind=EntryKind.GRANT).count() == 2
    assert account.granted_credits == 15


def test_the_beat_task_rolls_over_only_accounts_whose_period_ended(user, other_user):
    mine = account_of(user)
    UserProfile.objects.filter(id=mine.id).update(period_end=timezone.now() - timedelta(seconds=1))
    assert ledger.roll_over_due() == 1
    assert LedgerEntry.objects.filter(account__user=other_user, kind=EntryKind.GRANT).count() == 1


@pytest.mark.parametrize(("start", "months", "expected"), [
    (datetime(2026, 1, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
    (datetime(2028, 1, 31, 9, tzinfo=UTC), 1, datetime(2028, 2, 29, 9, tzinfo=UTC)),
    (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
    (datetime(2026, 3, 31, tzinfo=UTC), -1, datetime(2026, 2, 28, tzinfo=UTC)),
])
def test_a_period_is_a_calendar_month(start, months, expected):
    assert ledger.add_months(start, months) == expected


def test_an_adjustment_needs_a_reason_and_cannot_take_more_than_is_available(user, job_data):
    account = account_of(user)
    with pytest.raises(ValueError):
        ledger.adjust(account.id, 5, reason="  ", by=None, key="adjust:x")
    create_job(user=user, data=job_data)
    with pytest.raises(ledger.InsufficientCredits):
        ledger.adjust(account.id, -13, reason="too much", by=None, key="adjust:y")  # 12 available
    entry = ledger.adjust(account.id, -12, reason="all that is free", by=None, key="adjust:z")
    assert entry.balance_after == 0
    assert ledger.adjust(account.id, -12, reason="again", by=None, key="adjust:z") == entry  # the key posts once
    assert_balanced(account)


def test_ledger_entries_cannot_be_changed_or_deleted(user):
    entry = LedgerEntry.objects.get(account__user=user)
    entry.memo = "rewritten"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(id=entry.id).update(amount=1000)
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(id=entry.id).delete()


def test_the_database_refuses_a_balance_below_what_is_held(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        UserProfile.objects.filter(user=user).update(held_credits=16)


def test_a_paid_invoice_starts_the_period_and_grants_once(user):
    account = account_of(user)
    start = account.period_end
    end = ledger.add_months(start)
    pro = plan_named("pro")
    for _ in range(2):
        ledger.start_paid_period(account.id, plan=pro, period_start=start, period_end=end, subscription_id="sub_1",
                                 invoice_id="in_1")
    account.refresh_from_db()
    assert (account.plan.code, account.stripe_subscription_id, account.period_start, account.period_end) == \
        ("pro", "sub_1", start, end)
    assert account.granted_credits == 150  # the free grant expired, the pro grant once
    assert_balanced(account)
    assert ledger.end_subscription(account.id, subscription_id="sub_other") is False
    assert ledger.end_subscription(account.id, subscription_id="sub_1") is True
    account.refresh_from_db()
    assert (account.plan.code, account.stripe_subscription_id, account.granted_credits) == ("free", "", 150)


def test_a_delivered_video_can_be_refunded_once(user, job_data, admin_user):
    job = create_job(user=user, data=job_data)
    with pytest.raises(ValueError):
        ledger.refund_job(job, reason="not charged yet", by=admin_user)
    complete_job(job.id, final_uri="gs://b/final.mp4", duration_seconds=22.0)
    refund = ledger.refund_job(job, reason="the presenter froze", by=admin_user)
    assert (refund.kind, refund.amount, refund.created_by) == (EntryKind.REFUND, 3, admin_user)
    assert ledger.refund_job(job, reason="again", by=admin_user) == refund
    assert account_of(user).available_credits == 15
    assert_balanced(account_of(user))


def test_the_migration_counts_each_users_jobs_in_progress(user, other_user, job_data):
    import importlib

    from django.apps import apps

    for _ in range(3):
        create_job(user=user, data=job_data)
    cancel_job(user.video_jobs.first())
    UserProfile.objects.update(jobs_in_progress=0)
    importlib.import_module("billing.migrations.0003_jobs_in_progress").count_jobs_in_progress(apps, None)
    assert (account_of(user).jobs_in_progress, account_of(other_user).jobs_in_progress) == (2, 0)


def test_subscribing_in_the_first_second_replaces_the_free_grant(user):
    """An invoice whose period starts when the account's does still replaces the grant before it."""
    account = account_of(user)
    pro = plan_named("pro")
    ledger.start_paid_period(account.id, plan=pro, period_start=account.period_start,
                             period_end=ledger.add_months(account.period_start), subscription_id="sub_2",
                             invoice_id="in_2")
    account.refresh_from_db()
    assert account.granted_credits == 150
    assert_balanced(account)
