"""What a finished job delivers: its video, and beside it, named after it, a poster frame and a short preview.

One naming rule, read by the compose step (which writes them) and by retention (which keeps them with the video).
"""

from __future__ import annotations

POSTER_SUFFIX = "-poster.jpg"
PREVIEW_SUFFIX = "-preview.mp4"


def _stem(video: str) -> str:
    return video.removesuffix(".mp4")


def poster_of(video: str) -> str:
    """The poster's path or URI, for the video's path or URI."""
    return _stem(video) + POSTER_SUFFIX


def preview_of(video: str) -> str:
    return _stem(video) + PREVIEW_SUFFIX


def delivered(video: str) -> frozenset[str]:
    """The video and the files that go with it (nothing for no video)."""
    return frozenset({video, poster_of(video), preview_of(video)}) if video else frozenset()
