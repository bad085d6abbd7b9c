"""Model instances from rows of hand-written or pre-built SQL, converted exactly as the ORM converts them.

The hottest reads (the account lock of every submit, billing/sql.py; the status poll, video_generation/job_reads.py)
run SQL built once per process instead of by the ORM on every call (sql_of); this is the one place that turns their
rows back into instances. Each column goes through its backend's and its field's own converters, kept per connection
(a backend's converters may be bound to it).
"""

from __future__ import annotations

import weakref

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection, connections

_converters_by_connection: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sql_of(queryset, expected_params: list) -> str:
    """The SQL the ORM builds for `queryset`, to be run later with other values in the same places. Built from
    sample values; refuses a query whose parameters are not exactly those samples in that order (the ORM added,
    dropped or folded one), which would bind a later call's values to the wrong places."""
    sql, params = queryset.query.sql_with_params()
    if list(params) != list(expected_params):
        raise ImproperlyConfigured(f"the query's parameters are not the expected ones: {params!r}")
    return sql


def in_model_order(model, columns) -> tuple[str, ...]:
    """The attnames of `columns` (all concrete fields when None) in the model's own order, as from_db takes them."""
    return tuple(field.attname for field in model._meta.concrete_fields if columns is None or field.attname in columns)


def instance_from_row(model, attnames: tuple[str, ...], values):
    """An instance of `model` as loaded from the database, from `values` of the columns `attnames` (model order);
    columns not given load lazily, as with the ORM's only()."""
    converted = []
    for value, (expression, functions) in zip(values, _converters(model, attnames), strict=True):
        for function in functions:
            value = function(value, expression, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


def _converters(model, attnames: tuple[str, ...]) -> list:
    per_connection = _converters_by_connection.setdefault(connections[DEFAULT_DB_ALIAS], {})
    key = (model, attnames)
    if key not in per_connection:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        per_connection[key] = [
            (expression, [*connection.ops.get_db_converters(expression), *fields[name].get_db_converters(connection)])
            for name in attnames for expression in [fields[name].get_col(model._meta.db_table)]]
    return per_connection[key]
