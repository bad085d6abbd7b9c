"""HeyGen client: the v3 presenter render (default) and the brief's legacy v2 flow.

Wire contract: HeyGen's API reference (https://docs.heygen.com/reference); the v3 endpoints as HeyGen's own CLI
generates them from its OpenAPI description (github.com/heygen-com/heygen-cli, gen/video.go).

v3 (default): `create_presenter_video` renders the presenter alone, either as a transparent webm (needs an
avatar that supports matting) or as an mp4 on a solid key colour; our compositor lays it over the B-roll.
Poll with `get_video`.

v2 (legacy): `upload_video_asset` sends the B-roll as raw bytes to the upload host, `generate_avatar_video`
asks HeyGen to compose the avatar over it, `get_video_status_v2` polls.

Every request goes through `http.send()`, which turns the exchange into a response or a typed ProviderError.
Error messages never contain the API key or a signed URL's query string; they may be shown to users.
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from django.conf import settings

from .errors import (
    AmbiguousError,
    PermanentError,
    ProviderError,
    RetryableError,
    error_for_response,
    error_for_transport,
)
from .http import json_body, send
from .redact import readable
from .storage import atomic_path

logger = logging.getLogger(__name__)

PROVIDER = "heygen"

V3_ASPECT_RATIOS = frozenset({"16:9", "9:16", "4:5", "5:4", "1:1", "auto"})
V3_RESOLUTIONS = frozenset({"4k", "1080p", "720p"})
V2_MIN_DIMENSION = 128
V2_MAX_DIMENSION = 4096
V2_MAX_SCALE = 5.0
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
DEFAULT_DOWNLOAD_DEADLINE_SECONDS = 180.0  # below CELERY_TASK_SOFT_TIME_LIMIT (240 s)
MAX_ERROR_MESSAGE_CHARS = 500
LOOKS_PAGE_SIZE = 50  # GET /v3/avatars/looks: limit 1-50 (heygen-cli gen/avatar.go)
VOICES_PAGE_SIZE = 100  # GET /v3/voices: limit 1-100 (heygen-cli gen/voice.go)
MAX_BULK_STATUS_IDS = 100  # GET /v3/videos/statuses answers up to 100 videos (corrections.md 21)

_HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_MATTING_WORDS = ("matting", "transparen", "webm", "alpha channel", "remove_background", "background removal")

State = Literal["pending", "processing", "completed", "failed"]

# Provider status -> our state. Anything not listed is a non-terminal state we do not know yet: "processing".
_STATES: dict[str, State] = {
    "waiting": "pending",
    "pending": "pending",
    "queued": "pending",
    "processing": "processing",
    "generating": "processing",
    "rendering": "processing",
    "completed": "completed",
    "failed": "failed",
}


class MattingUnsupportedError(PermanentError):
    """The avatar cannot render a transparent (webm) presenter: fall back to a key-colour mp4."""


@dataclass(frozen=True)
class AvatarLook:
    """One avatar look of `GET /v3/avatars/looks` (its `id` is what a render takes as avatar_id)."""

    avatar_id: str
    name: str
    gender: str
    avatar_type: str
    default_voice_id: str
    preview_image_url: str
    preview_video_url: str
    transparent: bool | None  # can it render as a transparent webm? None: not known until a render tries


@dataclass(frozen=True)
class Voice:
    """One voice of `GET /v3/voices`."""

    voice_id: str
    name: str
    language: str
    gender: str
    preview_audio_url: str


@dataclass(frozen=True)
class Listing:
    """A whole catalogue listing, page after page; `complete` is False when it stopped at the page limit."""

    items: tuple
    complete: bool


@dataclass(frozen=True)
class HeyGenVideo:
    video_id: str
    state: State
    video_url: str = ""
    duration: float | None = None
    subtitle_url: str = ""  # v3: the narration's SubRip file (HeyGen sends one with every render)
    failure_code: str = ""
    failure_message: str = ""


# --- parsing helpers -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A provider value as a string; None and containers become ""."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _error_fields(body: Any) -> tuple[str, str, str]:
    """(code, message, param) from any HeyGen error envelope (see parse_error)."""
    if isinstance(body, str):
        return "", body.strip(), ""
    if not isinstance(body, dict):
        return "", "", ""
    error = body.get("error")
    if isinstance(
        error, dict
    ):  # v3 {"error": {code, message, param, doc_url}} and v2 {"data": null, "error": {...}}
        message = _text(error.get("message")) or _text(error.get("msg")) or _text(error.get("detail"))
        return _text(error.get("code")), message, _text(error.get("param"))
    if isinstance(error, str) and error.strip():  # v2 clients that saw "error" as a plain string
        code = body.get("code")
        return ("" if code in (None, 100) else _text(code)), error.strip(), ""
    # legacy {"code": 40001, "message": "..."} (and "msg"/"detail" spellings)
    code = body.get("code")
    message = _text(body.get("message")) or _text(body.get("msg")) or _text(body.get("detail"))
    return ("" if code in (None, 100) else _text(code)), message, ""


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from a HeyGen error response, whatever envelope it uses.

    Handles v3 `{"error": {"code", "message", "param", "doc_url"}}`, v2 `{"data": null, "error": {"code",
    "message"}}`, a plain-string `error`, the legacy `{"code": 40001, "message": "..."}`, and non-JSON bodies
    (returns ("", reason phrase)). Numeric codes come back as strings.
    """
    try:
        body = response.json()
    except ValueError:
        return "", response.reason_phrase or ""
    code, message, _param = _error_fields(body)
    return code, message


def _error_param(response: httpx.Response) -> str:
    try:
        return _error_fields(response.json())[2]
    except ValueError:
        return ""


def _duration(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _state(raw: Any) -> State:
    return _STATES.get(_text(raw).lower(), "processing")


def _data(body: dict) -> dict:
    data = body.get("data")
    if not isinstance(data, dict):
        raise RetryableError("HeyGen sent a response without data", provider=PROVIDER, code="bad_response")
    return data


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _finite(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite")
    return number


def look_transparency(item: dict) -> bool | None:
    """Whether a look can be rendered transparent (`output_format: "webm"`). HeyGen's look schema has no such flag
    (heygen-cli gen/avatar.go), only `avatar_type`; what it documents: webm needs an avatar that supports matting,
    video avatars must be trained with matting, a photo avatar is a still brought to life. So studio avatars yes,
    photo avatars no, video avatars (digital twins) not known until a render tries (None)."""
    return {"studio_avatar": True, "photo_avatar": False}.get(_text(item.get("avatar_type")))


def _look(item: dict) -> AvatarLook:
    return AvatarLook(
        avatar_id=_text(item.get("id")), name=_text(item.get("name")), gender=_text(item.get("gender")).lower(),
        avatar_type=_text(item.get("avatar_type")), default_voice_id=_text(item.get("default_voice_id")),
        preview_image_url=_text(item.get("preview_image_url")),
        preview_video_url=_text(item.get("preview_video_url")), transparent=look_transparency(item))


def _voice(item: dict) -> Voice:
    return Voice(
        voice_id=_text(item.get("voice_id")) or _text(item.get("id")), name=_text(item.get("name")),
        language=_text(item.get("language")), gender=_text(item.get("gender")).lower(),
        preview_audio_url=_text(item.get("preview_audio_url")))


# --- the client ----------------------------------------------------------------------------------------


class HeyGenService:
    """Synchronous HeyGen client. One instance holds one httpx.Client; call close() (or use `with`).

    Arguments left as None come from settings (HEYGEN_API_KEY, HEYGEN_API_BASE_URL, HEYGEN_UPLOAD_BASE_URL,
    HEYGEN_TIMEOUT_SECONDS). Base URLs may carry a path prefix (http://127.0.0.1:8900/heygen); it is kept.
    A client passed in as `http_client` is used as is and not closed by close().
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        upload_base_url: str | None = None,
        http_client: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        self._api_key = settings.HEYGEN_API_KEY if api_key is None else api_key
        self._base_url = (settings.HEYGEN_API_BASE_URL if base_url is None else base_url).rstrip("/")
        self._upload_base_url = (
            settings.HEYGEN_UPLOAD_BASE_URL if upload_base_url is None else upload_base_url
        ).rstrip("/")
        seconds = float(settings.HEYGEN_TIMEOUT_SECONDS if timeout is None else timeout)
        self._timeout = httpx.Timeout(seconds, connect=min(seconds, 10.0))
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(
            timeout=self._timeout, trust_env=False, follow_redirects=False
        )

    def __repr__(self) -> str:  # never show the key
        return f"HeyGenService(base_url={self._base_url!r})"

    def __enter__(self) -> HeyGenService:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- v3 --------------------------------------------------------------------------------------------

    def create_presenter_video(
        self,
        *,
        avatar_id: str,
        voice_id: str,
        script: str,
        aspect_ratio: str,
        idempotency_key: str,
        transparent: bool = True,
        background_color: str | None = None,
        resolution: str | None = None,
        title: str = "",
        callback_url: str = "",
        callback_id: str = "",
    ) -> str:
        """Start a v3 presenter render (`POST /v3/videos`, type "avatar") and return its video_id.

        transparent=True asks for `output_format: "webm"` (alpha; no background may be sent, so
        `background_color` is ignored). transparent=False renders an mp4 on `background_color` (default
        HEYGEN_KEY_COLOR) for chroma keying. If HeyGen says the avatar cannot be matted,
        MattingUnsupportedError is raised so the caller can retry with transparent=False.

        Idempotency: the request carries `Idempotency-Key: <idempotency_key>`; HeyGen replays the original
        response for a repeat within 24 h. A create that times out raises AmbiguousError, and re-sending it
        with the SAME key is safe (the caller must not change the key). A repeat that arrives while the first
        is still in flight gets 409 request_in_progress, raised here as RetryableError
        (code "request_in_progress").

        ValueError for bad arguments (empty or too long script, unknown aspect ratio or resolution, bad
        colour), before anything is sent.
        """
        self._check_script(script)
        _require("avatar_id", avatar_id)
        _require("voice_id", voice_id)
        _require("idempotency_key", idempotency_key)
        if aspect_ratio not in V3_ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be one of {sorted(V3_ASPECT_RATIOS)}")
        resolution = resolution or settings.HEYGEN_RESOLUTION
        if resolution not in V3_RESOLUTIONS:
            raise ValueError(f"resolution must be one of {sorted(V3_RESOLUTIONS)}")

        payload: dict[str, Any] = {
            "type": "avatar",
            "avatar_id": avatar_id,
            "script": script,
            "voice_id": voice_id,
            "aspect_ratio": aspect_ratio,
            "resolution": resolution,
            "output_format": "webm" if transparent else "mp4",
            # The sidecar subtitle file (`subtitle_url`), never burned in: our compositor draws the captions.
            "caption": {"file_format": "srt"},
        }
        if not transparent:
            color = background_color or settings.HEYGEN_KEY_COLOR
            if not _HEX_COLOR.match(color or ""):
                raise ValueError("background_color must look like #RRGGBB")
            payload["background"] = {"type": "color", "value": color}
        if title:
            payload["title"] = title
        if callback_url:
            payload["callback_url"] = callback_url
        if callback_id:
            payload["callback_id"] = callback_id

        request = self._request(
            "POST", self._url("/v3/videos"), json=payload, headers={"Idempotency-Key": idempotency_key}
        )
        param: dict[str, str] = {}

        def parse(response: httpx.Response) -> tuple[str, str]:
            param["value"] = _error_param(response)
            return self._parse_error(response)

        try:
            response = self._send(request, "render", creates_work=True, parse=parse)
        except PermanentError as exc:
            if (
                transparent
                and exc.status_code in (400, 422)
                and _is_matting_error(param.get("value", ""), exc.code, exc.message)
            ):
                raise MattingUnsupportedError(
                    f"this avatar cannot render a transparent presenter: {exc.message}",
                    provider=PROVIDER,
                    code=exc.code or "matting_unsupported",
                    status_code=exc.status_code,
                    request_id=exc.request_id,
                ) from None
            raise
        video_id = self._created_video_id(response)
        logger.info("heygen v3 render started video_id=%s output=%s", video_id, payload["output_format"])
        return video_id

    def _status_data(self, request: httpx.Request, operation: str) -> dict:
        """The `data` object of a status answer (v3 or legacy); an error envelope instead is raised."""
        body = json_body(self._send(request, operation, creates_work=False), provider=PROVIDER)
        if not isinstance(body.get("data"), dict):
            self._raise_for_error_envelope(body, default=RetryableError)
        return _data(body)

    def get_video(self, video_id: str) -> HeyGenVideo:
        """Poll a v3 render: `GET /v3/videos/{video_id}`."""
        _require("video_id", video_id)
        data = self._status_data(self._request("GET", self._url(f"/v3/videos/{quote(video_id, safe='')}")), "poll")
        state = _state(data.get("status"))
        failure_code = failure_message = ""
        if state == "failed":
            failure_code = _text(data.get("failure_code"))
            failure_message = _text(data.get("failure_message"))
        return self._video(
            video_id=_text(data.get("id")) or _text(data.get("video_id")) or video_id,
            state=state,
            video_url=_text(data.get("video_url")),
            duration=_duration(data.get("duration")),
            subtitle_url=_text(data.get("subtitle_url")),
            failure_code=failure_code,
            failure_message=failure_message,
        )

    def get_video_statuses(self, video_ids: list[str]) -> dict[str, HeyGenVideo]:
        """Poll up to MAX_BULK_STATUS_IDS v3 renders in one call: `GET /v3/videos/statuses?video_ids=a,b,...`
        (comma-separated; corrections.md 21, reference/heygen.md "bulk statuses"), answered as
        `{"data": [{"video_id", "status", ...}], "has_more", "next_token"}`, status one of queued, processing,
        completed, failed or not_found. Returns what it said per id; an id it left out or answered not_found is
        missing from the result. A completed video may come without its `video_url` (the bulk answer
        is not documented to carry one): fetch it with get_video() before downloading."""
        ids = list(dict.fromkeys(video_id for video_id in video_ids if video_id))
        if not ids or len(ids) > MAX_BULK_STATUS_IDS:
            raise ValueError(f"between 1 and {MAX_BULK_STATUS_IDS} video ids, got {len(ids)}")
        request = self._request("GET", self._url("/v3/videos/statuses"), params={"video_ids": ",".join(ids)})
        body = json_body(self._send(request, "poll_batch", creates_work=False), provider=PROVIDER)
        items = body.get("data")
        if isinstance(items, dict):  # tolerate `{"data": {"videos": [...]}}`
            items = items.get("videos") or items.get("items")
        if not isinstance(items, list):
            self._raise_for_error_envelope(body, default=RetryableError)
            raise RetryableError("HeyGen sent a status list without data", provider=PROVIDER, code="bad_response")
        found: dict[str, HeyGenVideo] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            video_id = _text(item.get("video_id")) or _text(item.get("id"))
            if video_id not in ids or _text(item.get("status")).lower() == "not_found":
                continue  # not_found (an unknown or another account's id): left to the render's own GET
            state = _state(item.get("status"))
            failed = state == "failed"
            found[video_id] = HeyGenVideo(
                video_id=video_id, state=state, video_url=_text(item.get("video_url")) if state == "completed" else "",
                duration=_duration(item.get("duration")),
                failure_code=self._scrub(_text(item.get("failure_code")), 100) if failed else "",
                failure_message=(self._scrub(_text(item.get("failure_message")))
                                 or "HeyGen reported the render as failed") if failed else "")
        return found

    # --- catalogue (v3) ----------------------------------------------------------------------------------

    def list_avatar_looks(self, *, max_pages: int | None = None) -> Listing:
        """Every avatar look the account may render (`GET /v3/avatars/looks`, cursor paging with `token`, at most
        LOOKS_PAGE_SIZE a page), up to `max_pages` pages (HEYGEN_CATALOG_MAX_PAGES), all within
        HEYGEN_CATALOG_TIMEOUT_SECONDS (else RetryableError)."""
        return self._listing("/v3/avatars/looks", "avatars", LOOKS_PAGE_SIZE, _look, {}, max_pages)

    def list_voices(self, *, gender: str = "", language: str = "", max_pages: int | None = None) -> Listing:
        """Every voice (`GET /v3/voices`, cursor paging, at most VOICES_PAGE_SIZE a page), optionally only of one
        gender ("male", "female") or language ("English"), as HeyGen filters them."""
        filters = {name: value for name, value in (("gender", gender), ("language", language)) if value}
        return self._listing("/v3/voices", "voices", VOICES_PAGE_SIZE, _voice, filters, max_pages)

    def _listing(self, path: str, operation: str, page_size: int, parse, filters: dict,
                 max_pages: int | None) -> Listing:
        pages = settings.HEYGEN_CATALOG_MAX_PAGES if max_pages is None else max_pages
        deadline = time.monotonic() + float(settings.HEYGEN_CATALOG_TIMEOUT_SECONDS)
        items: list = []
        token = ""
        for _ in range(pages):
            params = {**filters, "limit": page_size, **({"token": token} if token else {})}
            body = self._catalog_page(path, operation, params, deadline)
            items.extend(parse(item) for item in body["data"] if isinstance(item, dict))
            token = _text(body.get("next_token"))
            if not body.get("has_more") or not token:
                return Listing(tuple(item for item in items if _listed(item)), complete=True)
        return Listing(tuple(item for item in items if _listed(item)), complete=False)

    def _catalog_page(self, path: str, operation: str, params: dict, deadline: float) -> dict:
        """One page, in the time left of the whole listing's HEYGEN_CATALOG_TIMEOUT_SECONDS."""
        seconds = deadline - time.monotonic()
        if seconds <= 0:
            raise RetryableError("HeyGen's catalogue took too long to list", provider=PROVIDER,
                                 code="catalog_timeout")
        request = self._request("GET", self._url(path), params=params,
                                timeout=httpx.Timeout(seconds, connect=min(seconds, 5.0)))
        body = json_body(self._send(request, operation, creates_work=False), provider=PROVIDER)
        if not isinstance(body.get("data"), list):
            self._raise_for_error_envelope(body, default=RetryableError)
            raise RetryableError("HeyGen sent a catalogue page without data", provider=PROVIDER,
                                 code="bad_response")
        return body

    # --- v2 (legacy) -----------------------------------------------------------------------------------

    def upload_video_asset(self, data: bytes, content_type: str = "video/mp4") -> str:
        """Upload a file to `POST {upload_base}/v1/asset` as the raw request body; return the asset id.

        A file over HEYGEN_UPLOAD_MAX_BYTES is refused here with PermanentError("asset_too_large"), before a byte
        is sent.

        Not paid work, and a repeat only leaves a duplicate asset, so a timeout is a RetryableError here
        (creates_work=False), not an AmbiguousError.
        """
        if not data:
            raise ValueError("asset data must not be empty")
        _require("content_type", content_type)
        limit = settings.HEYGEN_UPLOAD_MAX_BYTES
        if len(data) > limit:
            raise PermanentError(f"the file is {len(data)} bytes; HeyGen's asset upload takes at most {limit}",
                                 provider=PROVIDER, code="asset_too_large")
        request = self._request(
            "POST", self._upload_url("/v1/asset"), content=bytes(data), headers={"Content-Type": content_type}
        )
        body = json_body(self._send(request, "upload", creates_work=False), provider=PROVIDER)
        self._raise_for_error_envelope(body, default=RetryableError)
        data = _data(body)
        asset_id = _text(data.get("id")) or _text(data.get("asset_id"))
        if not asset_id:
            raise RetryableError(
                "HeyGen accepted the upload but sent no asset id", provider=PROVIDER, code="bad_response"
            )
        logger.info("heygen asset uploaded asset_id=%s bytes=%d", asset_id, len(data))
        return asset_id

    def generate_avatar_video(
        self,
        *,
        avatar_id: str,
        voice_id: str,
        script: str,
        video_asset_id: str,
        avatar_scale: float,
        avatar_x: float,
        avatar_y: float,
        width: int,
        height: int,
        title: str = "",
        callback_id: str = "",
    ) -> str:
        """Start a legacy v2 render with the uploaded video as background (`POST /v2/video/generate`).

        avatar_scale/avatar_x/avatar_y go to HeyGen's `scale` and `offset` as given; HeyGen does not document
        what offset means, so placement in this mode is HeyGen's. width/height must be even, 128..4096.
        Success is 2xx with data.video_id and a falsy error (both the `{error: null, data}` and the
        `{code: 100, data}` envelopes). There is no idempotency key in v2: a timeout raises AmbiguousError and
        must not be re-sent blindly.
        """
        self._check_script(script)
        _require("avatar_id", avatar_id)
        _require("voice_id", voice_id)
        _require("video_asset_id", video_asset_id)
        scale = _finite("avatar_scale", avatar_scale)
        if not 0 < scale <= V2_MAX_SCALE:
            raise ValueError(f"avatar_scale must be in (0, {V2_MAX_SCALE}]")
        offset_x, offset_y = _finite("avatar_x", avatar_x), _finite("avatar_y", avatar_y)
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer")
            if value % 2 or not V2_MIN_DIMENSION <= value <= V2_MAX_DIMENSION:
                raise ValueError(f"{name} must be even and between {V2_MIN_DIMENSION} and {V2_MAX_DIMENSION}")

        payload: dict[str, Any] = {
            "video_inputs": [
                {
                    "character": {
                        "type": "avatar",
                        "avatar_id": avatar_id,
                        "avatar_style": "normal",
                        "scale": scale,
                        "offset": {"x": offset_x, "y": offset_y},
                        "matting": True,
                    },
                    "voice": {"type": "text", "input_text": script, "voice_id": voice_id},
                    "background": {
                        "type": "video",
                        "video_asset_id": video_asset_id,
                        "play_style": "full_video",
                    },
                }
            ],
            "dimension": {"width": width, "height": height},
        }
        if title:
            payload["title"] = title
        if callback_id:
            payload["callback_id"] = callback_id

        request = self._request("POST", self._url("/v2/video/generate"), json=payload)
        response = self._send(request, "render_v2", creates_work=True)
        video_id = self._created_video_id(response)
        logger.info("heygen v2 render started video_id=%s", video_id)
        return video_id

    def get_video_status_v2(self, video_id: str) -> HeyGenVideo:
        """Poll a legacy render: `GET /v1/video_status.get?video_id=...`.

        Statuses waiting|pending|processing|completed|failed (unknown non-terminal ones read as processing).
        A failed render's `data.error` may be an object {code, message, detail}, a string, or absent.
        """
        _require("video_id", video_id)
        data = self._status_data(
            self._request("GET", self._url("/v1/video_status.get"), params={"video_id": video_id}), "poll_v2")
        state = _state(data.get("status"))
        failure_code = failure_message = ""
        if state == "failed":
            error = data.get("error")
            if isinstance(error, dict):
                failure_code = _text(error.get("code"))
                failure_message = _text(error.get("message")) or _text(error.get("msg"))
                detail = _text(error.get("detail"))
                if detail and detail != failure_message:
                    failure_message = f"{failure_message}: {detail}" if failure_message else detail
            else:
                failure_message = _text(error)
        return self._video(
            video_id=_text(data.get("id")) or _text(data.get("video_id")) or video_id,
            state=state,
            video_url=_text(data.get("video_url")) or _text(data.get("video_url_caption")),
            duration=_duration(data.get("duration")),
            failure_code=failure_code,
            failure_message=failure_message,
        )

    # --- shared ----------------------------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest: pathlib.Path,
        *,
        max_bytes: int = 2 * 1024**3,
        deadline_seconds: float | None = None,
    ) -> int:
        """Stream a finished render (a presigned provider CDN link) to `dest`; return the bytes written.

        Redirects are followed. The API key is NOT sent. The file is written to a temporary name next to
        `dest` and renamed into place only when complete, so `dest` is never half-written. Limits: `max_bytes`
        (checked against Content-Length and while counting) and a whole-download deadline
        (`deadline_seconds`, default 180 s) against slow-drip servers.
        4xx -> PermanentError (429 -> RateLimitedError); 5xx, connection errors, timeouts -> RetryableError.
        Messages name the host only, never the URL's signed query string.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise PermanentError("the video link is not an http(s) URL", provider=PROVIDER, code="bad_url")
        host = _host(url)
        dest = pathlib.Path(dest)
        deadline = time.monotonic() + (
            DEFAULT_DOWNLOAD_DEADLINE_SECONDS if deadline_seconds is None else deadline_seconds
        )
        written = 0
        try:
            with (
                atomic_path(dest) as partial,
                self._client.stream("GET", url, follow_redirects=True, timeout=self._timeout) as response,
            ):
                self._check_download_response(response, host, max_bytes)
                with open(partial, "wb") as fh:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                        written += len(chunk)
                        if written > max_bytes:
                            raise PermanentError(
                                f"the video from {host} is larger than {max_bytes} bytes",
                                provider=PROVIDER,
                                code="too_large",
                            )
                        if time.monotonic() > deadline:
                            raise RetryableError(
                                f"download from {host} took too long",
                                provider=PROVIDER,
                                code="download_timeout",
                            )
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                if written == 0:
                    raise RetryableError(
                        f"the video from {host} was empty", provider=PROVIDER, code="empty_download"
                    )
        except httpx.InvalidURL:
            raise PermanentError(f"the video link from {host} is not a valid URL", provider=PROVIDER,
                                 code="download_failed") from None
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=PROVIDER, creates_work=False,
                                      what=f"the video host {host}") from None
        logger.info("heygen download done host=%s bytes=%d", host, written)
        return written

    # --- internals -------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self._base_url + path

    def _upload_url(self, path: str) -> str:
        return self._upload_base_url + path

    def _request(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, timeout=None, **kwargs
    ) -> httpx.Request:
        if not self._api_key:
            raise PermanentError("HeyGen API key is not configured", provider=PROVIDER, code="not_configured")
        all_headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        all_headers.update(headers or {})
        return self._client.build_request(method, url, headers=all_headers, timeout=timeout or self._timeout,
                                          **kwargs)

    def _send(self, request: httpx.Request, operation: str, *, creates_work: bool, parse=None) -> httpx.Response:
        return send(
            self._client,
            request,
            provider=PROVIDER,
            operation=operation,
            creates_work=creates_work,
            parse_error=parse or self._parse_error,
        )

    def _scrub(self, text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
        """Provider text as users may read it (redact.readable), this client's key among the secrets."""
        return readable(text, limit=limit, secrets=(self._api_key,) if self._api_key else ())

    def _parse_error(self, response: httpx.Response) -> tuple[str, str]:
        code, message = parse_error(response)
        return self._scrub(code, 100), self._scrub(message)

    def _video(
        self, *, failure_message: str, failure_code: str, state: State, video_url: str, **kwargs
    ) -> HeyGenVideo:
        if state == "completed" and not video_url:
            raise RetryableError(
                "HeyGen reported the render completed but sent no video URL",
                provider=PROVIDER,
                code="bad_response",
            )
        if state == "failed" and not failure_message:
            failure_message = "HeyGen reported the render as failed"
        return HeyGenVideo(
            state=state,
            video_url=video_url if state == "completed" else "",
            failure_code=self._scrub(failure_code, 100),
            failure_message=self._scrub(failure_message),
            **kwargs,
        )

    def _raise_for_error_envelope(self, body: dict, *, default: type[ProviderError]) -> None:
        """A 2xx body that still says it failed: explicit error -> PermanentError; no data -> `default`."""
        code, message, _param = _error_fields(body)
        error = body.get("error")
        legacy_code = body.get("code")
        explicit = bool(error) or (
            legacy_code not in (None, 100, "100") and not isinstance(body.get("data"), dict)
        )
        if explicit:
            raise PermanentError(
                self._scrub(message) or "HeyGen refused the request",
                provider=PROVIDER,
                code=self._scrub(code, 100),
            )
        if not isinstance(body.get("data"), dict):
            raise default("HeyGen sent a response without data", provider=PROVIDER, code="bad_response")

    def _created_video_id(self, response: httpx.Response) -> str:
        """video_id from a create's 2xx answer. Anything unreadable is AmbiguousError: the render may exist"""
        try:
            body = json_body(response, provider=PROVIDER)
        except RetryableError as exc:
            raise AmbiguousError(
                exc.message, provider=PROVIDER, code=exc.code, status_code=response.status_code
            ) from None
        try:
            self._raise_for_error_envelope(body, default=AmbiguousError)
        except PermanentError as exc:
            exc.status_code = response.status_code
            raise
        video_id = _text(body["data"].get("video_id")) or _text(body["data"].get("id"))
        if not video_id:
            raise AmbiguousError(
                "HeyGen accepted the render but sent no video id",
                provider=PROVIDER,
                code="bad_response",
                status_code=response.status_code,
            )
        return video_id

    def _check_download_response(self, response: httpx.Response, host: str, max_bytes: int) -> None:
        status = response.status_code
        if not response.is_success:
            raise error_for_response(response, provider=PROVIDER, code="download_failed",
                                     message=f"download from {host} failed")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise PermanentError(
                f"the video from {host} is larger than {max_bytes} bytes",
                provider=PROVIDER,
                code="too_large",
                status_code=status,
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type.startswith("text/") or content_type in ("application/json", "application/xml"):
            raise PermanentError(
                f"the link at {host} did not return a video ({content_type})",
                provider=PROVIDER,
                code="not_a_video",
                status_code=status,
            )

    def _check_script(self, script: str) -> None:
        if not isinstance(script, str) or not script.strip():
            raise ValueError("script must not be empty")
        limit = settings.HEYGEN_MAX_SCRIPT_CHARS
        if len(script) > limit:
            raise ValueError(f"script is {len(script)} characters; HeyGen accepts at most {limit}")


def _require(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must not be empty")


def _listed(item: AvatarLook | Voice) -> bool:
    return bool(item.avatar_id if isinstance(item, AvatarLook) else item.voice_id)


def _is_matting_error(param: str, code: str, message: str) -> bool:
    if param == "output_format":
        return True
    text = f"{code} {message}".lower()
    return any(word in text for word in _MATTING_WORDS)
