"""An endpoint's signing secret is stored encrypted: the database alone does not reveal it, deliveries still sign
with it, and rotating SECRET_KEY keeps every endpoint working."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from webhooks import services
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def stored_columns(endpoint_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_endpoint WHERE id = %s", [endpoint_id.hex
                       if connection.vendor == "sqlite" else endpoint_id])
        return cursor.fetchone()


@pytest.fixture
def endpoint(user):
    return services.endpoint_create(user=user, url="https://hooks.example.com/receive", events=["job.completed"])


def test_the_database_holds_no_secret_in_the_clear(endpoint):
    services.endpoint_rotate_secret(endpoint)
    endpoint.refresh_from_db()
    stored_secret, stored_previous = stored_columns(endpoint.id)
    assert endpoint.secret.startswith("whsec_") and endpoint.previous_secret.startswith("whsec_")
    assert endpoint.secret not in stored_secret and endpoint.previous_secret not in stored_previous
    assert endpoint.secret[6:] not in stored_secret  # not even the key bytes' base64


def test_a_reloaded_endpoint_has_the_secret_that_was_shown_once(endpoint):
    assert Endpoint.objects.get(id=endpoint.id).secret == endpoint.secret


def test_rotating_secret_key_and_reencrypting_keeps_every_secret(endpoint, settings):
    shown = endpoint.secret
    before = stored_columns(endpoint.id)[0]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "x" * 50
    assert Endpoint.objects.get(id=endpoint.id).secret == shown  # opens under the fallback

    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "Re-encrypted 1 row(s)" in out.getvalue()
    settings.SECRET_KEY_FALLBACKS = []
    assert stored_columns(endpoint.id)[0] != before
    assert Endpoint.objects.get(id=endpoint.id).secret == shown  # opens under the new key alone
