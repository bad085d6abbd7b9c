"""The customer's data: erasing an account, and exporting it.

Erasure (`erase_account`, the one way an account is deleted; README "Deletion, export and retention"):

1. every running job is cancelled (pipeline.jobs.cancel_job: no further paid call; its final transition releases
   its hold on the ledger, so nothing is charged);
2. in one transaction, under the locks the pipeline takes (the user row first, so no new job can be accepted for
   them meanwhile, then their jobs, then the account): each job leaves an anonymous usage row and a StoragePurge
   row, and is deleted with its steps; the account (billing's UserProfile) is kept, anonymised: no user, Stripe ids
   cleared, `erased_at` set, staff-typed ledger memos replaced; `account_erasing` lets other domains delete what is
   theirs; sessions and admin log lines that name the user go; the user row goes last, and with it, by CASCADE,
   their DRF tokens, API keys and webhook endpoints;
3. after the commit the purges delete every stored file of those jobs; one that fails, and a second look a few
   minutes later (for a file a step that was still running writes after the first), are the retention task's.

Erasing a user that no longer exists does nothing, so a repeat is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, transaction
from django.utils import timezone

from billing import ledger
from billing.models import LedgerEntry, UserProfile
from video_generation import retention
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import cancel_job
from video_generation.pipeline.states import ACTIVE_STATUSES
from video_generation.pipeline.transitions import cancel_job_row

from .models import JobUsageRecord
from .signals import account_erasing

logger = logging.getLogger(__name__)

ERASE_ATTEMPTS = 3  # the erasure's transaction is tried again if the database picks it to end a deadlock
SESSION_SCAN_BATCH = 1000


class SubscriptionActive(Exception):
    """The account pays for a plan at Stripe: erasing it would leave the subscription charging nobody's account."""


class NotConfirmed(Exception):
    """The confirmation is not the user's username: nothing is erased."""


# --- Erasure --------------------------------------------------------------------------------------------------

def erase_confirmed_account(user, confirmation: str) -> bool:
    """erase_account for a user who typed their username to confirm it; NotConfirmed (nothing erased) otherwise."""
    if confirmation != user.get_username():
        raise NotConfirmed()
    return erase_account(user.pk)


def erase_account(user_id, *, now: datetime | None = None) -> bool:
    """Erase the user and everything of theirs but the anonymised record of money; False if there was no such user.
    Raises SubscriptionActive (nothing changed) while a paid subscription runs."""
    now = now or timezone.now()
    if UserProfile.objects.filter(user_id=user_id).exclude(stripe_subscription_id="").exists():
        raise SubscriptionActive()
    stop_running_jobs(user_id)
    for attempt in range(1, ERASE_ATTEMPTS + 1):
        try:
            purge_ids = erase_rows(user_id, now=now)
            break
        except OperationalError:
            if attempt == ERASE_ATTEMPTS:
                raise
            logger.warning("erasure of a user met a deadlock; trying again (%d)", attempt)
    if purge_ids is None:
        return False
    retention.carry_out(purge_ids)
    return True


def stop_running_jobs(user_id) -> int:
    """Cancel the user's running jobs, each in its own transition (the same as the cancel endpoint)."""
    return sum(cancel_job(job) for job in VideoJob.objects.filter(user_id=user_id, status__in=ACTIVE_STATUSES))


def erase_rows(user_id, *, now: datetime) -> list[int] | None:
    """Step 2 of the erasure, in one transaction; the ids of the purges it queued, or None if the user is gone."""
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return None
        purge_ids = erase_user_data(user_id, now=now)
        user._data_erased = True  # for erase_before_user_deletion: done already
        user.delete()
    return purge_ids


def erase_user_data(user_id, *, now: datetime) -> list[int]:
    """Everything of the user but the user row, in the caller's transaction; the ids of the purges it queued."""
    jobs = list(VideoJob.objects.select_for_update().filter(user_id=user_id).order_by("id"))
    for job in jobs:
        if job.status in ACTIVE_STATUSES:  # accepted after the first pass: stopped here, in this transaction
            cancel_job_row(job.id)
    account = UserProfile.objects.select_for_update().filter(user_id=user_id).first()
    if account is not None:
        keep_usage(account, [job.id for job in jobs])
    purge_ids = [retention.queue_purge(job.id, passes=2).id for job in jobs]
    VideoJob.objects.filter(id__in=[job.id for job in jobs]).delete()
    if account is not None:
        anonymise(account, now=now)
    account_erasing.send(sender=get_user_model(), user_id=user_id)
    forget_sessions(user_id)
    forget_admin_history(user_id, account, jobs)
    return purge_ids


def erase_before_user_deletion(sender, *, instance, **kwargs) -> None:
    """pre_delete of the user model: a user deleted some other way (the admin's user page, a script) is erased the
    same way, in the deletion's transaction; the files go once it commits (or with the retention task)."""
    if getattr(instance, "_data_erased", False):
        return
    purge_ids = erase_user_data(instance.pk, now=timezone.now())
    transaction.on_commit(lambda: retention.carry_out(purge_ids))


def keep_usage(account: UserProfile, job_ids: list) -> None:
    """One anonymous usage row per job (the record accounting keeps), read after the jobs' final transitions."""
    fields = ["id", "status", "quality", "created_at", "completed_at", "duration_seconds", "credits_used", "cost_usd"]
    rows = VideoJob.objects.filter(id__in=job_ids).values(*fields)
    JobUsageRecord.objects.bulk_create(
        [JobUsageRecord(account=account, job_id=row.pop("id"), **row) for row in rows], ignore_conflicts=True)


def anonymise(account: UserProfile, *, now: datetime) -> None:
    UserProfile.objects.filter(id=account.id).update(user=None, erased_at=now, stripe_customer_id="",
                                                     stripe_subscription_id="", updated_at=now)
    ledger.erase_free_text(account.id)


def forget_sessions(user_id) -> int:
    """Delete the user's sessions (their data names the user). Sessions are not indexed by user, so the live ones
    are read in batches; a session of a deleted user would not log anyone in, but it would still name them."""
    wanted = str(user_id)
    doomed, last_key = [], ""
    while True:
        batch = list(Session.objects.filter(session_key__gt=last_key).order_by("session_key")[:SESSION_SCAN_BATCH])
        if not batch:
            break
        doomed += [session.session_key for session in batch
                   if str(session.get_decoded().get("_auth_user_id")) == wanted]
        last_key = batch[-1].session_key
    Session.objects.filter(session_key__in=doomed).delete()
    return len(doomed)


def forget_admin_history(user_id, account: UserProfile | None, jobs: list[VideoJob]) -> None:
    """The admin's log lines about the user, their account or their jobs name them (object_repr): deleted. (Lines
    the user wrote as staff go with the user row, by CASCADE.)"""
    about = [(get_user_model(), [user_id]), (VideoJob, [job.id for job in jobs])]
    if account is not None:
        about.append((UserProfile, [account.id]))
    for model, ids in about:
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model),
                                object_id__in=[str(pk) for pk in ids]).delete()


# --- Export ---------------------------------------------------------------------------------------------------

EXPORT_CHUNK = 200
STEP_FIELDS = ["key", "kind", "state", "attempts", "started_at", "finished_at", "error_message", "cost_usd"]
LEDGER_FIELDS = ["id", "kind", "amount", "balance_after", "job_id", "payment_ref", "memo", "created_at"]


def export_account(user) -> Iterator[str]:
    """The account's data as one JSON document, produced piece by piece: what it holds is documented by
    accounts.views.AccountExportSerializer. Jobs and ledger entries are read in chunks, so a big account is never
    all in memory. Nothing in it is a credential: no token, key, secret or signed link."""
    from billing import services as billing

    encode = DjangoJSONEncoder().encode
    yield '{"exported_at": ' + encode(timezone.now())
    yield ', "account": ' + encode(account_facts(user, billing.summary(user)))
    yield ', "jobs": ['
    for index, job in enumerate(VideoJob.objects.filter(user=user).order_by("created_at", "id")
                                .prefetch_related("steps").iterator(chunk_size=EXPORT_CHUNK)):
        yield ("," if index else "") + encode(job_facts(job))
    yield '], "ledger": ['
    entries = LedgerEntry.objects.filter(account__user=user).order_by("id").values(*LEDGER_FIELDS)
    for index, entry in enumerate(entries.iterator(chunk_size=EXPORT_CHUNK)):
        entry["job"] = entry.pop("job_id")
        yield ("," if index else "") + encode(entry)
    yield "]}"


def account_facts(user, summary: dict) -> dict:
    return {"username": user.get_username(), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "date_joined": user.date_joined, **summary}


def job_facts(job: VideoJob) -> dict:
    """What the customer sent and what became of it; the webhook URL with any credential in it redacted."""
    from video_generation.services.redact import redact

    steps = sorted(job.steps.all(), key=lambda step: step.id)
    return {
        "id": job.id, "status": job.status, "progress": job.progress, "error_message": job.error_message,
        "created_at": job.created_at, "completed_at": job.completed_at,
        "brief": {"product_id": job.product_id, "product_title": job.product_title, "scenes": job.scenes_data,
                  "avatar_script": job.avatar_script, "avatar_id": job.avatar_id, "voice_id": job.voice_id,
                  "image_url": job.image_url, "aspect_ratio": job.aspect_ratio, "quality": job.quality,
                  "broll_audio": job.broll_audio, "captions": job.captions, "broll_fit": job.broll_fit,
                  "scene_transitions": job.scene_transitions,
                  "avatar_position": {"scale": job.avatar_scale, "x": job.avatar_x, "y": job.avatar_y},
                  "webhook_url": redact(job.webhook_url) if job.webhook_url else None},
        "credits_quoted": job.quote.get("credits"), "credits_used": job.credits_used, "cost_usd": job.cost_usd,
        "duration_seconds": job.duration_seconds, "processing_time_seconds": job.processing_time_seconds,
        "expired": job.video_expired_at is not None, "video_expires_at": job.video_expires_at,
        "video_expired_at": job.video_expired_at, "intermediates_expired_at": job.intermediates_expired_at,
        "download": f"/api/video/{job.id}/download/" if job.status == JobStatus.COMPLETED else None,
        "steps": [{field: getattr(step, field) for field in STEP_FIELDS} for step in steps],
    }
