"""The webhook backlog /metrics exports (delivery.backlog): deliveries whose attempt is due, and the oldest's wait."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks import delivery
from webhooks.models import Delivery, DeliveryStatus, Event

pytestmark = pytest.mark.django_db


def deliveries(user, *waits_and_statuses):
    now = timezone.now()
    event = Event.objects.create(user=user, type="job.completed", payload={})
    for wait, status in waits_and_statuses:
        Delivery.objects.create(event=event, url="https://example.com/hook", status=status,
                                next_attempt_at=None if wait is None else now - timedelta(seconds=wait))
    return now


def test_only_pending_deliveries_whose_time_has_come_are_the_backlog(user):
    now = deliveries(user, (120, DeliveryStatus.PENDING), (5, DeliveryStatus.PENDING),
                     (-60, DeliveryStatus.PENDING),  # its retry is a minute away (or a worker holds its lease)
                     (600, DeliveryStatus.SUCCEEDED), (None, DeliveryStatus.FAILED))
    count, oldest = delivery.backlog(now=now)
    assert count == 2
    assert oldest == pytest.approx(120)


def test_no_backlog_is_zero_and_zero_seconds(user):
    assert delivery.backlog() == (0, 0.0)
