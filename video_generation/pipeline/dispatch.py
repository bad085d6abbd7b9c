"""Ringing the doorbell: the pipeline's Celery messages, published after the current transaction commits.

The rows are the queue; a message only says "look at this row now". So a publish that fails is logged and dropped
(the sweeper re-sends what a lost message left behind), and a publish may never hold its caller up for long: each
thread keeps its own broker connection with one-second socket timeouts and no publish retries, so a broker that
accepts connections but never answers costs a request about a second, not the broker client's default minutes.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 1.0
_local = threading.local()


def tasks():
    """The task module, imported when first needed (it imports the pipeline)."""
    from video_generation import tasks as module

    return module


# --- The messages ---------------------------------------------------------------------------------------------

def start_job(job_id) -> None:
    enqueue(tasks().process_video_job, str(job_id))


def run_step(step_id, *, queue: str | None, countdown: float | None = None) -> None:
    enqueue(tasks().run_step, str(step_id), countdown=countdown, queue=queue)


def poll_step(step_id, *, countdown: float | None = None) -> None:
    enqueue(tasks().poll_step, str(step_id), countdown=countdown)


# --- Publishing -----------------------------------------------------------------------------------------------

def enqueue(task: Any, *args: str, countdown: float | None = None, queue: str | None = None) -> None:
    """Publish once the surrounding transaction commits (at once outside a transaction)."""
    on_commit(lambda: publish(task, *args, countdown=countdown, queue=queue))


def on_commit(publishing: Callable[[], object]) -> None:
    """Run `publishing` once the surrounding transaction commits, in the log context of now: the message's headers
    carry the request id and job of the work that enqueued it (logcontext.py), not of whatever runs at commit."""
    context = contextvars.copy_context()
    transaction.on_commit(lambda: context.run(publishing))


def publish(task: Any, *args: str, countdown: float | None = None, queue: str | None = None) -> bool:
    """Send `task(*args)` to `queue` (the default queue when None). False if the broker could not take it."""
    options = {"queue": queue} if queue else {}
    try:
        task.apply_async(args=list(args), countdown=countdown, connection=_connection(), retry=False, **options)
    except Exception as exc:  # the broker being unreachable must never fail the caller
        _drop_connection()
        logger.warning("could not publish %s%s (%s); the sweeper will re-drive it", task.name, args,
                       type(exc).__name__)
        return False
    return True


def _connection():
    connection = getattr(_local, "connection", None)
    if connection is None:
        from video_saas.celery import app

        timeout = PUBLISH_TIMEOUT_SECONDS
        connection = app.connection_for_write(connect_timeout=timeout, transport_options={
            "socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0})
        _local.connection = connection
    return connection


def _drop_connection() -> None:
    connection = getattr(_local, "connection", None)
    _local.connection = None
    if connection is not None:
        try:
            connection.release()
        except Exception:  # a broken connection may fail to close too; it is dropped either way
            pass


def _forget_inherited_connection() -> None:
    _local.connection = None  # a forked child must open its own socket, never share its parent's


os.register_at_fork(after_in_child=_forget_inherited_connection)
