"""The two statements every submit runs, written out once from the models' own fields instead of built by the ORM
for each call: the locked read of an account with its plan, and the write of a balance change with its entry.

A submit holds credits in the transaction that creates the job, so these run on the API's hottest path (the
generate benchmark, bench/generate.py). Values still go through each field's own conversion both ways, so what is
read and written is exactly what the ORM would read and write.
"""

from __future__ import annotations

from functools import cache

from django.db import connection

from video_saas.raw_rows import in_model_order, instance_from_row

from .models import LedgerEntry, Plan, UserProfile

ACCOUNT_COLUMNS = ("granted_credits", "purchased_credits", "held_credits", "jobs_in_progress", "updated_at")
ENTRY_COLUMNS = ("account", "kind", "amount", "balance_after", "granted_delta", "purchased_delta", "held_delta",
                 "job", "payment_ref", "idempotency_key", "memo", "created_by", "created_at")


def locked_account(where: str, value) -> UserProfile | None:
    """The account whose `where` column (`id` or `user_id`) is `value`, with its plan, the account's row locked
    until the transaction ends (the plan's is not: locking it would make every account on the plan wait)."""
    with connection.cursor() as cursor:
        cursor.execute(_locked_read_sql(connection.vendor, where), [value])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_attnames(UserProfile))
    account = instance_from_row(UserProfile, _attnames(UserProfile), row[:split])
    account.plan = instance_from_row(Plan, _attnames(Plan), row[split:])
    return account


def write(account: UserProfile, entry: LedgerEntry) -> None:
    """Store the account's new balances and insert `entry` (its id is set): one statement on PostgreSQL."""
    account_values = [*_prepared(account, ACCOUNT_COLUMNS), account.pk]
    entry_values = _prepared(entry, ENTRY_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_combined_write_sql(), [*account_values, *entry_values])
        else:
            update, insert = _write_sql(connection.vendor)
            cursor.execute(update, account_values)
            cursor.execute(insert, entry_values)
        entry.pk = cursor.fetchone()[0]
    entry._state.adding, entry._state.db = False, connection.alias


# --- Building the statements (once per process) ------------------------------------------------------------------

def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model, name: str) -> str:
    return _quoted(model._meta.get_field(name).column)


@cache
def _concrete_fields(model) -> tuple:
    return tuple(model._meta.concrete_fields)


@cache
def _attnames(model) -> tuple[str, ...]:
    return in_model_order(model, None)


@cache
def _locked_read_sql(vendor: str, where: str) -> str:
    account, plan = _quoted(UserProfile._meta.db_table), _quoted(Plan._meta.db_table)
    columns = [f"{account}.{_quoted(f.column)}" for f in _concrete_fields(UserProfile)]
    columns += [f"{plan}.{_quoted(f.column)}" for f in _concrete_fields(Plan)]
    lock = f" FOR UPDATE OF {account}" if connection.features.has_select_for_update_of else ""
    return (f"SELECT {', '.join(columns)} FROM {account} INNER JOIN {plan} "
            f"ON {plan}.{_column(Plan, 'id')} = {account}.{_column(UserProfile, 'plan')} "
            f"WHERE {account}.{_column(UserProfile, where)} = %s{lock}")


@cache
def _write_sql(vendor: str) -> tuple[str, str]:
    assignments = ", ".join(f"{_column(UserProfile, name)} = %s" for name in ACCOUNT_COLUMNS)
    update = (f"UPDATE {_quoted(UserProfile._meta.db_table)} SET {assignments} "
              f"WHERE {_column(UserProfile, 'id')} = %s")
    columns = ", ".join(_column(LedgerEntry, name) for name in ENTRY_COLUMNS)
    placeholders = ", ".join(["%s"] * len(ENTRY_COLUMNS))
    insert = (f"INSERT INTO {_quoted(LedgerEntry._meta.db_table)} ({columns}) VALUES ({placeholders}) "
              f"RETURNING {_column(LedgerEntry, 'id')}")
    return update, insert


@cache
def _combined_write_sql() -> str:
    """PostgreSQL runs a data-modifying WITH in the same snapshot as the statement around it: one round trip."""
    update, insert = _write_sql("postgresql")
    return f"WITH balance AS ({update}) {insert}"


def _prepared(instance, names) -> list:
    fields = [instance._meta.get_field(name) for name in names]
    return [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
