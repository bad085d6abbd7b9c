"""Two sweepers at once on PostgreSQL: each rings for the same due delivery and two workers answer the bells at the
same moment; the conditional claim lets exactly one of them send."""

import threading
import time

import pytest
from django.db import connection

from video_generation.pipeline import transitions
from webhooks import delivery
from webhooks.models import Attempt, Delivery
from webhooks.tests.conftest import running_job


def slow_ok(handler) -> None:
    time.sleep(0.3)  # the first POST is still in flight when the second worker tries to claim
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def sweep_and_work(start: threading.Barrier, errors: list) -> None:
    """A sweeper whose bell a worker answers at once (in this thread)."""
    try:
        start.wait()
        for delivery_id in [str(i) for i in delivery.due_ids()]:
            delivery.attempt(delivery_id)
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweepers_send_a_due_delivery_exactly_once(user, endpoint, receiver, broker):
    assert connection.vendor == "postgresql"
    receiver.default = slow_ok
    transitions.fail_job(running_job(user).id, "boom")

    for _round in range(3):
        start, errors = threading.Barrier(2), []
        threads = [threading.Thread(target=sweep_and_work, args=(start, errors)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []

    assert len(receiver.requests) == 1
    assert Attempt.objects.count() == 1 and Delivery.objects.get().status == "succeeded"
