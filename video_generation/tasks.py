"""Celery tasks: thin doorbells. Each takes an id, re-reads the rows, and does one short step."""

from celery import shared_task

from . import retention
from .pipeline import machine


@shared_task(acks_late=True)
def process_video_job(job_id: str) -> None:
    """Start the job, or advance it from wherever it stands."""
    machine.advance_job(job_id)


@shared_task(acks_late=True)
def run_step(step_id: str) -> None:
    machine.run_step(int(step_id))


@shared_task(acks_late=True)
def poll_step(step_id: str) -> None:
    machine.poll_step(int(step_id))


@shared_task(acks_late=True)
def sweep() -> dict:
    return machine.sweep()


@shared_task(acks_late=True)
def expire_stored_files() -> dict:
    """Retention: delete the files of jobs past INTERMEDIATE_RETENTION_DAYS / their video's expiry (batched;
    idempotent), and carry out pending purges (account erasures, earlier failures)."""
    return retention.sweep()
