"""What a finished job delivers: its video, and beside it, named after it, a poster frame, a short preview and its
captions as SubRip and WebVTT.

One naming rule (``SIDE_FILES``: the job field that records a file, and the suffix that names it after the video),
read by the compose step (which writes them), by the job's completion (which records them) and by retention
(which keeps them with the video and deletes them with it).
"""

from __future__ import annotations

# job field: (suffix after the video's name less ".mp4", content type)
SIDE_FILES = {
    "poster_uri": ("-poster.jpg", "image/jpeg"),
    "preview_uri": ("-preview.mp4", "video/mp4"),
    "captions_srt_uri": ("-captions.srt", "application/x-subrip"),
    "captions_vtt_uri": ("-captions.vtt", "text/vtt"),
}


def _stem(video: str) -> str:
    return video.removesuffix(".mp4")


def beside(video: str, field: str) -> str:
    """The path or URI of the side file ``field`` (a key of SIDE_FILES), for the video's path or URI."""
    return _stem(video) + SIDE_FILES[field][0]


def content_type(field: str) -> str:
    return SIDE_FILES[field][1]


def poster_of(video: str) -> str:
    return beside(video, "poster_uri")


def preview_of(video: str) -> str:
    return beside(video, "preview_uri")


def recorded(result: dict) -> dict[str, str]:
    """The side files a compose step's result names, as job fields (those it did not make: "")."""
    return {field: str(result.get(field) or "") for field in SIDE_FILES}


def delivered(video: str) -> frozenset[str]:
    """The video and the files that go with it (nothing for no video)."""
    return frozenset({video, *(beside(video, field) for field in SIDE_FILES)}) if video else frozenset()
