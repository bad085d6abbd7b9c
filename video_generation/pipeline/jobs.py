"""Job-level services: create, cancel, retry. (Stub signatures; the state machine fills them in.)"""

from __future__ import annotations

from typing import Any

from ..models import VideoJob


def estimate_seconds(*, scene_count: int, heygen_mode: str) -> int:
    raise NotImplementedError


def create_job(*, user, data: dict[str, Any]) -> VideoJob:
    """Save a job from validated request data and start it once the transaction commits.

    `data` is VideoGenerationRequestSerializer.validated_data: product_id, product_title, scenes (list of
    dicts), image_url, avatar_id, voice_id, avatar_script, avatar_position {scale, x, y}, aspect_ratio,
    webhook_url. If the broker is down the job is still saved; the sweeper starts it later.
    """
    raise NotImplementedError


def cancel_job(job: VideoJob) -> VideoJob:
    """Stop a job: no further paid call is made for it. Terminal jobs are returned unchanged."""
    raise NotImplementedError


def retry_job(job: VideoJob) -> VideoJob:
    """Resume a failed job from its last good step (succeeded steps are kept, failed ones reset)."""
    raise NotImplementedError
