"""A new job's hold taken in one statement (PostgreSQL) decides exactly as the general path does: whatever it
accepts, the general path accepts with the same balances and entry; whatever the general path refuses, it declines
(and the general path then explains the refusal)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing import ledger, sql
from billing.models import EntryKind, LedgerEntry, Plan, UserProfile
from video_generation.tests.factories import make_job

pytestmark = [pytest.mark.django_db, pytest.mark.services]


class RolledBack(Exception):
    pass


@pytest.fixture
def account(django_user_model):
    user = django_user_model.objects.create_user(username="holder", password="pw-holder-123")
    return UserProfile.objects.select_related("plan").get(user=user)


def set_state(account, *, granted, purchased, held, in_progress, max_in_flight, unlimited, period_ended):
    plan = Plan.objects.create(code=f"p{Plan.objects.count()}", name="P", max_jobs_in_flight=max_in_flight,
                               monthly_credits=None if unlimited else 10, price_usd=Decimal("1"))
    now = timezone.now()
    UserProfile.objects.filter(id=account.id).update(
        plan=plan, granted_credits=granted, purchased_credits=purchased, held_credits=held,
        jobs_in_progress=in_progress, period_start=now - timedelta(days=10),
        period_end=now - timedelta(seconds=1) if period_ended else now + timedelta(days=20))


def outcome_of(attempt):
    """(accepted?, account balances after, the job's hold entries) of `attempt()`, all rolled back afterwards."""
    try:
        with transaction.atomic():
            try:
                accepted = attempt()
            except (ledger.InsufficientCredits, ledger.LimitReached):
                accepted = False
            row = UserProfile.objects.values("granted_credits", "purchased_credits", "held_credits",
                                             "jobs_in_progress").get(id=ACCOUNT["id"])
            entries = list(LedgerEntry.objects.filter(kind=EntryKind.HOLD, job_id=ACCOUNT["job"]).values(
                "amount", "balance_after", "held_delta", "granted_delta", "purchased_delta", "idempotency_key",
                "memo"))
            raise RolledBack((accepted, row, entries))
    except RolledBack as done:
        return done.args[0]


ACCOUNT = {}

states = st.fixed_dictionaries({
    "granted": st.integers(0, 20), "purchased": st.integers(0, 20), "held": st.integers(0, 40),
    "in_progress": st.integers(0, 6), "max_in_flight": st.integers(0, 6), "unlimited": st.booleans(),
    "period_ended": st.booleans(),
}).filter(lambda s: s["held"] <= s["granted"] + s["purchased"])


@hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states, credits=st.integers(1, 12))
def test_the_one_statement_hold_agrees_with_the_general_path(account, state, credits):
    with transaction.atomic():
        set_state(account, **state)
        job = make_job(account.user)
        ACCOUNT.update(id=account.id, job=job.id)

        def one_statement():
            now = timezone.now()
            entry = LedgerEntry(kind=EntryKind.HOLD, amount=-credits, held_delta=credits, job_id=job.id,
                                idempotency_key=ledger.hold_key(job.id, 1), memo=ledger.hold_memo(credits),
                                created_at=now)
            return sql.take_first_hold(user_id=account.user_id, credits=credits, entry=entry, now=now) is not None

        def general_path():
            return ledger.hold_for_job(job, credits, retry=True) is not None  # retry: never the one statement

        fast, general = outcome_of(one_statement), outcome_of(general_path)
        if fast[0]:
            assert general[0] and not state["period_ended"]
            assert fast == general  # same balances, same entry
        if not general[0] and not state["unlimited"]:
            assert not fast[0]
        transaction.set_rollback(True)


def test_a_submit_takes_its_hold_in_one_statement_after_the_job_insert(account, django_assert_num_queries):
    set_state(account, granted=100, purchased=0, held=0, in_progress=0, max_in_flight=5, unlimited=False,
              period_ended=False)  # far above the low-credits threshold: no credits.low event to write
    job = make_job(account.user)
    with transaction.atomic(), django_assert_num_queries(1):
        entry = ledger.hold_for_job(job, 3)
    assert (entry.kind, entry.amount, entry.held_delta, entry.balance_after) == (EntryKind.HOLD, -3, 3, 97)
    stored = LedgerEntry.objects.get(id=entry.id)
    assert (stored.account_id, stored.job_id, stored.balance_after, stored.idempotency_key) == \
        (account.id, job.id, 97, f"hold:{job.id}:1")
    assert UserProfile.objects.values_list("held_credits", "jobs_in_progress").get(id=account.id) == (3, 1)


def test_a_plan_refusal_after_the_one_statement_hold_undoes_it_with_the_job(account):
    set_state(account, granted=10, purchased=0, held=0, in_progress=0, max_in_flight=5, unlimited=False,
              period_ended=False)
    Plan.objects.filter(profiles__id=account.id).update(max_scenes=1)
    job = make_job(account.user, scenes_data=[{"description": "one"}, {"description": "two"}])
    with pytest.raises(ledger.PlanRefusal), transaction.atomic():
        ledger.hold_for_job(job, 3)
    assert UserProfile.objects.values_list("held_credits", "jobs_in_progress").get(id=account.id) == (0, 0)
    assert not LedgerEntry.objects.filter(job_id=job.id).exists()


def test_the_hold_statement_is_prepared_once_and_reused_by_the_connection(account):
    from django.db import connection

    set_state(account, granted=100, purchased=0, held=0, in_progress=0, max_in_flight=5, unlimited=False,
              period_ended=False)
    for _ in range(3):
        with transaction.atomic():
            ledger.hold_for_job(make_job(account.user), 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE 'WITH changed AS (UPDATE%%'")
        assert cursor.fetchall() == [(3,)]  # one prepared statement, run three times
    assert UserProfile.objects.values_list("held_credits", flat=True).get(id=account.id) == 9
