"""What every log line about a job carries: `job_id`, the `request_id` of the request that submitted it, and while a
step is worked on, `step` and `provider` (video_saas/logs.py renders them).

The request id lives on the job row, so whatever works on a job binds it from there: a task sent straight from the
API or by a step that just finished (whose Celery headers already carry it, django-structlog's receivers), and
equally one the sweeper re-sent minutes later, or a webhook delivery about the job. Work for a job is enqueued inside
its context (dispatch.py captures the context at enqueue time), so the message's headers carry the job's id too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from structlog.contextvars import bound_contextvars, get_contextvars

from ..models import Provider


def current_request_id() -> str:
    """The request id bound to the work in progress ("" outside any request or job)."""
    return str(get_contextvars().get("request_id") or "")


@contextlib.contextmanager
def job_context(job_id, request_id: str = "") -> Iterator[None]:
    """Bind the job (and its request id, when it has one) for the lines logged inside."""
    fields = {"job_id": str(job_id)}
    if request_id:
        fields["request_id"] = request_id
    with bound_contextvars(**fields):
        yield


@contextlib.contextmanager
def step_context(step) -> Iterator[None]:
    """Bind the step's job, its request id, the step and, for a provider's step, the provider. `step.job` is read
    (select_related it)."""
    fields = {"job_id": str(step.job_id), "step": step.key}
    if step.provider != Provider.LOCAL:
        fields["provider"] = step.provider
    if request_id := step.job.request_id:
        fields["request_id"] = request_id
    with bound_contextvars(**fields):
        yield
