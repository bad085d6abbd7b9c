"""Test data shared by the test modules."""

from video_generation.models import VideoJob

JOB_DEFAULTS = {
    "product_title": "Headphones", "scenes_data": [], "avatar_script": "Hello", "avatar_id": "a1",
    "voice_id": "v1", "image_url": "https://cdn.example.com/p.jpg",
}


def make_job(user, **fields) -> VideoJob:
    return VideoJob.objects.create(user=user, **{**JOB_DEFAULTS, **fields})
