"""The pipeline's hooks for the domains built on it (billing and webhooks today).

The pipeline never imports those domains: they connect receivers to these signals in their AppConfig.ready().
Each signal is sent inside the database transaction that makes the change, so what a receiver writes (a ledger
entry, an outbox row) commits or rolls back with it, and a receiver that raises undoes the change.

- `job_admitting(job, credits, retry)`: a job is being accepted (created, or a failed job retried) at its quoted
  `credits`. A receiver may refuse it by raising JobRefused (402 for too few credits, for instance); nothing is
  then created or changed.
- `job_finished(job_id, status, credits)`: the job has just reached `completed` (`credits`: what the finished
  video is charged, pricing.credits_charged), `failed` or `cancelled` (`credits` 0). Sent once per final
  transition.
"""

from typing import Any

from django.dispatch import Signal


class JobRefused(Exception):
    """A job that may not be accepted: the HTTP status and the JSON body the API answers with.

    `body["error"]` is a sentence for a person (the admin and the CLI show it as it is)."""

    def __init__(self, status_code: int, body: dict[str, Any]):
        super().__init__(body["error"])
        self.status_code = status_code
        self.body = body


job_admitting = Signal()
job_finished = Signal()
