"""How long a job's stored files are kept, and deleting them.

Every file of a job lives under `jobs/<job id>/` in our storage (pipeline/handlers.py `job_path`): the product
image copy (`input/`), the Veo clips and chains (`veo-*/attempt-*/`), the joined B-roll, the presenter render and
the final video with its poster and preview (deliverables.py). The final video, with those two, is kept
VIDEO_RETENTION_DAYS after delivery (or its plan's retention, fixed on delivery: `video_expires_at`); everything
else, the intermediates, INTERMEDIATE_RETENTION_DAYS after the job ended (completed, failed or cancelled).

Expiry is decided on the row, then carried out: one transaction marks the job (`intermediates_expired_at`,
`video_expired_at`, conditional UPDATEs that only match a finished job) and writes a StoragePurge row; the files
are deleted after it commits, and a purge that fails is retried by the next run. A job that is running, or is
being retried, is never matched, and a failed job whose intermediates are gone can no longer be retried
(pipeline/jobs.py retry_job), so nothing a job still needs is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .deliverables import delivered
from .models import JobStatus, StoragePurge, VideoJob
from .services.storage import StorageError, get_storage

logger = logging.getLogger(__name__)

JOB_FILES_ROOT = "jobs"

_retention_overrides: list[Callable[[object], int | None]] = []


def register_video_retention(lookup: Callable[[object], int | None]) -> None:
    """Let another domain set how long a user's finished videos are kept (billing: the plan's). `lookup(user_id)`
    returns days, or None to leave VIDEO_RETENTION_DAYS in force."""
    if lookup not in _retention_overrides:
        _retention_overrides.append(lookup)


def video_retention_days(user_id) -> int:
    for lookup in _retention_overrides:
        days = lookup(user_id)
        if days is not None:
            return days
    return settings.VIDEO_RETENTION_DAYS


def video_expiry(user_id, delivered_at: datetime) -> datetime:
    """When a video delivered now to `user_id` will be deleted (set on the job as it completes)."""
    return delivered_at + timedelta(days=video_retention_days(user_id))


# --- What a job's files are -----------------------------------------------------------------------------------

def job_files_prefix(job_id) -> str:
    """The storage URI prefix every file of the job is under."""
    return get_storage().uri_for(f"{JOB_FILES_ROOT}/{job_id}") + "/"


def job_files(job_id) -> list[str]:
    return get_storage().list_uris(job_files_prefix(job_id))


def delete_job_files(job_id, *, keep_uri: str = "") -> int:
    """Delete every stored file of the job except the video `keep_uri` and its poster and preview
    (deliverables.py); returns how many were there. Idempotent."""
    storage = get_storage()
    kept = delivered(keep_uri)
    return sum(storage.delete(uri) for uri in job_files(job_id) if uri not in kept)


# --- Purges: the row first, the deletion second ---------------------------------------------------------------

def queue_purge(job_id, *, keep_uri: str = "", passes: int = 1, now: datetime | None = None) -> StoragePurge:
    """Record that the job's files (but `keep_uri`) are to be deleted, due `now`; in the caller's transaction."""
    return StoragePurge.objects.create(job_id=job_id, keep_uri=keep_uri, passes_left=passes,
                                       due_at=now or timezone.now())


def carry_out(purge_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Delete the files of these purges; one whose storage call fails stays due and is retried. Returns how many
    purges made a pass."""
    now = now or timezone.now()
    done = 0
    for purge in StoragePurge.objects.filter(id__in=list(purge_ids), passes_left__gt=0, due_at__lte=now):
        try:
            delete_job_files(purge.job_id, keep_uri=purge.keep_uri)
        except (StorageError, ValueError) as exc:
            logger.warning("purge of job %s failed (%s); retried on the next run", purge.job_id, type(exc).__name__)
            StoragePurge.objects.filter(id=purge.id).update(attempts=F("attempts") + 1)
            continue
        recheck = now + timedelta(seconds=settings.PURGE_RECHECK_SECONDS)
        StoragePurge.objects.filter(id=purge.id).update(passes_left=F("passes_left") - 1, due_at=recheck,
                                                        attempts=F("attempts") + 1)
        done += 1
    StoragePurge.objects.filter(passes_left=0).delete()
    return done


def carry_out_due(*, now: datetime | None = None, batch: int | None = None) -> int:
    now = now or timezone.now()
    due = StoragePurge.objects.filter(passes_left__gt=0, due_at__lte=now).order_by("due_at", "id")
    return carry_out(due.values_list("id", flat=True)[: batch or settings.RETENTION_BATCH], now=now)


# --- Expiry ---------------------------------------------------------------------------------------------------

def expire_intermediates(job_id, *, now: datetime) -> bool:
    """Mark the finished job's intermediates expired and queue their deletion (the final video is spared while it
    is kept). False if the job is running, was retried meanwhile, or was marked before."""
    cutoff = now - timedelta(days=settings.INTERMEDIATE_RETENTION_DAYS)
    with transaction.atomic():
        marked = VideoJob.objects.filter(id=job_id, status__in=JobStatus.terminal(), completed_at__lte=cutoff,
                                         intermediates_expired_at__isnull=True).update(intermediates_expired_at=now)
        if not marked:
            return False
        job = VideoJob.objects.only("final_video_uri", "video_expired_at").get(id=job_id)
        queue_purge(job_id, keep_uri="" if job.video_expired_at else job.final_video_uri, now=now)
    return True


def expire_video(job_id, *, now: datetime) -> bool:
    """Mark the delivered video expired and queue the deletion of everything of the job that is left."""
    with transaction.atomic():
        marked = VideoJob.objects.filter(id=job_id, status=JobStatus.COMPLETED, video_expires_at__lte=now,
                                         video_expired_at__isnull=True).update(video_expired_at=now)
        if not marked:
            return False
        queue_purge(job_id, now=now)
    return True


def intermediates_due(now: datetime, batch: int) -> list:
    cutoff = now - timedelta(days=settings.INTERMEDIATE_RETENTION_DAYS)
    return list(VideoJob.objects.filter(intermediates_expired_at__isnull=True, completed_at__lte=cutoff,
                                        status__in=JobStatus.terminal())
                .order_by("completed_at").values_list("id", flat=True)[:batch])


def videos_due(now: datetime, batch: int) -> list:
    return list(VideoJob.objects.filter(video_expired_at__isnull=True, video_expires_at__lte=now,
                                        status=JobStatus.COMPLETED)
                .order_by("video_expires_at").values_list("id", flat=True)[:batch])


def sweep(*, now: datetime | None = None, batch: int | None = None) -> dict:
    """The beat task: mark at most `batch` jobs of each kind expired, then carry out the purges that are due
    (these and any left over from a run that failed). Safe to run twice at once: each mark is a conditional UPDATE."""
    now = now or timezone.now()
    batch = batch or settings.RETENTION_BATCH
    intermediates = sum(expire_intermediates(job_id, now=now) for job_id in intermediates_due(now, batch))
    videos = sum(expire_video(job_id, now=now) for job_id in videos_due(now, batch))
    purged = carry_out_due(now=now, batch=batch * 2)
    if intermediates or videos or purged:
        logger.info("retention: %d jobs' intermediates and %d videos expired; %d purges carried out",
                    intermediates, videos, purged)
    return {"intermediates_expired": intermediates, "videos_expired": videos, "purges": purged}
