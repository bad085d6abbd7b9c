"""The admin shows endpoints (never their secrets), events, deliveries and their read-only attempts, and replays."""

import pytest

from video_generation.pipeline import transitions
from webhooks import delivery
from webhooks.models import Delivery, Endpoint
from webhooks.tests.conftest import running_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempted(user, endpoint, receiver, broker):
    transitions.fail_job(running_job(user).id, "boom")
    sent = Delivery.objects.get()
    delivery.attempt(sent.id)
    return sent


def test_an_endpoint_is_shown_without_its_secret_and_with_why_it_was_disabled(admin_client, endpoint):
    Endpoint.objects.filter(id=endpoint.id).update(disabled_reason="The endpoint answered 410 Gone.")
    listing = admin_client.get("/admin/webhooks/endpoint/")
    page = admin_client.get(f"/admin/webhooks/endpoint/{endpoint.id}/change/")
    assert listing.status_code == page.status_code == 200
    assert b"410 Gone" in listing.content
    assert endpoint.secret.encode() not in listing.content + page.content


def test_a_delivery_page_shows_its_attempts_read_only(admin_client, attempted):
    page = admin_client.get(f"/admin/webhooks/delivery/{attempted.id}/change/")
    assert page.status_code == 200
    assert b"succeeded" in page.content and b"attempts-0-status_code" not in page.content  # no attempt inputs
    assert admin_client.get(f"/admin/webhooks/event/{attempted.event_id}/change/").status_code == 200


def test_the_replay_action_makes_a_new_delivery(admin_client, attempted):
    admin_client.post("/admin/webhooks/delivery/", {"action": "replay", "_selected_action": [str(attempted.id)]})
    assert Delivery.objects.filter(replay_of=attempted).count() == 1
