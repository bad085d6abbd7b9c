"""The pipeline: a durable state machine over JobStep rows. Views and tasks call only these functions."""

from .jobs import (
    IdempotencyKeyReused,
    cancel_job,
    create_job,
    create_job_idempotently,
    find_replay,
    retry_job,
)
from .signals import JobRefused

__all__ = ["IdempotencyKeyReused", "JobRefused", "cancel_job", "create_job", "create_job_idempotently",
           "find_replay", "retry_job"]
