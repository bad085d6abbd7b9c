"""Reads for the endpoints clients poll: the status read is one query, and its answer carries an ETag.

`job_with_steps` loads the job and its steps in one query (a LEFT JOIN, one row per step), with only the columns
the status answer shows; the instances it returns load any other column lazily, so they are never wrong, only
slower if misused. The ORM writes that query's SQL once per process (`status_queryset`); each read runs it with
its own values and turns the rows into instances as the ORM would (video_saas/raw_rows.py, as billing/sql.py does).

The ETag is a hash of everything the answer shows except the download links, which are issued afresh on every
read (each differs). For those it hashes which links the answer has and the current *link window*: half of a
link's lifetime. A client that gets 304 keeps the body it has, whose links were issued in the same window, so they
still have at least half their lifetime left; when the window turns, the tag changes and the client gets new
links. The tag is weak (W/): two answers with the same tag are equivalent, not byte-identical.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils.cache import parse_etags

from video_saas.raw_rows import in_model_order, instance_from_row, sql_of

from .api_errors import JobNotFound
from .downloads import Artifact, artifact_uri, link_ttl
from .models import JobStep, VideoJob

ETAG_VERSION = "status-v3"  # change when the answer's shape changes, so no old tag matches a new shape
LINK_FIELDS = {"veo_video_url": Artifact.BROLL, "final_video_url": Artifact.VIDEO, "poster_url": Artifact.POSTER,
               "preview_url": Artifact.PREVIEW, "captions_srt_url": Artifact.CAPTIONS_SRT,
               "captions_vtt_url": Artifact.CAPTIONS_VTT}


JOB_COLUMNS = in_model_order(VideoJob, {
    "id", "user_id", "status", "progress", "product_title", "created_at", "updated_at", "completed_at",
    "processing_time_seconds", "veo_video_gcs_uri", "final_video_uri", "poster_uri", "preview_uri",
    "captions_srt_uri", "captions_vtt_uri", "captions", "broll_fit", "scene_transitions",
    "error_message", "credits_used",
    "aspect_ratio", "quality", "broll_audio", "duration_seconds", "quote",
    "cost_usd",
    "video_expires_at", "video_expired_at", "intermediates_expired_at"})
STEP_COLUMNS = in_model_order(JobStep, {"id", "job_id", "key", "kind", "state", "attempts", "started_at",
                                        "finished_at", "error_message", "cost_usd"})


def parse_job_id(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound() from None


def job_with_steps(*, user, job_id: str) -> VideoJob:
    """The caller's job with its steps prefetched, in one query; JobNotFound for anything else."""
    parsed = parse_job_id(job_id)
    with connection.cursor() as cursor:
        cursor.execute(_status_sql(connection.vendor), [_prepared_job_id(parsed), user.pk])
        rows = cursor.fetchall()
    if not rows:
        raise JobNotFound()
    job = instance_from_row(VideoJob, JOB_COLUMNS, rows[0][:len(JOB_COLUMNS)])
    step_id = len(JOB_COLUMNS) + STEP_COLUMNS.index("id")  # NULL: the job has no steps (the LEFT JOIN's one row)
    steps = [instance_from_row(JobStep, STEP_COLUMNS, row[len(JOB_COLUMNS):]) for row in rows
             if row[step_id] is not None]
    for step in steps:
        step.job = job
    prefetched = JobStep.objects.filter(job=job)  # what the prefetch would have run; its cache is filled here
    prefetched._result_cache, prefetched._prefetch_done = steps, True
    job._prefetched_objects_cache = {"steps": prefetched}
    return job


def status_queryset(job_id: uuid.UUID, user_id: int):
    """The ORM's spelling of the status read: one row per step (or one row with NULL steps)."""
    return (VideoJob.objects.filter(id=job_id, user_id=user_id).order_by("steps__id")
            .values_list(*JOB_COLUMNS, *(f"steps__{column}" for column in STEP_COLUMNS)))


# The status read is every client's poll: its SQL is built by the ORM once per process (building it is most of
# the read's CPU), then run with each request's values, converted by the fields' own converters.
_SAMPLE_JOB_ID, _SAMPLE_USER_ID = uuid.UUID(int=0x5EED), 0x5EED


def _prepared_job_id(job_id: uuid.UUID):
    return VideoJob._meta.pk.get_db_prep_value(job_id, connection)


@functools.cache
def _status_sql(vendor: str) -> str:
    return sql_of(status_queryset(_SAMPLE_JOB_ID, _SAMPLE_USER_ID), [_prepared_job_id(_SAMPLE_JOB_ID), _SAMPLE_USER_ID])


def status_etag(job: VideoJob, body_without_links: dict, *, now: float | None = None) -> str:
    """The weak ETag of a status answer (see the module's docstring)."""
    # Which files the links point at (their storage URIs, hashed with the rest, never shown), not the links.
    links = sorted((field, uri) for field, artifact in LINK_FIELDS.items() if (uri := artifact_uri(job, artifact)))
    window = int((time.time() if now is None else now) // max(1, link_ttl(None) // 2)) if links else None
    shown = {key: value for key, value in body_without_links.items() if key not in LINK_FIELDS}
    text = json.dumps([ETAG_VERSION, shown, links, window], sort_keys=True, cls=DjangoJSONEncoder)
    return 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def matches_if_none_match(header: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of the request's If-None-Match with our tag ("*" matches any)."""
    if not header:
        return False
    tags = parse_etags(header)
    if "*" in tags:
        return True
    ours = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == ours for tag in tags)
