"""Sending deliveries: once per claim, signed, on Svix's schedule, surviving a broker outage, disabling endpoints
that are gone or failing for days, and never reaching an address the SSRF rules refuse."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from video_generation.pipeline import transitions
from video_generation.tests.fake_network import Answer, redirect
from webhooks import delivery, services
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.signing import new_secret
from webhooks.tests.conftest import JOB_HOOK_URL, PUBLIC, running_job

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def finish_a_job(user, **fields) -> Delivery:
    transitions.fail_job(running_job(user, **fields).id, "boom")
    return Delivery.objects.filter(endpoint__isnull=False).get()


def test_a_due_delivery_is_posted_once_and_recorded(user, endpoint, receiver, broker):
    sent = finish_a_job(user)

    assert delivery.attempt(sent.id).succeeded
    assert delivery.attempt(sent.id) is None  # done: a second message finds nothing to do

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/receive")
    assert json.loads(request.body)["type"] == "job.failed"
    sent.refresh_from_db()
    assert (sent.status, sent.attempt_count, sent.next_attempt_at) == ("succeeded", 1, None)
    [attempt] = sent.attempts.all()
    assert (attempt.outcome, attempt.status_code, attempt.response_snippet) == ("succeeded", 200, "ok")
    assert attempt.latency_ms is not None and attempt.finished_at is not None


def test_the_delivery_verifies_with_the_endpoints_secret_and_carries_the_event_id(user, endpoint, receiver, broker):
    sent = finish_a_job(user)
    delivery.attempt(sent.id)

    [request] = receiver.requests
    headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert headers["webhook-id"] == f"msg_{sent.event_id.hex}"
    assert Webhook(endpoint.secret).verify(request.body, headers)["data"]["status"] == "failed"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, headers)


def test_the_jobs_own_webhook_url_is_signed_with_the_operator_secret_as_before(user, receiver, broker, settings,
                                                                              plain_http):
    settings.WEBHOOK_SECRET = "operator-secret"
    transitions.fail_job(running_job(user, webhook_url=JOB_HOOK_URL).id, "boom")
    delivery.attempt(Delivery.objects.get().id)

    [request] = receiver.requests
    assert request.path == "/job-hook?token=s3cr3t"
    headers = dict(request.headers.items())
    assert Webhook(b"operator-secret").verify(request.body, headers)["type"] == "job.failed"


def test_without_an_operator_secret_the_jobs_webhook_is_sent_unsigned(user, receiver, broker, settings, plain_http):
    settings.WEBHOOK_SECRET = ""
    transitions.fail_job(running_job(user, webhook_url=JOB_HOOK_URL).id, "boom")
    delivery.attempt(Delivery.objects.get().id)
    [request] = receiver.requests
    assert "webhook-signature" not in request.headers and request.headers["webhook-id"].startswith("msg_")


# --- The broker: down at the job's end, the sweeper delivers once it is back ----------------------------------

def test_a_broker_down_at_the_jobs_end_delays_the_delivery_and_the_sweeper_sends_it_once(
        user, endpoint, receiver, broker, django_capture_on_commit_callbacks):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        sent = finish_a_job(user)
    assert broker.published == [] and receiver.requests == []  # the bell was lost; the row was not

    broker.down = False
    assert delivery.sweep() == 1
    assert broker.run() == 1
    assert delivery.sweep() == 0  # delivered: nothing is due any more
    assert broker.run() == 0

    assert len(receiver.requests) == 1
    sent.refresh_from_db()
    assert sent.status == "succeeded"


def test_two_bells_for_the_same_delivery_send_it_once(user, endpoint, receiver, broker):
    sent = finish_a_job(user)
    delivery.ring_now([sent.id, sent.id])  # a duplicate message (a redrive, a redelivery)...
    assert broker.run() == 2
    assert len(receiver.requests) == 1  # ...one claim, one POST


def test_the_sweeper_rings_again_only_for_what_nobody_rang_for_since_it_came_due(user, endpoint, receiver, broker,
                                                                                clock):
    receiver.default = Answer(503, b"", ())
    sent = finish_a_job(user)  # rung when the job ended
    assert delivery.sweep() == 0

    delivery.attempt(sent.id)  # the worker answers that bell: attempt 1 fails; attempt 2 is due in 5 s
    assert delivery.sweep() == 0
    clock.shift(timedelta(seconds=5))
    assert delivery.sweep() == 1  # the retry came due: rung once...
    assert delivery.sweep() == 0  # ...not at every sweep while its message waits in the queue
    clock.shift(timedelta(seconds=delivery.REDRIVE_AFTER_SECONDS))
    assert delivery.sweep() == 1  # a bell unanswered for a minute is rung again
    broker.run()
    sent.refresh_from_db()
    assert sent.attempt_count == 2 and len(receiver.requests) == 2


def test_a_claimed_delivery_cannot_be_claimed_again_until_its_lease_ends(user, endpoint, broker, clock):
    sent = finish_a_job(user)
    assert delivery.claim_delivery(sent.id) is not None
    assert delivery.claim_delivery(sent.id) is None
    clock.shift(timedelta(seconds=delivery.LEASE_MARGIN_SECONDS + 16))  # the worker died mid-send
    reclaimed = delivery.claim_delivery(sent.id)
    assert reclaimed is not None and reclaimed.number == 2
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "sending"), (2, "sending")]


def test_a_worker_whose_lease_ran_out_does_not_overwrite_its_successors_record(user, endpoint, broker, clock):
    sent = finish_a_job(user)
    stale = delivery.claim_delivery(sent.id)
    clock.shift(timedelta(seconds=120))
    fresh = delivery.claim_delivery(sent.id)
    delivery.record(fresh, delivery.Outcome(True, 200), latency_ms=5)
    delivery.record(stale, delivery.Outcome(False, 500, error="late"), latency_ms=99_000)
    sent.refresh_from_db()
    assert (sent.status, sent.attempt_count) == ("succeeded", 2)


# --- Retries ----------------------------------------------------------------------------------------------------

def test_failures_are_retried_on_svixs_schedule_then_the_delivery_fails(user, endpoint, receiver, broker, clock):
    receiver.default = Answer(503, b"down for maintenance", ())
    sent = finish_a_job(user)
    waits = []
    while True:
        assert delivery.attempt(sent.id) is not None
        sent.refresh_from_db()
        if sent.next_attempt_at is None:
            break
        waits.append((sent.next_attempt_at - timezone.now()).total_seconds())
        assert delivery.attempt(sent.id) is None  # not due yet
        clock.move_to(sent.next_attempt_at)

    assert waits == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert sent.status == "failed" and len(receiver.requests) == 8
    assert list(sent.attempts.values_list("status_code", flat=True)) == [503] * 8
    assert sent.attempts.first().error == "The endpoint answered HTTP 503."


def test_a_redirect_is_not_followed_and_counts_as_a_failure(user, endpoint, net, servers, receiver, broker):
    elsewhere = servers()
    net.answer("elsewhere.example.net", "93.184.216.35")
    net.route("93.184.216.35", 80, elsewhere)
    receiver.default = redirect("http://elsewhere.example.net/steal", 307)

    outcome = delivery.attempt(finish_a_job(user).id)

    assert not outcome.succeeded and outcome.status_code == 307
    assert elsewhere.requests == []
    assert Delivery.objects.get().status == "pending"


def test_a_long_answer_is_kept_only_up_to_the_snippet_cap(user, endpoint, receiver, broker):
    receiver.default = Answer(500, b"x" * 50_000, ())
    delivery.attempt(finish_a_job(user).id)
    assert len(Attempt.objects.get().response_snippet) <= 1000


def test_an_answer_that_leaks_a_secret_is_redacted_before_it_is_stored(user, endpoint, receiver, broker, settings):
    settings.WEBHOOK_SECRET = "whk_7Tq2Lp9Xr4Vm8Nc1Bz6Ks3Dj0Hf5Gw"
    receiver.default = Answer(500, b"bad key whk_7Tq2Lp9Xr4Vm8Nc1Bz6Ks3Dj0Hf5Gw", ())
    delivery.attempt(finish_a_job(user).id)
    assert "7Tq2Lp9Xr4Vm8Nc1Bz6Ks3Dj0Hf5Gw" not in Attempt.objects.get().response_snippet


# --- Endpoints that are gone or keep failing -------------------------------------------------------------------

def test_410_gone_disables_the_endpoint_and_ends_its_waiting_deliveries(user, endpoint, receiver, broker):
    first = finish_a_job(user)
    transitions.fail_job(running_job(user).id, "again")
    receiver.default = Answer(410, b"", ())

    delivery.attempt(first.id)

    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    transitions.fail_job(running_job(user).id, "a third")
    assert Delivery.objects.count() == 2  # a disabled endpoint is sent nothing new


def test_an_endpoint_failing_for_five_days_is_disabled_with_the_reason(user, endpoint, receiver, broker, clock):
    receiver.default = Answer(500, b"", ())
    delivery.attempt(finish_a_job(user).id)
    clock.shift(timedelta(days=4, hours=23))
    transitions.fail_job(running_job(user).id, "still failing")
    delivery.attempt(Delivery.objects.filter(status="pending").latest("created_at").id)
    assert Endpoint.objects.get().enabled  # four days and 23 hours: not yet

    clock.shift(timedelta(hours=1))
    transitions.fail_job(running_job(user).id, "five days")
    delivery.attempt(Delivery.objects.filter(status="pending").latest("created_at").id)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Every delivery failed for 5 days (since 2026-12-01 12:00 UTC)."


def test_a_success_ends_the_failing_streak(user, endpoint, receiver, broker, clock):
    receiver.default = Answer(500, b"", ())
    delivery.attempt(finish_a_job(user).id)
    clock.shift(timedelta(days=3))
    receiver.default = Answer(200, b"", ())
    transitions.fail_job(running_job(user).id, "ok now")
    delivery.attempt(Delivery.objects.filter(status="pending").latest("created_at").id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_a_delivery_waiting_for_an_endpoint_disabled_since_is_not_sent(user, endpoint, receiver, broker):
    sent = finish_a_job(user)
    Endpoint.objects.filter(id=endpoint.id).update(disabled_at=timezone.now(), disabled_reason="By hand.")
    delivery.attempt(sent.id)
    assert receiver.requests == []
    sent.refresh_from_db()
    assert sent.status == "failed" and "disabled" in sent.attempts.get().error


# --- Secret rotation: both signatures for 24 hours ---------------------------------------------------------------

def signed_headers(request) -> dict:
    return {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}


def test_after_a_rotation_both_secrets_verify_for_24_hours_then_only_the_new_one(user, endpoint, receiver, broker):
    old_secret = endpoint.secret
    rotated = services.endpoint_rotate_secret(endpoint)
    delivery.attempt(finish_a_job(user).id)

    [during] = receiver.requests
    assert during.headers["webhook-signature"].count("v1,") == 2
    for secret in (old_secret, rotated.secret):
        Webhook(secret).verify(during.body, signed_headers(during))

    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        transitions.fail_job(running_job(user).id, "a day later")
        delivery.attempt(Delivery.objects.filter(status="pending").get().id)
        after = receiver.requests[-1]
        assert after.headers["webhook-signature"].count("v1,") == 1
        Webhook(rotated.secret).verify(after.body, signed_headers(after))
        with pytest.raises(WebhookVerificationError):
            Webhook(old_secret).verify(after.body, signed_headers(after))


# --- SSRF: the endpoint's host is resolved, checked and pinned at every attempt ------------------------------------

@pytest.fixture
def rebinding(net, servers):
    checked, victim = servers(default=Answer(200, b"", ())), servers(default=Answer(200, b"", ()))
    net.route(PUBLIC, 80, checked)
    net.route("127.0.0.1", 80, victim)
    return checked, victim


def test_a_host_that_rebinds_to_loopback_after_the_check_is_posted_to_the_checked_address(
        user, net, rebinding, broker, plain_http):
    checked, victim = rebinding
    net.answer("rebind.example.com", PUBLIC, "127.0.0.1")  # public to the first lookup, loopback after
    services.endpoint_create(user=user, url="http://rebind.example.com/hook")

    assert delivery.attempt(finish_a_job(user).id).succeeded

    assert victim.requests == []
    assert net.connections == [(PUBLIC, 80)]
    assert [r.headers["Host"] for r in checked.requests] == ["rebind.example.com"]


@pytest.mark.parametrize("answer", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1"])
def test_a_host_resolving_to_a_private_address_is_never_connected_to(user, net, rebinding, broker, plain_http,
                                                                      answer):
    checked, victim = rebinding
    net.answer("rebind.example.com", answer, PUBLIC)
    services.endpoint_create(user=user, url="http://rebind.example.com/hook")

    outcome = delivery.attempt(finish_a_job(user).id)

    assert not outcome.succeeded and outcome.status_code is None
    assert net.connections == [] and victim.requests == checked.requests == []
    assert Delivery.objects.get().status == "pending"  # retried later, checked again then


# --- A slow receiver: the attempt ends by its deadline, on the webhooks queue ------------------------------------

def test_a_receiver_that_never_answers_costs_one_attempt_its_deadline_and_is_retried(user, endpoint, receiver,
                                                                                   broker, settings):
    import time

    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5

    def never_answers(handler):
        time.sleep(3)

    receiver.default = never_answers
    started = time.monotonic()
    outcome = delivery.attempt(finish_a_job(user).id)

    assert time.monotonic() - started < 2.5
    assert not outcome.succeeded and outcome.status_code is None and outcome.error
    assert Delivery.objects.get().status == "pending"


def test_deliveries_travel_on_their_own_queue_never_the_pipelines(settings):
    from video_saas.celery import app
    from webhooks import tasks

    assert settings.WEBHOOK_QUEUE not in ("celery", settings.MEDIA_QUEUE)
    assert app.amqp.router.route({}, tasks.deliver.name)["queue"].name == settings.WEBHOOK_QUEUE
    assert app.amqp.router.route({}, tasks.sweep.name)["queue"].name == settings.WEBHOOK_QUEUE
