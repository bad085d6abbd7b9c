import base64
import hashlib
import hmac
import json

import httpx
import pytest
import respx

from video_generation.models import JobStatus
from video_generation.pipeline import webhooks
from video_generation.tests import factories

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/video"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])


def make_job(user, **fields):
    return factories.make_job(user, **{"webhook_url": HOOK, "status": JobStatus.FAILED,
                                       "error_message": "B-roll generation failed at Google Veo: blocked", **fields})


def test_the_signature_follows_standard_webhooks():
    # Golden vector, computed independently: HMAC-SHA256(secret, "evt_1.1700000000.{}") in base64.
    expected = base64.b64encode(hmac.new(b"s3cret", b'evt_1.1700000000.{"a":1}', hashlib.sha256).digest())
    assert webhooks.sign("s3cret", "evt_1", 1700000000, b'{"a":1}') == "v1," + expected.decode()


@respx.mock
def test_it_posts_the_final_state_signed(user, settings):
    settings.WEBHOOK_SECRET = "whsec-test"
    job = make_job(user)
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))

    assert webhooks.deliver(str(job.id)) is None

    request = route.calls.last.request
    body = json.loads(request.content)
    assert body == {"type": "video.failed", "job_id": str(job.id), "status": "failed", "progress": 0,
                    "final_video_url": None, "error_message": job.error_message, "completed_at": None}
    signature = webhooks.sign("whsec-test", request.headers["webhook-id"], int(request.headers["webhook-timestamp"]),
                              request.content)
    assert request.headers["webhook-signature"] == signature
    assert request.headers["webhook-id"] == f"evt_{job.id.hex}_failed"


@respx.mock
def test_a_failed_delivery_asks_to_be_retried_then_gives_up(user):
    job = make_job(user)
    respx.post(HOOK).mock(return_value=httpx.Response(503))
    assert webhooks.deliver(str(job.id), attempt=0) == webhooks.RETRY_DELAYS[0]
    assert webhooks.deliver(str(job.id), attempt=len(webhooks.RETRY_DELAYS)) is None


@respx.mock
def test_it_sends_nothing_for_a_running_job_or_a_private_address(user, monkeypatch):
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    running = make_job(user, status=JobStatus.PROCESSING_VEO)
    assert webhooks.deliver(str(running.id)) is None
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.0.5", 443))])
    assert webhooks.deliver(str(make_job(user).id)) is None
    assert not route.called
