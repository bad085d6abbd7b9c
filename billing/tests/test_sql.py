"""The ledger's hand-written statements read and write exactly what the ORM would."""

from decimal import Decimal

import pytest
from django.db import transaction

from billing import ledger, sql
from billing.models import EntryKind, LedgerEntry, Plan, UserProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(django_user_model):
    user = django_user_model.objects.create_user(username="reader", password="pw-reader-123")
    plan = Plan.objects.create(code="odd", name="Odd plan", monthly_credits=7, price_usd=Decimal("12.34"),
                               max_scenes=3, max_jobs_in_flight=2, generate_rate_limit="9/hour",
                               allowed_qualities=["fast"], stripe_price_id="price_odd", sort_order=5)
    UserProfile.objects.filter(user=user).update(plan=plan, stripe_customer_id="cus_1", videos_this_month=4)
    return UserProfile.objects.select_related("plan").get(user=user)


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_locked_read_gives_the_account_and_its_plan_as_the_orm_reads_them(account):
    with transaction.atomic():
        by_user = sql.locked_account("user", account.user_id)
        by_id = sql.locked_account("id", account.id)
    assert fields_of(by_user) == fields_of(account) == fields_of(by_id)
    assert fields_of(by_user.plan) == fields_of(account.plan)
    assert by_user.plan.allowed_qualities == ["fast"] and by_user.plan.price_usd == Decimal("12.34")
    assert by_user.period_end.tzinfo is not None
    assert not by_user._state.adding  # a saved row: save() updates it
    by_user.videos_this_month = 5
    by_user.save(update_fields=["videos_this_month"])
    assert UserProfile.objects.get(id=account.id).videos_this_month == 5


def test_an_account_that_does_not_exist_reads_as_none(account):
    with transaction.atomic():
        assert sql.locked_account("user", account.user_id + 1000) is None
        with pytest.raises(UserProfile.DoesNotExist):
            ledger.locked(account.id + 1000)


def test_the_write_stores_the_balances_and_the_entry_as_the_orm_reads_them_back(account):
    with transaction.atomic():
        locked = ledger.locked(account.id)
        entry = ledger.post(locked, EntryKind.ADJUST, ledger.Change(purchased=11), key="sql:write", memo="why")
    stored = LedgerEntry.objects.get(idempotency_key="sql:write")
    assert entry.pk == stored.pk and not entry._state.adding
    assert fields_of(stored) == fields_of(entry)
    assert (stored.amount, stored.balance_after, stored.purchased_delta) == (11, account.available_credits + 11, 11)
    fresh = UserProfile.objects.get(id=account.id)
    assert fresh.purchased_credits == account.purchased_credits + 11
    assert fresh.updated_at == locked.updated_at > account.updated_at
