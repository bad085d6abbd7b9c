"""Ringing the doorbell: publish a Celery task after the current transaction commits.

A publish that fails (broker down) is logged and dropped: the rows are the queue, and the sweeper re-drives
any step whose message never arrived.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task_name: str, *args: str, countdown: float | None = None, queue: str | None = None) -> None:
    transaction.on_commit(lambda: publish(task_name, *args, countdown=countdown, queue=queue))


def publish(task_name: str, *args: str, countdown: float | None = None, queue: str | None = None) -> bool:
    """Send the task to `queue`, or to the default queue when None."""
    from video_saas.celery import app

    options = {"queue": queue} if queue else {}
    try:
        app.send_task(task_name, args=list(args), countdown=countdown, **options)
    except Exception as exc:  # the broker being unreachable must never fail the caller
        logger.warning("could not publish %s%s (%s); the sweeper will re-drive it", task_name, args,
                       type(exc).__name__)
        return False
    return True
