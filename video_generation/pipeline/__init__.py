"""The pipeline: a durable state machine over JobStep rows. Views and tasks call only these functions."""

from .jobs import (
    IdempotencyKeyReused,
    cancel_job,
    create_job,
    create_job_idempotently,
    estimate_seconds,
    find_replay,
    retry_job,
)

__all__ = ["IdempotencyKeyReused", "cancel_job", "create_job", "create_job_idempotently", "estimate_seconds",
           "find_replay", "retry_job"]
