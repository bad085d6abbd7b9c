"""The statements of the ledger's hot path, written out once from the models' own fields instead of built by the ORM
for each call: the locked read of an account with its plan, the write of a balance change with its entry, and (on
PostgreSQL) a submit's whole hold in one statement.

A submit holds credits in the transaction that creates the job, so these run on the API's hottest path (the
generate benchmark, bench/generate.py). Values still go through each field's own conversion both ways, so what is
read and written is exactly what the ORM would read and write.
"""

from __future__ import annotations

from functools import cache

import psycopg
from django.db import connection

from video_saas.raw_rows import in_model_order, instance_from_row

from .models import LedgerEntry, Plan, UserProfile

ACCOUNT_COLUMNS = ("granted_credits", "purchased_credits", "held_credits", "jobs_in_progress", "updated_at")
# A first hold's entry: all its columns but the two the statement fills from the account row it updates.
HOLD_ENTRY_COLUMNS = ("kind", "amount", "granted_delta", "purchased_delta", "held_delta", "job", "payment_ref",
                      "idempotency_key", "memo", "created_by", "created_at")
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


def take_first_hold(*, user_id, credits: int, entry: LedgerEntry, now) -> UserProfile | None:
    """A new job's hold in one statement, on PostgreSQL: when the user's account is in a current period on a metered
    plan, has `credits` available and room for one more video in progress, its held credits and videos in progress
    go up and `entry` (a hold of `credits`; its balance_after is computed here, under the row lock) is inserted.
    Returns the account with its plan as it is after the change (its row locked until the transaction ends), or
    None when any condition failed and nothing changed: the caller takes the general path, which decides the same
    rules with the account locked and explains a refusal (ledger.hold_for_job)."""
    if connection.vendor != "postgresql":
        return None
    entry_values = _prepared(entry, HOLD_ENTRY_COLUMNS)
    with _planned_once_cursor() as cursor:
        cursor.execute(_first_hold_sql(), [credits, _prepared_now(now), user_id, _prepared_now(now), credits,
                                           *entry_values])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_attnames(UserProfile))
    account = instance_from_row(UserProfile, _attnames(UserProfile), row[:split])
    account.plan = instance_from_row(Plan, _attnames(Plan), row[split:-1])
    entry.account, entry.balance_after, entry.pk = account, account.available_credits, row[-1]
    entry._state.adding, entry._state.db = False, connection.alias
    return account


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


def _planned_once_cursor():
    """A cursor on Django's connection (its transaction, its query log, its error mapping) that sends the values
    apart from the SQL and prepares the statement, so that PostgreSQL plans it once per connection instead of on
    every submit: planning the hold's statement costs about as much as running it. (A pooler in transaction mode
    must support protocol-level prepared statements, e.g. PgBouncer >= 1.21 with max_prepared_statements.)"""
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


class _PreparingCursor(psycopg.Cursor):
    """Prepares what it runs: Django turns psycopg's automatic preparation off (prepare_threshold=None, so that
    poolers keep working) and its cursor wrapper passes no `prepare` argument through."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def _prepared_now(now):
    return UserProfile._meta.get_field("updated_at").get_db_prep_save(now, connection)


@cache
def _first_hold_sql() -> str:
    """Parameters: credits, now, user id, now, credits, then the entry's HOLD_ENTRY_COLUMNS."""
    account, plan = _quoted(UserProfile._meta.db_table), _quoted(Plan._meta.db_table)
    granted, purchased, held = (_column(UserProfile, n) for n in ("granted_credits", "purchased_credits",
                                                                   "held_credits"))
    in_progress = _column(UserProfile, "jobs_in_progress")
    available = f"{granted} + {purchased} - {held}"
    returning = ", ".join(_quoted(f.column) for f in _concrete_fields(UserProfile))
    plan_columns = ", ".join(f"{plan}.{_quoted(f.column)}" for f in _concrete_fields(Plan))
    entry_columns = ", ".join(_column(LedgerEntry, n) for n in ("account", "balance_after", *HOLD_ENTRY_COLUMNS))
    placeholders = ", ".join(["%s"] * len(HOLD_ENTRY_COLUMNS))
    # The room for one more video comes from the plan; an unlimited plan's NULL monthly credits make the
    # comparison NULL, so it never takes this path (it holds nothing).
    room = (f"(SELECT {plan}.{_column(Plan, 'max_jobs_in_flight')} FROM {plan} "
            f"WHERE {plan}.{_column(Plan, 'id')} = {account}.{_column(UserProfile, 'plan')} "
            f"AND {plan}.{_column(Plan, 'monthly_credits')} IS NOT NULL)")
    return (
        f"WITH changed AS (UPDATE {account} SET {held} = {held} + %s, {in_progress} = {in_progress} + 1, "
        f"{_column(UserProfile, 'updated_at')} = %s "
        f"WHERE {_column(UserProfile, 'user')} = %s AND {_column(UserProfile, 'period_end')} > %s "
        f"AND {available} >= %s AND {in_progress} < {room} RETURNING {returning}), "
        f"entry AS (INSERT INTO {_quoted(LedgerEntry._meta.db_table)} ({entry_columns}) "
        f"SELECT {_column(UserProfile, 'id')}, {available}, {placeholders} FROM changed "
        f"RETURNING {_column(LedgerEntry, 'id')}) "
        f"SELECT changed.*, {plan_columns}, entry.{_column(LedgerEntry, 'id')} FROM changed "
        f"INNER JOIN {plan} ON {plan}.{_column(Plan, 'id')} = changed.{_column(UserProfile, 'plan')} "
        f"CROSS JOIN entry"
    )
