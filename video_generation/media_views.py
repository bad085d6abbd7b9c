"""`GET /media/<token>/<filename>`: files behind our own signed links.

The token (see downloads.py) is the credential: no login. It names one artifact of one job; the file is the
one the job row points at, streamed from our storage (local files, or GCS objects when GCS has no signing key).
The filename in the path is cosmetic. A genuine link to a file that retention has deleted answers 410 Gone.
A bad, tampered or expired token, a job that no longer exists or has no such artifact, a file outside our
storage and a missing file all look the same to the caller. A single `Range: bytes=...` is honoured, which
video players (Safari) need for seeking.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from .downloads import ArtifactExpired, gone_body, resolve_link
from .services.storage import StorageError, content_disposition, get_storage

logger = logging.getLogger(__name__)

# Types a browser may render inline from our origin; everything else is sent as an octet-stream download.
_INLINE_PREFIXES = ("image/", "video/", "audio/")
_NOT_INLINE = frozenset({"image/svg+xml"})
_INLINE_TYPES = frozenset({"text/vtt"})  # captions for an HTML <track>: plain cues, no markup a browser runs
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _not_found() -> JsonResponse:
    return JsonResponse({"error": "Link expired or invalid"}, status=404)


class _MediaFileResponse(FileResponse):
    block_size = 256 * 1024


class _Window:
    """Read-only view of `length` bytes of `handle` from `start`; closes `handle` when closed."""

    def __init__(self, handle: Any, start: int, length: int) -> None:
        handle.seek(start)
        self._handle = handle
        self._remaining = length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size is None or size < 0 else min(size, self._remaining)
        chunk = self._handle.read(size)
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._handle.close()


def _parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(start, end inclusive) for one satisfiable range; None to ignore the header; False if unsatisfiable."""
    match = _RANGE_RE.match(header.strip())
    if not match:
        return None  # malformed or multi-range: answer with the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return False
    return start, min(end, size - 1)


def _content_type(name: str, stored_type: str | None) -> str:
    guessed = (stored_type or "").split(";")[0].strip().lower() or mimetypes.guess_type(name)[0] or ""
    if (guessed.startswith(_INLINE_PREFIXES) and guessed not in _NOT_INLINE) or guessed in _INLINE_TYPES:
        return guessed
    return "application/octet-stream"


@require_http_methods(["GET", "HEAD"])
def signed_media(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    try:
        download = resolve_link(token)
    except ArtifactExpired as expired:
        return JsonResponse(gone_body(expired), status=410)
    if download is None:
        return _not_found()
    try:
        handle, size, stored_type = get_storage().open_for_media(download.uri)
    except ValueError:
        return _not_found()
    except StorageError as exc:
        if exc.code == "not_found":
            return _not_found()
        logger.warning("signed media read failed (%s)", exc.code)
        response = JsonResponse({"error": "Temporarily unavailable, please retry"}, status=503)
        response["Retry-After"] = "5"
        return response

    # The stored name, not the download name, says what the bytes are.
    content_type = _content_type(download.uri, stored_type)
    wanted = None
    if "If-Range" not in request.headers:  # no validators to compare against: send the whole file
        wanted = _parse_range(request.headers.get("Range", ""), size)
    if wanted is False:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response

    if wanted:
        start, end = wanted
        length = end - start + 1
        response = _MediaFileResponse(_Window(handle, start, length), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        length = size
        response = _MediaFileResponse(_Window(handle, 0, size), content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = content_disposition(download.file_name)
    return response
