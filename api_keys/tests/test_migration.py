"""Migration 0002: every rest_framework.authtoken token becomes a hashed key; the old string keeps working."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from rest_framework.test import APIClient

from api_keys import keys
from api_keys.models import ApiKey

pytestmark = pytest.mark.django_db
migration = importlib.import_module("api_keys.migrations.0002_import_authtoken_tokens")
OLD_TOKEN = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


def legacy_table_with(rows):
    """authtoken_token as rest_framework.authtoken created it (its app is no longer installed)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone "
                       "NOT NULL, user_id integer NOT NULL UNIQUE)" if connection.vendor == "postgresql" else
                       "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime NOT NULL, "
                       "user_id integer NOT NULL UNIQUE)")
        for key, user_id in rows:
            cursor.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                           [key, "2025-01-02 03:04:05+00:00", user_id])


def run_migration():
    # What RunPython's function uses of its schema editor (a real one cannot open inside a test's transaction
    # on SQLite).
    migration.import_tokens(apps, SimpleNamespace(connection=connection, quote_name=connection.ops.quote_name))


def legacy_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        return cursor.fetchone()[0]


def test_an_old_token_keeps_working_after_the_migration(user, other_user):
    legacy_table_with([(OLD_TOKEN, user.pk), ("a" * 40, other_user.pk)])

    run_migration()

    r = APIClient().get("/api/video/list_jobs/", HTTP_AUTHORIZATION=f"Token {OLD_TOKEN}")
    assert r.status_code == 200
    migrated = ApiKey.objects.get(user=user)
    assert (migrated.key_hash, migrated.prefix, migrated.scopes, migrated.expires_at) == \
        (keys.hash_key(OLD_TOKEN), "legacy_9944", [], None)
    assert migrated.created_at.year == 2025
    assert ApiKey.objects.get(user=other_user).key_hash == keys.hash_key("a" * 40)


def test_no_token_stays_in_clear(user):
    legacy_table_with([(OLD_TOKEN, user.pk)])

    run_migration()

    assert legacy_rows() == 0
    assert OLD_TOKEN not in str(list(ApiKey.objects.values()))


def test_running_it_twice_creates_nothing_twice(user):
    legacy_table_with([(OLD_TOKEN, user.pk)])
    run_migration()
    with connection.cursor() as cursor:  # as if a process still on the old code had written it again meanwhile
        cursor.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                       [OLD_TOKEN, "2025-01-02 03:04:05+00:00", user.pk])

    run_migration()

    assert ApiKey.objects.count() == 1


def test_a_database_that_never_had_tokens_migrates_cleanly():
    run_migration()  # no authtoken_token table at all

    assert ApiKey.objects.count() == 0


def test_an_old_token_can_be_revoked_like_any_key(user):
    legacy_table_with([(OLD_TOKEN, user.pk)])
    run_migration()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {OLD_TOKEN}")

    assert client.delete(f"/api/keys/{ApiKey.objects.get().pk}/").status_code == 204
    assert client.get("/api/video/list_jobs/").status_code == 401
