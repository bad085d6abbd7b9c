"""Every rest_framework.authtoken Token becomes a hashed key (its old string keeps working: it is found by its
hash), then the plaintext rows are deleted. The authtoken app is no longer installed, so its table is read with
SQL, if this database has one."""

import datetime

from django.db import migrations
from django.utils.dateparse import parse_datetime
from django.utils import timezone

from api_keys.keys import display_prefix, hash_key

LEGACY_TABLE = "authtoken_token"


def as_aware(created):
    """The raw column's value (a datetime, or text on SQLite) as an aware datetime; now if unreadable."""
    if isinstance(created, str):
        created = parse_datetime(created)
    if created is None:
        return timezone.now()
    return created if timezone.is_aware(created) else timezone.make_aware(created, datetime.UTC)


def import_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiKey = apps.get_model("api_keys", "ApiKey")
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {table}")
        rows = cursor.fetchall()
    for token, user_id, created in rows:
        # Never expiring and unrestricted, as the token was; named by 4 of its 40 hex characters.
        ApiKey.objects.get_or_create(key_hash=hash_key(token), defaults={
            "user_id": user_id, "name": "Migrated API token", "prefix": display_prefix(token), "scopes": [],
            "created_at": as_aware(created), "expires_at": None})
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # no secret stays in clear


class Migration(migrations.Migration):
    dependencies = [("api_keys", "0001_initial")]

    operations = [migrations.RunPython(import_tokens, migrations.RunPython.noop)]
