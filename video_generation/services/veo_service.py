"""Client for Google Veo on Vertex AI, over the `v1` REST API.

Wire contract: Vertex AI's Veo model reference,
https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation

- `generate_base_video` and `extend_video` POST `...:predictLongRunning` and return the operation name,
  exactly as Google sent it. Store it at once; it is the only handle on the paid work.
- `fetch_operation` POSTs `...:fetchPredictOperation` and turns the long-running operation into a VeoResult.

Every exchange goes through http.send(), so failures arrive as the typed errors of errors.py. Messages and
logs never contain the bearer token or media bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from django.conf import settings

from .errors import AmbiguousError, PermanentError, RetryableError
from .http import json_body, send
from .redact import readable, redact

logger = logging.getLogger(__name__)

PROVIDER = "veo"
ALLOWED_DURATIONS = frozenset({4, 6, 8})
ALLOWED_ASPECT_RATIOS = frozenset({"16:9", "9:16"})
# The GA `-001` model pages list 720p and 1080p output only; "4k" exists for the retired preview ids alone.
GA_RESOLUTIONS = frozenset({"720p", "1080p"})
PREVIEW_RESOLUTIONS = GA_RESOLUTIONS | {"4k"}
ALLOWED_RESIZE_MODES = frozenset({"pad", "crop"})
EXTEND_MIME_TYPE = "video/mp4"
MAX_SEED = 4_294_967_295
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_ERROR_MESSAGE_CHARS = 500

_SEGMENT = r"[A-Za-z0-9._~-]+"
_OPERATION_NAME = re.compile(
    rf"^projects/{_SEGMENT}/locations/{_SEGMENT}(?:/{_SEGMENT})*/operations/{_SEGMENT}$"
)


def supported_resolutions(model_id: str) -> frozenset[str]:
    return PREVIEW_RESOLUTIONS if model_id.endswith("-preview") else GA_RESOLUTIONS


@dataclass(frozen=True)
class MediaRef:
    """An image or video input/output: exactly one of `gcs_uri` / `data`."""

    mime_type: str
    gcs_uri: str = ""
    data: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if bool(self.gcs_uri) == bool(self.data):
            raise ValueError("MediaRef needs exactly one of gcs_uri or data")
        if self.gcs_uri and not self.gcs_uri.startswith("gs://"):
            raise ValueError("MediaRef.gcs_uri must be a gs:// URI")
        if not self.mime_type:
            raise ValueError("MediaRef needs a mime_type")

    def __repr__(self) -> str:  # never print the bytes
        where = f"gcs_uri={self.gcs_uri!r}" if self.gcs_uri else f"data=<{len(self.data)} bytes>"
        return f"MediaRef(mime_type={self.mime_type!r}, {where})"

    def to_wire(self) -> dict[str, str]:
        if self.gcs_uri:
            return {"gcsUri": self.gcs_uri, "mimeType": self.mime_type}
        return {"bytesBase64Encoded": base64.b64encode(self.data).decode("ascii"), "mimeType": self.mime_type}


@dataclass(frozen=True)
class VeoResult:
    state: Literal["running", "succeeded", "filtered", "failed"]
    videos: tuple[MediaRef, ...] = ()
    error_code: str = ""  # google.rpc code as text, e.g. "3" or "INVALID_ARGUMENT"
    error_message: str = ""  # for filtered: the raiMediaFilteredReasons joined


def parse_error(response: httpx.Response) -> tuple[str, str]:
    """(status or code, message) from Google's `{"error": {"code", "message", "status"}}` envelope."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, list) and body:  # some Google front ends wrap the envelope in a list
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    status = error.get("status")
    code = error.get("code")
    message = error.get("message")
    code_text = str(status) if status else ("" if code is None else str(code))
    return code_text, readable(message, limit=MAX_ERROR_MESSAGE_CHARS) if isinstance(message, str) else ""


def parse_operation(body: dict[str, Any]) -> VeoResult:
    """Turn a google.longrunning.Operation (as fetchPredictOperation returns it) into a VeoResult."""
    if body.get("done") is not True:  # proto3 JSON omits a false bool: missing `done` means running
        return VeoResult(state="running")

    error = body.get("error")
    if isinstance(error, dict) and error:
        code = error.get("code")
        message = error.get("message")
        return VeoResult(
            state="failed",
            error_code="" if code is None else str(code),
            error_message=(readable(message, limit=MAX_ERROR_MESSAGE_CHARS) if isinstance(message, str) and message
                           else "the operation failed"),
        )

    response = body.get("response")
    response = response if isinstance(response, dict) else {}
    raw_videos = response.get("videos")
    videos = tuple(_parse_video(item) for item in (raw_videos if isinstance(raw_videos, list) else []))
    videos = tuple(video for video in videos if video is not None)
    if videos:
        return VeoResult(state="succeeded", videos=videos)

    reasons = response.get("raiMediaFilteredReasons")
    reasons = [r for r in reasons if isinstance(r, str) and r] if isinstance(reasons, list) else []
    try:
        filtered_count = int(response.get("raiMediaFilteredCount") or 0)
    except (TypeError, ValueError):
        filtered_count = 0
    if filtered_count > 0 or reasons:
        text = " ".join(reasons) if reasons else "the video was blocked by the provider's safety filter"
        return VeoResult(state="filtered", error_message=readable(text, limit=MAX_ERROR_MESSAGE_CHARS))

    return VeoResult(state="failed", error_message="no videos returned")


def _parse_video(item: Any) -> MediaRef | None:
    if not isinstance(item, dict):
        return None
    mime_type = item.get("mimeType") or "video/mp4"
    gcs_uri = item.get("gcsUri")
    if isinstance(gcs_uri, str) and gcs_uri.startswith("gs://"):
        return MediaRef(mime_type=mime_type, gcs_uri=gcs_uri)
    encoded = item.get("bytesBase64Encoded")
    if isinstance(encoded, str) and encoded:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise RetryableError(
                "veo sent a video that is not valid base64", provider=PROVIDER, code="bad_response"
            ) from None
        return MediaRef(mime_type=mime_type, data=data) if data else None
    return None


class VeoService:
    """One Vertex AI Veo model in one project and region."""

    def __init__(
        self,
        *,
        project_id: str | None = None,
        location: str | None = None,
        model_id: str | None = None,
        base_url: str | None = None,
        token_provider: Callable[[], str] | None = None,
        http_client: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        self.project_id = project_id if project_id is not None else settings.GCP_PROJECT_ID
        self.location = location or settings.VEO_LOCATION
        self.model_id = model_id or settings.VEO_MODEL_ID
        base = base_url if base_url is not None else settings.VEO_API_BASE_URL
        if not base:
            host = (
                "aiplatform.googleapis.com"
                if self.location == "global"
                else f"{self.location}-aiplatform.googleapis.com"
            )
            base = f"https://{host}"
        self.base_url = base.rstrip("/")
        if token_provider is None:
            from .gcp_auth import GCPAuthManager

            token_provider = GCPAuthManager().get_access_token
        self._token_provider = token_provider
        read_timeout = float(timeout if timeout is not None else settings.VEO_TIMEOUT_SECONDS)
        self._timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(
            timeout=self._timeout, trust_env=False, follow_redirects=False
        )

    # ---- public API ---------------------------------------------------------------------------------------

    def generate_base_video(
        self,
        *,
        prompt: str,
        image: MediaRef,
        storage_uri: str | None,
        duration_seconds: int,
        aspect_ratio: str,
        generate_audio: bool,
        resolution: str | None = None,
        resize_mode: str | None = None,
        seed: int | None = None,
    ) -> str:
        """Start image-to-video generation; returns the operation name.

        `generateAudio` is always sent: Vertex calls it required for Veo 3 and prices sound and silence apart."""
        if isinstance(duration_seconds, bool) or duration_seconds not in ALLOWED_DURATIONS:
            raise ValueError(f"duration_seconds must be one of 4, 6, 8 (got {duration_seconds!r})")
        if not isinstance(image, MediaRef):
            raise TypeError("image must be a MediaRef")
        if not image.mime_type.startswith("image/"):
            raise ValueError(f"image mime_type must be an image type (got {image.mime_type!r})")
        mode = (resize_mode if resize_mode is not None else settings.VEO_RESIZE_MODE).lower()
        if mode not in ALLOWED_RESIZE_MODES:
            raise ValueError(f"resize_mode must be 'pad' or 'crop' (got {resize_mode!r})")

        instance = self._instance(prompt)
        instance["image"] = image.to_wire()
        parameters: dict[str, Any] = {
            "durationSeconds": duration_seconds,
            "aspectRatio": self._aspect_ratio(aspect_ratio),
            "resolution": self._resolution(resolution),
            "sampleCount": 1,
            "resizeMode": mode,
            "generateAudio": self._generate_audio(generate_audio),
        }
        self._add_optional(parameters, storage_uri=storage_uri, seed=seed)
        return self._submit({"instances": [instance], "parameters": parameters}, kind="generate")

    def extend_video(
        self,
        *,
        video: MediaRef,
        prompt: str,
        storage_uri: str | None,
        aspect_ratio: str,
        resolution: str | None = None,
        seed: int | None = None,
    ) -> str:
        """Start a 7-second extension of an MP4 (video only, never an image); returns the operation name.

        `generateAudio` is not sent: Vertex documents it for generation only, not for extension."""
        if not isinstance(video, MediaRef):
            raise TypeError("video must be a MediaRef")
        if video.mime_type != EXTEND_MIME_TYPE:
            raise ValueError(f"extension needs an MP4 video (got {video.mime_type!r})")

        instance = self._instance(prompt)
        instance["video"] = video.to_wire()
        parameters: dict[str, Any] = {
            "sampleCount": 1,
            "aspectRatio": self._aspect_ratio(aspect_ratio),
            "resolution": self._resolution(resolution),
        }
        self._add_optional(parameters, storage_uri=storage_uri, seed=seed)
        return self._submit({"instances": [instance], "parameters": parameters}, kind="extend")

    def fetch_operation(self, operation_name: str) -> VeoResult:
        """Poll a long-running operation once."""
        if not isinstance(operation_name, str) or not self._valid_operation_name(operation_name):
            raise PermanentError(
                "the stored Veo operation name is not valid", provider=PROVIDER, code="bad_operation_name"
            )
        resource = operation_name.rpartition("/operations/")[0]
        request = self._build_request(
            f"/v1/{resource}:fetchPredictOperation", {"operationName": operation_name}
        )
        response = send(
            self._client,
            request,
            provider=PROVIDER,
            operation="poll",
            creates_work=False,
            parse_error=self._error_parser(request),
        )
        result = parse_operation(json_body(response, provider=PROVIDER))
        logger.info("veo operation %s: %s", operation_name, result.state)
        return result

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> VeoService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- internals ----------------------------------------------------------------------------------------

    @staticmethod
    def _valid_operation_name(name: str) -> bool:
        return bool(_OPERATION_NAME.match(name)) and ".." not in name.split("/")

    @staticmethod
    def _instance(prompt: str) -> dict[str, Any]:
        if not isinstance(prompt, str):
            raise TypeError("prompt must be a string")
        return {"prompt": prompt} if prompt.strip() else {}

    @staticmethod
    def _aspect_ratio(aspect_ratio: str) -> str:
        if aspect_ratio not in ALLOWED_ASPECT_RATIOS:
            raise ValueError(f"aspect_ratio must be '16:9' or '9:16' (got {aspect_ratio!r})")
        return aspect_ratio

    def _resolution(self, resolution: str | None) -> str:
        value = resolution if resolution is not None else settings.VEO_RESOLUTION
        allowed = supported_resolutions(self.model_id)
        if value not in allowed:
            names = ", ".join(name for name in ("720p", "1080p", "4k") if name in allowed)
            raise ValueError(f"{self.model_id} renders {names} only (got {value!r})")
        return value

    @staticmethod
    def _generate_audio(generate_audio: bool) -> bool:
        if not isinstance(generate_audio, bool):
            raise TypeError(f"generate_audio must be True or False (got {generate_audio!r})")
        return generate_audio

    @staticmethod
    def _add_optional(parameters: dict[str, Any], *, storage_uri: str | None, seed: int | None) -> None:
        if storage_uri:
            if not storage_uri.startswith("gs://") or len(storage_uri) <= len("gs://"):
                raise ValueError("storage_uri must be a gs:// prefix")
            parameters["storageUri"] = storage_uri if storage_uri.endswith("/") else storage_uri + "/"
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
                raise ValueError("seed must be an integer in 0..4294967295")
            parameters["seed"] = seed

    def _model_path(self) -> str:
        if not self.project_id:
            raise PermanentError("GCP_PROJECT_ID is not configured", provider=PROVIDER, code="not_configured")
        return (
            f"/v1/projects/{self.project_id}/locations/{self.location}"
            f"/publishers/google/models/{self.model_id}"
        )

    def _build_request(self, path: str, body: dict[str, Any]) -> httpx.Request:
        token = self._token_provider()
        return self._client.build_request(
            "POST",
            self.base_url + path,  # string join: keeps any path prefix in the base URL
            content=json.dumps(body, separators=(",", ":")).encode("utf-8"),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
            },
            timeout=self._timeout,
        )

    @staticmethod
    def _error_parser(request: httpx.Request) -> Callable[[httpx.Response], tuple[str, str]]:
        """parse_error, with the request's bearer token among the secrets redacted from what it returns."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()

        def parse(response: httpx.Response) -> tuple[str, str]:
            code, message = parse_error(response)
            return redact(code, secrets=(token,)), redact(message, secrets=(token,))

        return parse

    def _submit(self, body: dict[str, Any], *, kind: str) -> str:
        request = self._build_request(self._model_path() + ":predictLongRunning", body)
        response = send(
            self._client,
            request,
            provider=PROVIDER,
            operation=kind,
            creates_work=True,
            parse_error=self._error_parser(request),
        )
        # Google accepted the request, so paid work may have started: an unusable answer is ambiguous,
        # never a reason to send the request again.
        try:
            payload = json_body(response, provider=PROVIDER)
        except RetryableError as exc:
            raise AmbiguousError(
                f"veo accepted the request but {exc.message.removeprefix('veo ')}",
                provider=PROVIDER,
                code="bad_response",
                status_code=response.status_code,
            ) from None
        name = payload.get("name")
        if not isinstance(name, str) or not self._valid_operation_name(name):
            raise AmbiguousError(
                "veo accepted the request but returned no usable operation name",
                provider=PROVIDER,
                code="bad_response",
                status_code=response.status_code,
            )
        logger.info("veo %s submitted: model=%s operation=%s", kind, self.model_id, name)
        return name
