"""The Developers page's webhooks: endpoints added with the API's URL rules, their events edited, the signing secret
shown once (and again once after a rotation), test events, deletion, and the delivery log with replay; another
user's endpoint or delivery is the 404 page on every action."""

from __future__ import annotations

import logging
import re
import secrets
import uuid

import pytest
from django.utils import timezone

from webhooks import services
from webhooks.models import Attempt, AttemptOutcome, Delivery, Endpoint
from webhooks.tests.conftest import broker  # noqa: F401  (records the bells instead of publishing them)

pytestmark = pytest.mark.django_db

PAGE = "/developers/"
ADD = "/developers/webhooks/"
DELIVERIES = "/developers/webhooks/deliveries/"
URL = "https://hooks.example.com/receive"
ALL_EVENTS = ["job.completed", "job.failed", "job.cancelled", "credits.low"]
SECRET_INPUT = re.compile(r'<input id="new-webhook-secret"[^>]*value="([^"]+)"')


def once() -> str:
    return secrets.token_urlsafe(24)


def post(client, path, token=None, *, follow=False, **fields):
    return client.post(path, {"once": token or once(), **fields}, follow=follow)


def add(client, **fields):
    return post(client, ADD, **{"url": URL, "events": ALL_EVENTS, **fields})


def endpoint_path(endpoint, action=""):
    return f"/developers/webhooks/endpoints/{endpoint.id}/{action + '/' if action else ''}"


@pytest.fixture
def endpoint(user):
    return services.endpoint_create(user=user, url=URL)


@pytest.fixture
def theirs(other_user):
    return services.endpoint_create(user=other_user, url="https://their.example.com/hook")


def secret_on(client, path) -> str | None:
    found = SECRET_INPUT.findall(client.get(path).text)
    return found[0] if found else None


# --- Adding an endpoint --------------------------------------------------------------------------------------------

def test_an_added_endpoint_shows_its_signing_secret_once_on_its_page(signed_in, user, caplog):
    caplog.set_level(logging.DEBUG)

    response = add(signed_in, events=["job.failed", "credits.low"], description="orders")

    endpoint = Endpoint.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == endpoint_path(endpoint) + "#main"
    assert (endpoint.url, endpoint.events, endpoint.description) == (URL, ["job.failed", "credits.low"], "orders")
    assert secret_on(signed_in, endpoint_path(endpoint)) == endpoint.secret
    assert endpoint.secret.startswith("whsec_")
    assert secret_on(signed_in, endpoint_path(endpoint)) is None
    assert endpoint.secret not in signed_in.get(PAGE).text and endpoint.secret not in caplog.text


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://127.0.0.1/hook", "https://localhost/hook",
                                 "https://metadata.google.internal/computeMetadata/v1/", "https://[::1]/hook",
                                 "https://hooks.example.com:8443/", "https://user:pw@hooks.example.com/"])
def test_a_private_or_unsafe_address_is_refused_next_to_the_url_field(signed_in, user, url):
    response = add(signed_in, url=url)

    assert response.status_code == 400
    field = re.search(r'<div class="field field-invalid">(.*?)</div>\s*</div>', response.text, re.S)
    assert field and 'id="id_url"' in field.group(1) and 'class="errorlist"' in field.group(1)
    assert not Endpoint.objects.filter(user=user).exists()


def test_plain_http_is_refused_where_https_is_required(signed_in, user, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = add(signed_in, url="http://hooks.example.com/receive")
    assert response.status_code == 400 and "Webhook endpoints must use https." in response.text
    assert not Endpoint.objects.filter(user=user).exists()


def test_a_huge_url_is_refused_next_to_its_field(signed_in, user):
    response = add(signed_in, url="https://hooks.example.com/" + "a" * 5000)
    assert response.status_code == 400 and "at most 2048 characters" in response.text
    assert not Endpoint.objects.filter(user=user).exists()


def test_an_endpoint_needs_at_least_one_event(signed_in, user):
    response = post(signed_in, ADD, url=URL)
    assert response.status_code == 400 and "Tick at least one event to receive." in response.text
    assert not Endpoint.objects.filter(user=user).exists()


def test_the_endpoint_limit_is_answered_as_a_message(signed_in, user, endpoint, settings):
    settings.WEBHOOK_MAX_ENDPOINTS_PER_USER = 1
    response = add(signed_in)
    assert response.status_code == 400 and "the most allowed; delete one first" in response.text
    assert Endpoint.objects.filter(user=user).count() == 1


def test_the_same_add_form_sent_twice_adds_one_endpoint(signed_in, user):
    token = once()
    first, second = add(signed_in, token=token), add(signed_in, token=token)
    assert Endpoint.objects.filter(user=user).count() == 1
    assert first["Location"] == second["Location"]


def test_the_event_checkboxes_are_the_subscribable_events(signed_in):
    page = signed_in.get(PAGE).text
    assert re.findall(r'name="events" value="([^"]+)"', page) == ALL_EVENTS
    assert 'id="add-endpoint-form"' in page


# --- Editing, rotating, testing, deleting ----------------------------------------------------------------------------

def test_editing_changes_the_events_and_can_disable_the_endpoint(signed_in, endpoint):
    response = post(signed_in, endpoint_path(endpoint, "edit"), url=URL, events=["job.completed"], description="")

    endpoint.refresh_from_db()
    assert response.status_code == 302 and endpoint.events == ["job.completed"] and not endpoint.enabled
    post(signed_in, endpoint_path(endpoint, "edit"), url=URL, events=["job.completed"], enabled="on")
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_an_edit_to_a_private_address_is_refused_and_changes_nothing(signed_in, endpoint):
    response = post(signed_in, endpoint_path(endpoint, "edit"), url="https://192.168.1.1/", events=ALL_EVENTS,
                    enabled="on")
    endpoint.refresh_from_db()
    assert response.status_code == 400 and endpoint.url == URL and 'aria-invalid="true"' in response.text


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(signed_in, endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    old = endpoint.secret

    response = post(signed_in, endpoint_path(endpoint, "rotate-secret"))

    endpoint.refresh_from_db()
    assert response.status_code == 302 and endpoint.secret != old and endpoint.previous_secret == old
    assert secret_on(signed_in, endpoint_path(endpoint)) == endpoint.secret
    assert secret_on(signed_in, endpoint_path(endpoint)) is None
    assert endpoint.secret not in caplog.text and endpoint.secret not in response["Location"]


def test_a_rotation_sent_twice_rotates_once_so_the_secret_in_use_keeps_signing(signed_in, endpoint):
    old, token = endpoint.secret, once()
    post(signed_in, endpoint_path(endpoint, "rotate-secret"), token)
    post(signed_in, endpoint_path(endpoint, "rotate-secret"), token)
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == old


def test_a_test_event_makes_a_delivery_and_leads_to_it(signed_in, endpoint, broker,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(signed_in, endpoint_path(endpoint, "test"))

    sent = Delivery.objects.get(endpoint=endpoint)
    assert sent.event.type == "webhook.test" and broker.deliveries_rung() == [str(sent.id)]
    assert response["Location"] == f"{DELIVERIES}{sent.id}/"
    assert "webhook.test" in signed_in.get(response["Location"]).text


def test_a_disabled_endpoint_gets_no_test_event_and_says_why(signed_in, endpoint, broker):  # noqa: F811
    services.endpoint_update(endpoint, enabled=False)
    response = post(signed_in, endpoint_path(endpoint, "test"), follow=True)
    assert "The endpoint is disabled; enable it first." in response.text
    assert not Delivery.objects.exists()


def test_deleting_removes_the_endpoint(signed_in, endpoint):
    token = once()
    first, second = (post(signed_in, endpoint_path(endpoint, "delete"), token) for _ in range(2))
    assert first.status_code == second.status_code == 302  # a double click is not a 404
    assert not Endpoint.objects.filter(id=endpoint.id).exists()


# --- The delivery log ----------------------------------------------------------------------------------------------

def test_the_log_is_newest_first_in_pages_per_endpoint_or_all(signed_in, user, endpoint, broker):  # noqa: F811
    other = services.endpoint_create(user=user, url="https://two.example.com/hook")
    sent = [services.send_test(endpoint) for _ in range(22)] + [services.send_test(other)]
    Attempt.objects.create(delivery=sent[-1], number=1, outcome=AttemptOutcome.FAILED, started_at=timezone.now(),
                           status_code=503)

    first = signed_in.get(DELIVERIES).text
    second = signed_in.get(DELIVERIES, {"page": 2}).text
    only = signed_in.get(DELIVERIES, {"endpoint": str(other.id)}).text

    listed = re.findall(r'data-delivery-id="([^"]+)"', first) + re.findall(r'data-delivery-id="([^"]+)"', second)
    assert listed == [str(d.id) for d in reversed(sent)]
    assert 'id="deliveries"' in first and '<td data-label="Response">503</td>' in first and "Page 1 of 2" in first
    assert re.findall(r'data-delivery-id="([^"]+)"', only) == [str(sent[-1].id)]


def test_a_delivery_shows_its_attempts_and_payload(signed_in, endpoint, broker):  # noqa: F811
    sent = services.send_test(endpoint)
    Attempt.objects.create(delivery=sent, number=1, outcome=AttemptOutcome.FAILED, started_at=timezone.now(),
                           status_code=500, latency_ms=42, response_snippet="upstream down")

    page = signed_in.get(f"{DELIVERIES}{sent.id}/").text

    assert "upstream down" in page and "42 ms" in page and sent.event.message_id in page
    assert "A test event: your endpoint receives and verifies." in page and 'class="replay"' in page


def test_replay_makes_one_new_delivery_of_the_same_event_even_if_clicked_twice(signed_in, endpoint,
                                                                               broker):  # noqa: F811
    original, token = services.send_test(endpoint), once()

    first = post(signed_in, f"{DELIVERIES}{original.id}/replay/", token)
    second = post(signed_in, f"{DELIVERIES}{original.id}/replay/", token)

    replays = Delivery.objects.filter(replay_of=original)
    assert replays.count() == 1 and replays.get().event_id == original.event_id
    assert first["Location"] == second["Location"] == f"{DELIVERIES}{replays.get().id}/"


def test_the_replay_service_itself_does_not_guard_so_two_separate_forms_make_two(signed_in, endpoint,
                                                                                  broker):  # noqa: F811
    original = services.send_test(endpoint)
    post(signed_in, f"{DELIVERIES}{original.id}/replay/")
    post(signed_in, f"{DELIVERIES}{original.id}/replay/")
    assert Delivery.objects.filter(replay_of=original).count() == 2


def test_a_replay_to_a_disabled_endpoint_is_refused_with_a_message(signed_in, endpoint, broker):  # noqa: F811
    original = services.send_test(endpoint)
    services.endpoint_update(endpoint, enabled=False)
    response = post(signed_in, f"{DELIVERIES}{original.id}/replay/", follow=True)
    assert "enable it before replaying" in response.text
    assert not Delivery.objects.filter(replay_of=original).exists()


# --- Someone else's, forged and malformed ids; methods; sign-in ------------------------------------------------------

@pytest.fixture
def their_delivery(theirs, broker):  # noqa: F811
    return services.send_test(theirs)


@pytest.mark.parametrize(("method", "action"), [("get", ""), ("post", "edit"), ("post", "rotate-secret"),
                                                ("post", "test"), ("post", "delete")])
def test_another_users_endpoint_is_a_404_on_every_action(signed_in, theirs, method, action):
    path = endpoint_path(theirs, action)
    response = signed_in.get(path) if method == "get" else post(signed_in, path, url=URL, events=ALL_EVENTS)
    assert response.status_code == 404
    fresh = Endpoint.objects.get(id=theirs.id)
    assert (fresh.secret, fresh.events, fresh.enabled) == (theirs.secret, theirs.events, True)


def test_another_users_delivery_is_a_404_to_read_replay_or_filter_by(signed_in, theirs, their_delivery):
    assert signed_in.get(f"{DELIVERIES}{their_delivery.id}/").status_code == 404
    assert post(signed_in, f"{DELIVERIES}{their_delivery.id}/replay/").status_code == 404
    assert signed_in.get(DELIVERIES, {"endpoint": str(theirs.id)}).status_code == 404
    assert not Delivery.objects.filter(replay_of=their_delivery).exists()
    assert str(their_delivery.id) not in signed_in.get(DELIVERIES).text


@pytest.mark.parametrize("bad_id", ["not-a-uuid", str(uuid.uuid4()), "1" * 300, "%00"])
def test_a_forged_or_malformed_id_is_a_404(signed_in, bad_id):
    for path in (f"/developers/webhooks/endpoints/{bad_id}/", f"{DELIVERIES}{bad_id}/"):
        assert signed_in.get(path).status_code == 404, path
    for action in ("edit", "rotate-secret", "test", "delete"):
        assert post(signed_in, f"/developers/webhooks/endpoints/{bad_id}/{action}/").status_code == 404
    assert post(signed_in, f"{DELIVERIES}{bad_id}/replay/").status_code == 404
    assert signed_in.get(DELIVERIES, {"endpoint": bad_id}).status_code == 404


def test_a_get_on_an_action_is_a_405(signed_in, endpoint, broker):  # noqa: F811
    sent = services.send_test(endpoint)
    for path in (ADD, endpoint_path(endpoint, "edit"), endpoint_path(endpoint, "rotate-secret"),
                 endpoint_path(endpoint, "test"), endpoint_path(endpoint, "delete"), f"{DELIVERIES}{sent.id}/replay/"):
        assert signed_in.get(path).status_code == 405, path


def test_every_webhook_page_needs_sign_in(client, endpoint, broker):  # noqa: F811
    sent = services.send_test(endpoint)
    for path in (endpoint_path(endpoint), DELIVERIES, f"{DELIVERIES}{sent.id}/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/"), path
    response = post(client, f"{DELIVERIES}{sent.id}/replay/")
    assert response.status_code == 302 and not Delivery.objects.filter(replay_of=sent).exists()


# --- Every page: labelled, headings in order, nothing from elsewhere, the ids the browser tests use ------------------

def test_every_developers_page_is_labelled_in_order_and_carries_its_stable_ids(signed_in, user, broker):  # noqa: F811
    post(signed_in, "/developers/keys/", name="CI", expires="90")
    overview = signed_in.get(PAGE).text  # the redirect's page, with the key's secret
    add(signed_in)
    endpoint = Endpoint.objects.get(user=user)
    services.send_test(endpoint)
    endpoint_page = signed_in.get(endpoint_path(endpoint)).text  # with the endpoint's secret
    sent = Delivery.objects.get()
    pages = {PAGE: (overview, ['id="new-key-secret"', 'id="copy-key"', 'id="keys"', 'class="revoke-key',
                               'id="create-key-form"', 'id="add-endpoint-form"', 'id="endpoints"']),
             f"{PAGE}?again": (signed_in.get(PAGE).text,
                               ['id="endpoints"', 'class="rotate-secret', 'class="send-test']),
             endpoint_path(endpoint): (endpoint_page, ['id="new-webhook-secret"', 'id="deliveries"', 'class="replay']),
             DELIVERIES: (signed_in.get(DELIVERIES).text, ['id="deliveries"', 'class="replay']),
             f"{DELIVERIES}{sent.id}/": (signed_in.get(f"{DELIVERIES}{sent.id}/").text, ['class="replay"'])}
    for path, (html, ids) in pages.items():
        for wanted in ids:
            assert wanted in html, (path, wanted)
        for input_id in re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
            assert f'<label for="{input_id}"' in html, (path, input_id)
        levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
        assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), (path, levels)
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', html), path
        assert "/static/webapp/developers.js" in html and "<script>" not in html
