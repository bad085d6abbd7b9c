"""Vertex AI Veo: predictLongRunning / fetchPredictOperation on loopback (wire contract: veo-vertex.md)."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .faults import fingerprint, strip_markers
from .gcs import GCSError
from .httpkit import Hang, Request, Response, json_response
from .render import RenderError, probe_bytes, render_clip, render_extension
from .render_cache import render_key

PATH_RE = re.compile(r"^/veo/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+)"
                     r":(predictLongRunning|fetchPredictOperation)$")
MODELS = {"veo-3.1-generate-001", "veo-3.1-fast-generate-001", "veo-3.1-lite-generate-001"}
IMAGE_MIME = {"image/png", "image/jpeg", "image/webp"}
VIDEO_MIME = {"video/mov", "video/mpeg", "video/mp4", "video/mpg", "video/avi", "video/wmv", "video/mpegps",
              "video/flv"}
STORAGE_URI_RE = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/(?:[^\s]*/)?$")
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
SAFETY_REASON = ("{n} videos were filtered out because they violated Vertex AI's usage guidelines. "
                 "You will not be charged for blocked videos. Support codes: 17301594")
ALLOWED_EXT_SIZES = {(1280, 720), (720, 1280), (1920, 1080), (1080, 1920), (3840, 2160), (2160, 3840)}


class ApiError(Exception):
    STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
              429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

    def __init__(self, code: int, message: str, status: str | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status or self.STATUS.get(code, "UNKNOWN")

    def response(self, headers: dict | None = None) -> Response:
        return json_response(self.code, {"error": {"code": self.code, "message": self.message,
                                                   "status": self.status, "details": []}}, headers)


def bad(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass
class Operation:
    name: str
    kind: str
    created: float
    ready_at: float
    storage_uri: str | None
    sample_count: int
    faults: set
    done: bool = False
    result: dict | None = None  # the operation's `response` or `error` part
    polls: int = 0
    extra: dict = field(default_factory=dict)


class Quota:
    """Vertex's "requests per minute per base model" quota (veo-vertex.md, Limits): a sliding minute of accepted
    predictLongRunning requests per project, region and model. Counts what it refused, for tests to read."""

    WINDOW_SECONDS = 60.0

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.sent: dict[str, list[float]] = {}
        self.accepted = 0
        self.refused = 0
        self.lock = threading.Lock()

    def take(self, resource: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.sent.get(resource, []) if t > now - self.WINDOW_SECONDS]
            if len(recent) >= self.per_minute:
                self.sent[resource] = recent
                self.refused += 1
                return False
            self.sent[resource] = [*recent, now]
            self.accepted += 1
            return True

    def report(self) -> dict:
        with self.lock:
            return {"requests_per_minute": self.per_minute, "accepted": self.accepted, "refused": self.refused}


class VeoService:
    def __init__(self, ctx):
        self.ctx = ctx  # server context: tokens, gcs, ledger, faults, executor, latency
        self.ops: dict[str, Operation] = {}
        self.lock = threading.Lock()
        self.quota = Quota(getattr(ctx, "veo_requests_per_minute", 0))

    # -- routing ---------------------------------------------------------------------------------------
    def handle(self, req: Request):
        m = PATH_RE.match(req.path)
        if not m:
            return ApiError(404, f"The requested URL {req.path} was not found on this server.").response()
        if req.method != "POST":
            return ApiError(405, "Method not allowed.", "METHOD_NOT_ALLOWED").response()
        if not self.ctx.tokens.check_header(req.header("authorization")):
            return ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                 "login cookie or other valid authentication credential. See "
                                 "https://developers.google.com/identity/sign-in/web/devconsole-project.").response()
        _, project, location, model, method = m.groups()
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            return bad("Invalid JSON payload received. Unexpected token.").response()
        if not isinstance(body, dict):
            return bad("Invalid JSON payload received. Expected an object.").response()
        if model not in MODELS:
            return ApiError(404, f"Publisher model `projects/{project}/locations/{location}/publishers/google/models/"
                                 f"{model}` was not found or your project does not have access to it. Please "
                                 f"ensure you are using a valid model version.").response()
        resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        try:
            if method == "predictLongRunning":
                return self.submit(resource, model, body)
            return self.fetch(resource, body)
        except ApiError as exc:
            return exc.response()

    # -- submit ----------------------------------------------------------------------------------------
    def submit(self, resource: str, model: str, body: dict):
        job = self.validate(body)
        kind = "veo.extend" if job["video"] is not None else "veo.generate"
        fault = self.ctx.faults.submit_fault("veo", kind, body)
        if fault == "429" or not self.quota.take(resource):
            return ApiError(429, "Resource exhausted. Please try again later. Please refer to "
                                 "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more "
                                 "details.").response({"Retry-After": "1"})
        if fault == "500":
            return ApiError(500, "Internal error encountered.").response()
        if fault == "hang":
            return Hang(self.ctx.faults.hang_seconds)
        op = self.create(resource, model, kind, body, job)
        if fault == "lost_response":
            return Hang(self.ctx.faults.hang_seconds)
        return json_response(200, {"name": op.name})

    def create(self, resource: str, model: str, kind: str, body: dict, job: dict) -> Operation:
        now = time.time()
        name = f"{resource}/operations/{uuid.uuid4()}"
        active = self.ctx.faults.active("veo", body)
        op = Operation(name, kind, now, now + self.ctx.veo_latency, job["storage_uri"], job["sample_count"],
                       active & {"safety", "op_failed", "poll_500"})
        with self.lock:
            self.ops[name] = op
        # What Vertex bills by: the model, and whether the output has sound.
        self.ctx.ledger.record(kind, name, fingerprint(body), model=model, audio=job["audio"])
        if op.faults & {"safety", "op_failed"}:
            self._finish(op, None)
        else:
            self.ctx.executor.submit(self._render, op, job)
        return op

    def validate(self, body: dict) -> dict:
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise bad("instances is required and must be a non-empty list.")
        if len(instances) != 1:
            raise bad("Only one instance is supported per request.")
        inst = instances[0]
        if not isinstance(inst, dict):
            raise bad("instances[0] must be an object.")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise bad("parameters must be an object.")
        prompt, image, video = inst.get("prompt"), inst.get("image"), inst.get("video")
        if prompt is not None and not isinstance(prompt, str):
            raise bad("instances[0].prompt must be a string.")
        if image is not None and video is not None:
            raise bad("Image and video cannot be both set. Please provide only one of image or video.")
        if inst.get("referenceImages") is not None and (image is not None or video is not None):
            raise bad("referenceImages cannot be combined with image or video.")
        if inst.get("lastFrame") is not None and image is None:
            raise bad("lastFrame is only supported together with image.")
        if inst.get("mask") is not None:
            raise bad("mask (video editing) is not supported for this model.")
        if not (prompt or "").strip() and image is None and video is None:
            raise bad("Prompt is required for text-to-video generation.")

        aspect = params.get("aspectRatio")
        if aspect is not None and aspect not in ("16:9", "9:16"):
            raise bad(f"Unsupported aspect ratio: {aspect}. Supported values are 16:9 and 9:16.")
        resolution = params.get("resolution", "720p")
        if resolution not in ("720p", "1080p"):
            raise bad(f"Unsupported resolution: {resolution}. Supported values are 720p and 1080p.")
        sample_count = params.get("sampleCount", 1)
        if not isinstance(sample_count, int) or isinstance(sample_count, bool) or not 1 <= sample_count <= 4:
            raise bad("sampleCount must be an integer between 1 and 4.")
        duration = params.get("durationSeconds")
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration != int(duration):
                raise bad("durationSeconds must be an integer.")
            duration = int(duration)
        if video is None:
            duration = 8 if duration is None else duration
            allowed = (8,) if inst.get("referenceImages") is not None else (4, 6, 8)
            if duration not in allowed:
                raise bad(f"Unsupported output video duration {duration} seconds, supported durations are "
                          f"[{','.join(map(str, allowed))}] for feature text_to_video/image_to_video.")
        elif duration not in (None, 8):
            raise bad(f"Unsupported output video duration {duration} seconds for video extension; extension adds "
                      f"7 seconds (durationSeconds may only be omitted or 8).")
        for key in ("generateAudio", "enhancePrompt"):
            if key in params and not isinstance(params[key], bool):
                raise bad(f"{key} must be a boolean.")
        if "personGeneration" in params and params["personGeneration"] not in ("allow_adult", "dont_allow",
                                                                                "allow_all", "allowAll"):
            raise bad(f"Unsupported personGeneration: {params['personGeneration']}.")
        if "seed" in params and (not isinstance(params["seed"], int) or not 0 <= params["seed"] <= 2**32 - 1):
            raise bad("seed must be an integer in [0, 4294967295].")
        if "fps" in params and params["fps"] != 24:
            raise bad("fps must be 24.")
        if "compressionQuality" in params and str(params["compressionQuality"]).lower() not in ("optimized",
                                                                                                "lossless"):
            raise bad("compressionQuality must be optimized or lossless.")
        if "resizeMode" in params and str(params["resizeMode"]).lower() not in ("pad", "crop"):
            raise bad("resizeMode must be pad or crop.")
        storage_uri = params.get("storageUri")
        if storage_uri is not None:
            if not isinstance(storage_uri, str) or not STORAGE_URI_RE.match(storage_uri):
                raise bad(f"storageUri must be a Cloud Storage prefix of the form gs://bucket/path/ (got "
                          f"{storage_uri!r}).")
            bucket = storage_uri[5:].split("/", 1)[0]
            if not self.ctx.gcs.bucket_exists(bucket):
                raise bad(f"Cloud Storage bucket {bucket} does not exist or is not accessible.")

        image_bytes = self._media(image, "image", IMAGE_MIME) if image is not None else None
        if image is not None and inst.get("lastFrame") is not None:
            self._media(inst["lastFrame"], "lastFrame", IMAGE_MIME)
        video_bytes = None
        audio = params.get("generateAudio", True)
        if video is not None:
            video_bytes = self._media(video, "video", VIDEO_MIME)
            if video.get("mimeType") != "video/mp4":
                raise bad("Video extension requires an MP4 input (mimeType video/mp4).")
            try:
                info = probe_bytes(video_bytes)
            except RenderError:
                raise bad("The input video could not be decoded.") from None
            if "mp4" not in info.format_name:
                raise bad("Video extension requires an MP4 input.")
            if not 1.0 <= info.duration <= 30.05:
                raise bad(f"The input video must be between 1 and 30 seconds long for extension (got "
                          f"{info.duration:.2f} s).")
            if info.duration + 7 > 37.05:
                raise bad("The extended video would exceed 37 seconds.")
            if abs(info.fps - 24) > 0.05:
                raise bad(f"The input video must be 24 fps for extension (got {info.fps:g} fps).")
            if (info.width, info.height) not in ALLOWED_EXT_SIZES:
                raise bad(f"The input video must be 720p, 1080p or 4k at 16:9 or 9:16 (got "
                          f"{info.width}x{info.height}).")
            in_aspect = "9:16" if info.height > info.width else "16:9"
            if aspect is not None and aspect != in_aspect:
                raise bad(f"aspectRatio {aspect} does not match the input video's aspect ratio {in_aspect}.")
            aspect = in_aspect
            audio = info.has_audio  # generateAudio is documented for generation only: the input's sound goes on
        return {"prompt": strip_markers(prompt or ""), "image": image_bytes, "video": video_bytes,
                "duration": duration, "aspect": aspect or "16:9", "resolution": resolution,
                "sample_count": sample_count, "storage_uri": storage_uri,
                "audio": audio}

    def _media(self, media, field_name: str, mimes: set) -> bytes:
        if not isinstance(media, dict):
            raise bad(f"instances[0].{field_name} must be an object.")
        has_b64, has_uri = "bytesBase64Encoded" in media, "gcsUri" in media
        if has_b64 == has_uri:
            raise bad(f"instances[0].{field_name}: exactly one of bytesBase64Encoded or gcsUri must be set.")
        mime = media.get("mimeType")
        if not mime:
            raise bad(f"instances[0].{field_name}.mimeType is required.")
        if mime not in mimes:
            raise bad(f"Unsupported MIME type {mime} for {field_name}. Supported: {', '.join(sorted(mimes))}.")
        if has_b64:
            try:
                data = base64.b64decode(media["bytesBase64Encoded"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise bad(f"instances[0].{field_name}.bytesBase64Encoded is not valid base64.") from None
        else:
            try:
                data = self.ctx.gcs.read_uri(media["gcsUri"])
            except ValueError:
                raise bad(f"instances[0].{field_name}.gcsUri is not a valid gs:// URI.") from None
            except GCSError as exc:
                raise bad(f"Unable to read {media['gcsUri']}: object not found or not accessible "
                          f"({exc.status}).") from None
        if not data:
            raise bad(f"instances[0].{field_name} is empty.")
        if len(data) > 20 * 1024 * 1024 and field_name != "video":
            raise bad(f"instances[0].{field_name} exceeds the 20 MB limit.")
        return data

    # -- render ----------------------------------------------------------------------------------------
    def _render(self, op: Operation, job: dict) -> None:
        try:
            key = render_key(job["video"] or b"", job["image"] or b"", job["prompt"], job["duration"],
                             job["aspect"], job["resolution"], job["audio"])
            data = self.ctx.render_cache.get_or_render(key, lambda: self._render_bytes(job))
            videos = []
            if op.storage_uri:
                bucket, _, prefix = op.storage_uri[5:].partition("/")
                folder = f"{prefix}{secrets.randbelow(9 * 10**18) + 10**18}"
                for i in range(op.sample_count):
                    name = f"{folder}/sample_{i}.mp4"
                    self.ctx.gcs.upload(bucket, name, data, "video/mp4")
                    videos.append({"gcsUri": f"gs://{bucket}/{name}", "mimeType": "video/mp4"})
            else:
                b64 = base64.b64encode(data).decode("ascii")
                videos = [{"bytesBase64Encoded": b64, "mimeType": "video/mp4"} for _ in range(op.sample_count)]
            self._finish(op, {"response": {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": 0, "videos": videos}})
        except Exception as exc:  # a render or storage failure becomes a failed operation
            self.ctx.log(f"veo render failed for {op.name}: {exc}")
            self._finish(op, {"error": {"code": 13, "message": f"Internal error while generating the video: "
                                                               f"{str(exc)[:300]}", "details": []}})

    def _render_bytes(self, job: dict) -> bytes:
        with tempfile.TemporaryDirectory(prefix="sbx-op-") as t:
            out = Path(t) / "sample.mp4"
            if job["video"] is not None:
                render_extension(out, input_bytes=job["video"], prompt=job["prompt"])
            else:
                render_clip(out, prompt=job["prompt"], image_bytes=job["image"], duration=job["duration"],
                            aspect_ratio=job["aspect"], resolution=job["resolution"], audio=job["audio"])
            return out.read_bytes()

    def _finish(self, op: Operation, result: dict | None) -> None:
        if result is None and "safety" in op.faults:
            n = op.sample_count
            result = {"response": {"@type": RESPONSE_TYPE, "raiMediaFilteredCount": n,
                                   "raiMediaFilteredReasons": [SAFETY_REASON.format(n=n)]}}
        elif result is None:
            result = {"error": {"code": 13, "message": "Video generation failed due to an internal error. "
                                                       "Please try again later.", "details": []}}
        with self.lock:
            op.result, op.done = result, True

    # -- poll ------------------------------------------------------------------------------------------
    def fetch(self, resource: str, body: dict):
        name = body.get("operationName")
        if not isinstance(name, str) or not name:
            raise bad("operationName is required.")
        with self.lock:
            op = self.ops.get(name)
            if op is None or name.rpartition("/operations/")[0] != resource:
                raise ApiError(404, f"Operation {name} was not found.")
            op.polls += 1
            first_poll = op.polls == 1
            ready = op.done and time.time() >= op.ready_at
            result = op.result
        if first_poll and "poll_500" in op.faults:
            raise ApiError(500, "Internal error encountered.")
        if not ready:
            return json_response(200, {"name": name} if op.polls % 2 else {"name": name, "done": False})
        return json_response(200, {"name": name, "done": True, **result})
