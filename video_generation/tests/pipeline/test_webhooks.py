"""Webhook delivery, over a FakeNetwork: hooks.example.com answers a public address where a local server records
what it receives; the network records every name looked up and every address connected to."""

import base64
import hashlib
import hmac
import json
import logging
import socket

import pytest

from video_generation.models import JobStatus
from video_generation.pipeline import webhooks
from video_generation.tests import factories
from video_generation.tests.fake_network import Answer, redirect

pytestmark = pytest.mark.django_db
PUBLIC = "93.184.216.34"
HOOK = "http://hooks.example.com/video?token=s3cr3t"


@pytest.fixture
def receiver(net, servers):
    """The customer's endpoint: hooks.example.com on a public address."""
    server = servers(default=Answer(200, b"ok", ()))
    net.answer("hooks.example.com", PUBLIC)
    net.route(PUBLIC, 80, server)
    return server


def make_job(user, **fields):
    return factories.make_job(user, **{"webhook_url": HOOK, "status": JobStatus.FAILED,
                                       "error_message": "B-roll generation failed at Google Veo: blocked", **fields})


def test_the_signature_follows_standard_webhooks():
    # Golden vector, computed independently: HMAC-SHA256(secret, "evt_1.1700000000.{}") in base64.
    expected = base64.b64encode(hmac.new(b"s3cret", b'evt_1.1700000000.{"a":1}', hashlib.sha256).digest())
    assert webhooks.sign("s3cret", "evt_1", 1700000000, b'{"a":1}') == "v1," + expected.decode()


def test_it_posts_the_final_state_signed(user, settings, receiver):
    settings.WEBHOOK_SECRET = "whsec-test"
    job = make_job(user)

    assert webhooks.deliver(str(job.id)) is None

    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/video?token=s3cr3t")
    assert json.loads(request.body) == {
        "type": "video.failed", "job_id": str(job.id), "status": "failed", "progress": 0, "final_video_url": None,
        "error_message": job.error_message, "completed_at": None}
    signature = webhooks.sign("whsec-test", request.headers["webhook-id"], int(request.headers["webhook-timestamp"]),
                              request.body)
    assert request.headers["webhook-signature"] == signature
    assert request.headers["webhook-id"] == f"evt_{job.id.hex}_failed"
    assert request.headers["content-type"] == "application/json"


def first_retry(delay) -> bool:
    """The first retry comes after 5 to 10 s: the shared policy's backoff from 10 s, with jitter."""
    return delay is not None and 5.0 <= delay <= 10.0


def test_a_failed_delivery_asks_to_be_retried_with_jittered_backoff_then_gives_up(user, receiver):
    receiver.default = Answer(503, b"", ())
    job = make_job(user)
    assert first_retry(webhooks.deliver(str(job.id), attempt=0))
    assert 20.0 <= webhooks.deliver(str(job.id), attempt=2) <= 40.0
    assert webhooks.deliver(str(job.id), attempt=webhooks.MAX_DELIVERIES - 1) is None
    assert len(receiver.requests) == 3


def test_no_retry_waits_longer_than_the_longest_broker_countdown(user, receiver, settings):
    receiver.default = Answer(503, b"", ())
    job = make_job(user)
    waits = [webhooks.deliver(str(job.id), attempt=n) for n in range(webhooks.MAX_DELIVERIES - 1)]
    assert max(waits) <= settings.PIPELINE["MAX_COUNTDOWN_SECONDS"]


def test_a_rate_limited_delivery_waits_as_long_as_the_receiver_asks(user, receiver):
    receiver.default = Answer(429, b"", (("Retry-After", "42"),))
    assert 42.0 <= webhooks.deliver(str(make_job(user).id), attempt=0) <= 43.0


def test_a_dns_outage_is_retried_but_a_host_that_does_not_exist_is_not(user, net, monkeypatch):
    job = make_job(user, webhook_url="http://no-such-host.example.com/hook")
    assert webhooks.deliver(str(job.id), attempt=0) is None

    def outage(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", outage)
    assert first_retry(webhooks.deliver(str(job.id), attempt=0))


def test_it_sends_nothing_for_a_running_job(user, receiver):
    running = make_job(user, status=JobStatus.PROCESSING_VEO)
    assert webhooks.deliver(str(running.id)) is None
    assert receiver.requests == []


@pytest.mark.parametrize("answer", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "fd00::1"])
def test_a_url_resolving_to_a_private_address_is_logged_without_its_query_and_not_retried(user, net, caplog, answer):
    net.answer("hooks.example.com", answer)
    job = make_job(user)

    with caplog.at_level(logging.WARNING, logger=webhooks.logger.name):
        assert webhooks.deliver(str(job.id), attempt=0) is None

    assert net.connections == []
    [record] = caplog.records
    assert str(job.id) in record.getMessage() and "hooks.example.com" in record.getMessage()
    assert "s3cr3t" not in record.getMessage() and "/video" not in record.getMessage()


def test_a_redirect_is_not_followed_and_counts_as_a_failed_delivery(user, net, servers, receiver):
    elsewhere = servers()
    net.answer("elsewhere.example.net", "93.184.216.35")
    net.route("93.184.216.35", 80, elsewhere)
    receiver.default = redirect("http://elsewhere.example.net/steal", 307)

    assert first_retry(webhooks.deliver(str(make_job(user).id), attempt=0))
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []


# ---- DNS rebinding: the delivery goes to the address that was checked, or nowhere ----------------------------


@pytest.fixture
def rebinding(net, servers):
    """rebind.example.com: a server at the public address it first answers, a victim on 127.0.0.1:80."""
    checked, victim = servers(default=Answer(200, b"", ())), servers(default=Answer(200, b"", ()))
    net.route(PUBLIC, 80, checked)
    net.route("127.0.0.1", 80, victim)
    return checked, victim


def test_a_webhook_host_that_rebinds_to_loopback_after_the_check_is_posted_to_the_checked_address(
        user, net, rebinding):
    checked, victim = rebinding
    net.answer("rebind.example.com", PUBLIC, "127.0.0.1")  # public to the first lookup, loopback to later ones
    job = make_job(user, webhook_url="http://rebind.example.com/hook")

    assert webhooks.deliver(str(job.id)) is None

    assert victim.requests == []
    assert net.connections == [(PUBLIC, 80)]
    assert [r.headers["Host"] for r in checked.requests] == ["rebind.example.com"]


def test_a_webhook_host_that_answers_loopback_first_is_never_posted_to(user, net, rebinding):
    checked, victim = rebinding
    net.answer("rebind.example.com", "127.0.0.1", PUBLIC)
    job = make_job(user, webhook_url="http://rebind.example.com/hook")

    assert webhooks.deliver(str(job.id)) is None

    assert net.connections == []
    assert victim.requests == checked.requests == []


def test_with_private_urls_allowed_a_local_receiver_on_a_high_port_gets_the_webhook(user, settings, servers):
    settings.ALLOW_PRIVATE_URLS = True  # local runs: the receiver is on this machine
    local = servers(default=Answer(204, b"", ()))
    job = make_job(user, webhook_url=f"{local.url}/hook")

    assert webhooks.deliver(str(job.id)) is None

    assert [(r.method, r.path) for r in local.requests] == [("POST", "/hook")]
