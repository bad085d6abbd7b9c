"""Outbound webhooks to customers, signed the Standard Webhooks way (https://www.standardwebhooks.com):

    webhook-id: <event id>          webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}"))>

The event id is stable per job and status, so receivers can de-duplicate retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

from django.conf import settings

from ..downloads import Artifact, artifact_url
from ..models import VideoJob
from ..services.errors import ProviderError
from ..services.retry import RetryPolicy
from ..services.safe_http import UrlRefusedError, loggable_url, post_json

logger = logging.getLogger(__name__)
MAX_DELIVERIES = 12  # about 45 minutes of retries


def retry_policy() -> RetryPolicy:
    """Backoff from 10 s, each wait at most MAX_COUNTDOWN_SECONDS (a broker countdown far below the visibility
    timeout, so a waiting retry is never delivered twice)."""
    return RetryPolicy(max_attempts=MAX_DELIVERIES, base_seconds=10.0,
                       cap_seconds=settings.PIPELINE["MAX_COUNTDOWN_SECONDS"])


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(job: VideoJob) -> dict:
    final_url = artifact_url(job, Artifact.VIDEO)
    return {
        "type": f"video.{job.status}",
        "job_id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "final_video_url": final_url,
        "error_message": job.error_message,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
    }


def deliver(job_id: str, *, attempt: int = 0) -> float | None:
    """Send the job's current terminal status. Returns seconds to wait before retrying, or None when done."""
    job = VideoJob.objects.filter(id=job_id).first()
    if job is None or not job.webhook_url or not job.is_terminal:
        return None
    body = json.dumps(payload(job), separators=(",", ":")).encode()
    event_id = f"evt_{job.id.hex}_{job.status}"
    timestamp = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": event_id, "webhook-timestamp": str(timestamp)}
    if settings.WEBHOOK_SECRET:
        headers["webhook-signature"] = sign(settings.WEBHOOK_SECRET, event_id, timestamp, body)
    try:
        post_json(job.webhook_url, body, headers=headers)
        return None
    except UrlRefusedError as exc:
        logger.warning("webhook for job %s not sent to %s: %s", job_id, loggable_url(job.webhook_url), exc.message)
        return None
    except ProviderError as exc:
        failure = exc
    deliveries = attempt + 1
    policy = retry_policy()
    if policy.exhausted(deliveries):
        logger.warning("webhook for job %s gave up after %d attempts (%s)", job_id, deliveries, failure)
        return None
    return policy.delay(deliveries, retry_after=getattr(failure, "retry_after", None))
