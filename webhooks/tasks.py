"""Celery tasks of the webhooks queue: thin doorbells that take an id and re-read the rows."""

from celery import shared_task

from . import delivery


@shared_task(acks_late=True)
def deliver(delivery_id: str) -> None:
    """Attempt the delivery if it is (still) due; a duplicate message finds nothing to do."""
    delivery.attempt(delivery_id)


@shared_task(acks_late=True)
def sweep() -> int:
    """Ring for every due delivery: retries whose time has come, and bells a dead broker never rang."""
    return delivery.sweep()
