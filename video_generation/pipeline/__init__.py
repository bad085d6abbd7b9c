"""The pipeline: a durable state machine over JobStep rows. Views and tasks call only these functions."""

from .jobs import cancel_job, create_job, estimate_seconds, retry_job

__all__ = ["cancel_job", "create_job", "estimate_seconds", "retry_job"]
