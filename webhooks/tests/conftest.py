"""A customer's receiver on the FakeNetwork (hooks.example.com at a public address, played by a local recording
server), a broker that records the bells it is asked to ring (and can be down), and helpers to run them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from video_generation.models import JobStatus
from video_generation.pipeline import dispatch
from video_generation.tests import factories
from video_generation.tests.conftest import net, servers  # noqa: F401  (the SSRF-safe client's fake network)
from video_generation.tests.fake_network import Answer
from webhooks import delivery, services
from webhooks import tasks as webhook_tasks

PUBLIC = "93.184.216.34"
HOOK_URL = "http://hooks.example.com/receive"
JOB_HOOK_URL = "http://hooks.example.com/job-hook?token=s3cr3t"


@dataclass
class FakeBroker:
    """dispatch.publish, played: records (task name, delivery id, queue), or refuses every message when down."""

    down: bool = False
    published: list = field(default_factory=list)

    def publish(self, task, *args, countdown=None, queue=None) -> bool:
        if self.down:
            return False
        self.published.append((task.name, *args, queue))
        return True

    def deliveries_rung(self) -> list[str]:
        return [delivery_id for name, delivery_id, _queue in self.published if name == webhook_tasks.deliver.name]

    def run(self) -> int:
        """The worker: run every deliver message published so far, once each, in order."""
        messages, self.published = self.deliveries_rung(), []
        for delivery_id in messages:
            delivery.attempt(delivery_id)
        return len(messages)


@pytest.fixture
def broker(monkeypatch):
    fake = FakeBroker()
    monkeypatch.setattr(dispatch, "publish", fake.publish)
    return fake


@pytest.fixture
def plain_http(settings):
    """Delivery tests speak plain HTTP to the fake network (the API's https rule is tested in test_api)."""
    settings.WEBHOOK_REQUIRE_HTTPS = False


@pytest.fixture
def receiver(net, servers):  # noqa: F811
    server = servers(default=Answer(200, b"ok", ()))
    net.answer("hooks.example.com", PUBLIC)
    net.route(PUBLIC, 80, server)
    return server


@pytest.fixture
def endpoint(user, plain_http):
    return services.endpoint_create(user=user, url=HOOK_URL)


def running_job(user, **fields):
    return factories.make_job(user, **{"status": JobStatus.PROCESSING_VEO, **fields})
