"""The webhooks app's part in the pipeline's and billing's hooks: each writes an event and its deliveries into the
transaction that sent the signal (the job's final transition; the ledger entry that took the credits low)."""

from __future__ import annotations

from django.dispatch import receiver

from billing.signals import credits_low
from video_generation.pipeline.signals import job_finished

from . import services


@receiver(job_finished, dispatch_uid="webhooks.job_finished")
def announce_job_finished(sender, *, job_id, status: str, credits: int, **kwargs) -> None:
    services.job_finished(job_id, status, credits)


@receiver(credits_low, dispatch_uid="webhooks.credits_low")
def announce_credits_low(sender, *, user_id, available: int, threshold: int, **kwargs) -> None:
    services.credits_low(user_id, available, threshold)
