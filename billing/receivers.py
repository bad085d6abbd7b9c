"""Billing's part in the pipeline's hooks (video_generation/pipeline/signals.py): admit a job under the plan and
hold its credits; settle the hold when the job ends."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from video_generation.pipeline.signals import JobRefused, job_admitting, job_finished

from . import ledger


@receiver(job_admitting, dispatch_uid="billing.admit_job")
def admit_job(sender, *, job, credits: int, retry: bool, **kwargs) -> None:
    try:
        ledger.hold_for_job(job, credits, retry=retry)
    except ledger.PlanRefusal as refused:
        raise JobRefused(400, {"error": "Validation error", "details": refused.errors}) from None
    except ledger.InsufficientCredits as refused:
        raise JobRefused(402, {"error": "Insufficient credits", "required": refused.required,
                               "available": refused.available}) from None
    except ledger.LimitReached as refused:
        raise JobRefused(429, {"error": "Too many videos in progress", "limit": refused.limit}) from None


@receiver(job_finished, dispatch_uid="billing.settle_job")
def settle_job(sender, *, job_id, status: str, credits: int, **kwargs) -> None:
    ledger.settle_job(job_id, status, credits)


def open_account_for_new_user(sender, *, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        ledger.open_account(instance)


def connect_user_signal(user_model) -> None:
    post_save.connect(open_account_for_new_user, sender=user_model, dispatch_uid="billing.open_account")
