"""HeyGen v3 (POST /v3/videos, GET /v3/videos/{id}) and the legacy v1/v2 flow on loopback (heygen.md)."""

from __future__ import annotations

import functools
import hmac
import io
import json
import math
import re
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

from PIL import Image

from .faults import fingerprint
from .httpkit import Hang, Request, Response, json_response
from .render import Look, RenderError, concat_mp4, draw_figure, probe, render_presenter, write_srt
from .render_cache import render_key

DOC = "https://developers.heygen.com/docs/error-codes"
HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
IDEMPOTENCY_TTL = 24 * 3600

# The catalogue (GET /v3/avatars/looks, GET /v3/voices). `matting` is the sandbox's own knowledge of whether a look
# renders as a transparent webm; HeyGen's look schema has no such field, only `avatar_type`.
AVATARS = {
    "josh_lite3_20230714": {"name": "Josh", "matting": True, "default_voice_id": "d7bbcdd6964c47bdaae26decade4a933",
                            "gender": "male", "avatar_type": "studio_avatar",
                            "look": Look(skin=(222, 178, 146), hair=(55, 38, 28), shirt=(36, 64, 120))},
    "Daisy-inskirt-20220818": {"name": "Daisy", "matting": True,
                               "default_voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
                               "gender": "female", "avatar_type": "studio_avatar",
                               "look": Look(skin=(236, 196, 170), hair=(150, 95, 40), shirt=(150, 40, 60))},
    "anna_studio_nomatting": {"name": "Anna (digital twin, no matting)", "matting": False,
                              "default_voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
                              "gender": "female", "avatar_type": "video_avatar",
                              "look": Look(skin=(205, 160, 125), hair=(25, 20, 20), shirt=(60, 110, 80),
                                           backdrop=(200, 204, 210))},
    "lukas_photo_20240311": {"name": "Lukas (photo)", "matting": False,
                             "default_voice_id": "5f1e2a9c0b7d4e3f8a6b2c1d0e9f8a7b",
                             "gender": "male", "avatar_type": "photo_avatar",
                             "look": Look(skin=(214, 170, 140), hair=(90, 60, 35), shirt=(70, 70, 75),
                                          backdrop=(215, 210, 200))},
}
VOICES = {
    "d7bbcdd6964c47bdaae26decade4a933": {"name": "Heart (warm)", "gender": "female", "speed": 1.0,
                                         "language": "English", "locale": "en-US"},
    "2d5b0e6cf36f460aa7fc47e3eee4ba54": {"name": "Heart (brisk)", "gender": "female", "speed": 1.12,
                                         "language": "English", "locale": "en-US"},
    "5f1e2a9c0b7d4e3f8a6b2c1d0e9f8a7b": {"name": "Lukas (ruhig)", "gender": "male", "speed": 0.95,
                                         "language": "German", "locale": "de-DE"},
    "0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f": {"name": "Ray (radio)", "gender": "male", "speed": 1.05,
                                         "language": "English", "locale": "en-GB"},
}
ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "4:5": (720, 900), "5:4": (900, 720), "1:1": (720, 720),
           "auto": (720, 1280)}
PLAY_STYLES = {"fit_to_scene", "freeze", "loop", "once", "full_video"}


@functools.cache
def preview_png(look_id: str) -> bytes:
    """The look's preview image: its figure on its backdrop (white where it would be matted), 180x320."""
    look = AVATARS[look_id]["look"]
    figure, _mouth = draw_figure(180, 320, look)
    still = Image.new("RGBA", figure.size, (*(look.backdrop or (255, 255, 255)), 255))
    still.alpha_composite(figure)
    out = io.BytesIO()
    still.convert("RGB").save(out, "PNG")
    return out.getvalue()


class V3Error(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param

    def response(self, headers=None) -> Response:
        return json_response(self.status, {"error": {"code": self.code, "message": self.message,
                                                     "param": self.param,
                                                     "doc_url": f"{DOC}#{self.code.replace('_', '-')}"}}, headers)


class V2Error(V3Error):
    def response(self, headers=None) -> Response:
        return json_response(self.status, {"data": None, "error": {"code": self.code, "message": self.message}},
                             headers)


@dataclass
class Video:
    id: str
    api: str  # "v3" | "v2"
    created: float
    ready_at: float
    output_format: str
    faults: set
    title: str | None = None
    callback_url: str | None = None
    callback_id: str | None = None
    rendered: bool = False
    failed: tuple | None = None  # (failure_code, message)
    duration: float | None = None
    filename: str | None = None
    polls: int = 0
    extra: dict = field(default_factory=dict)


class HeyGenService:
    def __init__(self, ctx):
        self.ctx = ctx
        self.videos: dict[str, Video] = {}
        self.assets: dict[str, dict] = {}
        self.idem: dict[tuple[str, str], dict] = {}
        self.lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------------------
    def _authed(self, req: Request) -> bool:
        key = req.header("x-api-key") or ""
        return bool(key) and hmac.compare_digest(key, self.ctx.heygen_api_key)

    def _url(self, name: str) -> str:
        return f"{self.ctx.base_url}/files/{name}?Expires={int(time.time()) + 7 * 86400}"

    def _status(self, v: Video) -> str:
        with self.lock:
            if v.failed and time.time() >= v.ready_at:
                return "failed"
            if v.rendered and time.time() >= v.ready_at:
                return "completed"
        elapsed = time.time() - v.created
        span = max(v.ready_at - v.created, 1e-6)
        if elapsed < 0.15 * span:
            return "waiting" if v.api == "v2" else "pending"
        if elapsed < 0.35 * span and v.api == "v2":
            return "pending"
        return "processing"

    # -- routing ---------------------------------------------------------------------------------------
    def handle(self, req: Request):
        p = req.path
        if p.startswith("/heygen-upload/"):
            if not self._authed(req):
                return V2Error(401, "unauthorized", "Unauthorized: missing or invalid X-Api-Key.").response()
            if p == "/heygen-upload/v1/asset" and req.method == "POST":
                return self.upload(req)
            return V2Error(404, "not_found", f"No route for {req.method} {p}").response()
        sub = p[len("/heygen"):]
        if sub.startswith("/previews/") and req.method == "GET":  # a CDN link: no key needed, as HeyGen's
            return self.preview(sub[len("/previews/"):])
        v3 = sub.startswith("/v3/")
        err = V3Error if v3 else V2Error
        if not self._authed(req):
            return err(401, "unauthorized", "Invalid or missing API key. Send it in the X-Api-Key header.").response()
        try:
            if sub == "/v3/videos" and req.method == "POST":
                return self.create_v3(req)
            if sub == "/v3/videos/statuses" and req.method == "GET":
                return self.statuses_v3(req.params().get("video_ids", ""))
            m = re.match(r"^/v3/videos/([^/]+)$", sub)
            if m and req.method == "GET":
                return self.get_v3(m.group(1))
            m = re.match(r"^/v3/avatars/looks/([^/]+)$", sub)
            if m and req.method == "GET":
                return json_response(200, {"data": self._look(m.group(1))})
            if sub == "/v3/avatars/looks" and req.method == "GET":
                return self.looks_v3(req.params())
            m = re.match(r"^/v3/voices/([^/]+)$", sub)
            if m and req.method == "GET":
                return json_response(200, {"data": self._voice(m.group(1))})
            if sub == "/v3/voices" and req.method == "GET":
                return self.voices_v3(req.params())
            if sub == "/v2/video/generate" and req.method == "POST":
                return self.generate_v2(req)
            if sub == "/v1/video_status.get" and req.method == "GET":
                return self.status_v1(req.params().get("video_id", ""))
            if sub == "/v2/avatars" and req.method == "GET":
                return json_response(200, {"error": None, "data": {"avatars": [
                    {"avatar_id": a, "avatar_name": d["name"], "default_voice_id": d["default_voice_id"],
                     "preview_image_url": None, "preview_video_url": None, "premium": False, "type": None,
                     "tags": ["SANDBOX"]} for a, d in AVATARS.items()], "talking_photos": []}})
            if sub == "/v2/voices" and req.method == "GET":
                return json_response(200, {"error": None, "data": {"voices": [
                    {"voice_id": v, "name": d["name"], "language": "English", "gender": d["gender"],
                     "preview_audio": None, "support_pause": True, "emotion_support": False}
                    for v, d in VOICES.items()]}})
        except V3Error as exc:
            return exc.response()
        return err(404, "not_found", f"No route for {req.method} {p}").response()

    def _look(self, look_id: str) -> dict:
        a = AVATARS.get(look_id)
        if a is None:
            raise V3Error(404, "avatar_not_found", f"Avatar look {look_id} not found.", "avatar_id")
        return {"id": look_id, "name": a["name"], "avatar_type": a["avatar_type"], "gender": a["gender"],
                "group_id": look_id.split("_")[0], "default_voice_id": a["default_voice_id"],
                "preferred_orientation": "portrait", "supported_api_engines": ["avatar_iv", "avatar_iii"],
                "image_width": 720, "image_height": 1280, "tags": ["SANDBOX"],
                "preview_image_url": f"{self.ctx.base_url}/heygen/previews/{look_id}.png",
                "preview_video_url": None, "status": "completed"}

    def _voice(self, voice_id: str) -> dict:
        v = VOICES.get(voice_id)
        if v is None:
            raise V3Error(404, "voice_not_found", f"Voice {voice_id} not found.", "voice_id")
        return {"voice_id": voice_id, "name": v["name"], "language": v["language"], "gender": v["gender"],
                "type": "public", "support_pause": True, "support_locale": False,
                "preview_audio_url": None}

    # -- catalogue (cursor pages: `limit`, `token`; `has_more`, `next_token`, as heygen-cli gen/avatar.go) -------
    def looks_v3(self, params: dict):
        wanted = params.get("avatar_type", "")
        if wanted and wanted not in ("studio_avatar", "video_avatar", "photo_avatar"):
            raise V3Error(400, "invalid_parameter", f"avatar_type {wanted!r} is not one of studio_avatar, "
                                                    "video_avatar, photo_avatar.", "avatar_type")
        looks = [self._look(a) for a, d in AVATARS.items() if not wanted or d["avatar_type"] == wanted]
        return self._page(looks, params, 50)

    def voices_v3(self, params: dict):
        voices = [self._voice(v) for v, d in VOICES.items()
                  if all(not params.get(f) or params[f].casefold() == d[f].casefold() for f in ("gender", "language"))]
        return self._page(voices, params, 100)

    def _page(self, items: list[dict], params: dict, most: int):
        try:
            limit = int(params.get("limit") or 20)
            start = int(params["token"][len("o"):]) if params.get("token") else 0
        except ValueError:
            raise V3Error(400, "invalid_parameter", "limit and token must be what the last page said.") from None
        if not 1 <= limit <= most or not 0 <= start <= len(items):
            raise V3Error(400, "invalid_parameter", f"limit must be 1 to {most}, token one this API gave.", "limit")
        end = start + limit
        more = end < len(items)
        return json_response(200, {"data": items[start:end], "has_more": more, "next_token": f"o{end}" if more
                                   else None})

    def preview(self, name: str):
        look_id, _, ext = name.rpartition(".")
        if ext != "png" or look_id not in AVATARS:
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        return Response(200, preview_png(look_id), {"Content-Type": "image/png"})

    # -- v3 create -------------------------------------------------------------------------------------
    def create_v3(self, req: Request):
        idem_key = req.header("idempotency-key")
        scope = (self.ctx.heygen_api_key, idem_key or "")
        if idem_key:
            with self.lock:
                rec = self.idem.get(scope)
                if rec and time.time() - rec["at"] > IDEMPOTENCY_TTL:
                    self.idem.pop(scope)
                    rec = None
                if rec and rec["in_flight"]:
                    raise V3Error(409, "request_in_progress", "A request with this Idempotency-Key is still "
                                                              "being processed.")
                if rec:
                    return json_response(rec["status"], rec["body"], {"Idempotent-Replayed": "true"})
                self.idem[scope] = {"in_flight": True, "at": time.time()}
        try:
            result = self._create_v3(req)
        except BaseException:
            if idem_key:
                with self.lock:
                    self.idem.pop(scope, None)
            raise
        kind, answer, payload = result
        if idem_key:
            with self.lock:
                if payload is not None:  # created (even if the response is then lost): replay it later
                    self.idem[scope] = {"in_flight": False, "at": time.time(), "status": 200, "body": payload}
                else:
                    self.idem.pop(scope, None)
        return answer

    def _create_v3(self, req: Request):
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise V3Error(400, "invalid_parameter", "Request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise V3Error(400, "invalid_parameter", "Request body must be a JSON object.")
        typ = body.get("type")
        if typ is None:
            raise V3Error(400, "invalid_parameter", "type is required.", "type")
        if typ != "avatar":
            raise V3Error(400, "invalid_parameter", f"type {typ!r} is not supported by the sandbox (use 'avatar').",
                          "type")
        avatar_id = body.get("avatar_id")
        if not isinstance(avatar_id, str) or not avatar_id:
            raise V3Error(400, "invalid_parameter", "avatar_id is required.", "avatar_id")
        if avatar_id not in AVATARS:
            raise V3Error(404, "avatar_not_found", f"Avatar look {avatar_id} not found or no longer available.",
                          "avatar_id")
        avatar = AVATARS[avatar_id]
        if body.get("audio_url") is not None or body.get("audio_asset_id") is not None:
            if body.get("script") is not None:
                raise V3Error(400, "invalid_parameter", "script is mutually exclusive with audio_url / "
                                                        "audio_asset_id.", "script")
            raise V3Error(400, "invalid_parameter", "audio input is not supported by the sandbox; send a script.",
                          "audio_url")
        script = body.get("script")
        if not isinstance(script, str) or not script.strip():
            raise V3Error(400, "invalid_parameter", "script must be a non-empty string.", "script")
        if len(script) > 5000:
            raise V3Error(400, "invalid_parameter", f"script is too long ({len(script)} characters; the maximum "
                                                    f"is 5000).", "script")
        voice_id = body.get("voice_id") or avatar["default_voice_id"]
        if not isinstance(voice_id, str) or voice_id not in VOICES:
            raise V3Error(404, "voice_not_found", f"Voice {voice_id} not found.", "voice_id")
        speed = 1.0
        vs = body.get("voice_settings")
        if vs is not None:
            if not isinstance(vs, dict):
                raise V3Error(400, "invalid_parameter", "voice_settings must be an object.", "voice_settings")
            speed = vs.get("speed", 1.0)
            if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.5 <= speed <= 1.5:
                raise V3Error(400, "invalid_parameter", "voice_settings.speed must be between 0.5 and 1.5.",
                              "voice_settings.speed")
        aspect = body.get("aspect_ratio", "9:16")
        if aspect not in ASPECTS:
            raise V3Error(400, "invalid_parameter", f"aspect_ratio must be one of {', '.join(ASPECTS)}.",
                          "aspect_ratio")
        if body.get("resolution", "720p") not in ("4k", "1080p", "720p"):
            raise V3Error(400, "invalid_parameter", "resolution must be one of 4k, 1080p, 720p.", "resolution")
        fmt = body.get("output_format", "mp4")
        if fmt not in ("mp4", "webm"):
            raise V3Error(400, "invalid_parameter", "output_format must be mp4 or webm.", "output_format")
        background = body.get("background")
        if fmt == "webm" and background is not None:
            raise V3Error(400, "invalid_parameter", "background cannot be used with output_format webm (the "
                                                    "background is removed automatically).", "background")
        if fmt == "webm" and not avatar["matting"]:
            raise V3Error(400, "invalid_parameter", f"output_format webm requires an avatar that supports matting; "
                                                    f"{avatar_id} does not.", "output_format")
        if body.get("remove_background") and not avatar["matting"]:
            raise V3Error(400, "invalid_parameter", f"remove_background requires an avatar trained with matting; "
                                                    f"{avatar_id} is not.", "remove_background")
        if background is not None:
            if not isinstance(background, dict) or background.get("type") not in ("color", "image"):
                raise V3Error(400, "invalid_parameter", "background.type must be color or image.", "background.type")
            if background["type"] == "color" and not HEX_RE.match(str(background.get("value", ""))):
                raise V3Error(400, "invalid_parameter", "background.value must be a #RRGGBB colour.",
                              "background.value")
            if background["type"] == "image" and not (background.get("url") or background.get("asset_id")):
                raise V3Error(400, "invalid_parameter", "background.image needs url or asset_id.", "background")
        if body.get("fit") is not None and body["fit"] not in ("contain", "cover"):
            raise V3Error(400, "invalid_parameter", "fit must be contain or cover.", "fit")
        engine = body.get("engine")
        if engine is not None and (not isinstance(engine, dict) or
                                   engine.get("type") not in ("avatar_iv", "avatar_v", "avatar_iii")):
            raise V3Error(400, "invalid_parameter", "engine.type must be avatar_iv, avatar_v or avatar_iii.",
                          "engine.type")
        caption = body.get("caption")
        if caption is not None and (not isinstance(caption, dict) or caption.get("file_format", "srt") != "srt"):
            raise V3Error(400, "invalid_parameter", "caption.file_format must be srt.", "caption.file_format")
        cb = body.get("callback_url")
        if cb is not None and (not isinstance(cb, str) or not re.match(r"^https?://", cb)):
            raise V3Error(400, "invalid_parameter", "callback_url must be an http(s) URL.", "callback_url")

        fault = self.ctx.faults.submit_fault("heygen", "heygen.v3.create", body)
        if fault == "429":
            return "fault", V3Error(429, "rate_limit_exceeded", "Too many concurrent renders; retry later.") \
                .response({"Retry-After": "1"}), None
        if fault == "500":
            return "fault", V3Error(500, "internal_error", "Internal server error.").response(), None
        if fault == "hang":
            return "fault", Hang(self.ctx.faults.hang_seconds), None
        video = self._new_video("v3", fmt, body, body.get("title"), cb, body.get("callback_id"))
        self.ctx.ledger.record("heygen.v3.create", video.id, fingerprint(body))
        if fmt == "webm":
            bg = None
        elif background and background["type"] == "color":
            bg = {"type": "color", "value": background["value"]}
        else:
            bg = {"type": "color", "value": "#EDEDED"}
        scenes = [{"script": script, "speed": speed * VOICES[voice_id]["speed"], "look": avatar["look"],
                   "background": bg, "scale": None, "offset": (0.0, 0.0)}]
        self._start(video, scenes, ASPECTS[aspect])
        payload = {"data": {"video_id": video.id, "status": "waiting", "output_format": fmt}}
        if fault == "lost_response":
            return "created", Hang(self.ctx.faults.hang_seconds), payload
        return "created", json_response(200, payload), payload

    def _new_video(self, api, fmt, body, title, callback_url, callback_id) -> Video:
        now = time.time()
        faults = self.ctx.faults.active("heygen", body) & {"render_failed", "poll_500"}
        v = Video(uuid.uuid4().hex, api, now, now + self.ctx.heygen_latency, fmt, faults, title, callback_url,
                  callback_id)
        with self.lock:
            self.videos[v.id] = v
        return v

    def _start(self, video: Video, scenes: list[dict], canvas) -> None:
        if "render_failed" in video.faults:
            with self.lock:
                video.failed = ("render_failed", "The avatar render failed (sandbox fault injection).")
            self._schedule_callback(video)
            return
        self.ctx.executor.submit(self._render, video, scenes, canvas)

    def _render(self, video: Video, scenes: list[dict], canvas) -> None:
        ext = video.output_format
        out = self.ctx.files_dir / f"{video.id}.{ext}"
        try:
            key = render_key(ext, canvas, [{k: (str(v) if k == "background" else v) for k, v in sc.items()}
                                           for sc in scenes])
            data, total, cues = self.ctx.render_cache.get_or_render(
                key, lambda: self._render_file(video, scenes, canvas))
            if not out.exists():
                out.write_bytes(data)
            write_srt(self.ctx.files_dir / f"{video.id}.srt", cues)
            with self.lock:
                video.rendered, video.duration, video.filename = True, round(total, 3), out.name
        except Exception as exc:
            self.ctx.log(f"heygen render failed for {video.id}: {exc}")
            with self.lock:
                video.failed = ("render_error", f"Rendering failed: {str(exc)[:300]}")
        self._schedule_callback(video)

    def _render_file(self, video: Video, scenes: list[dict], canvas) -> tuple[bytes, float]:
        ext = video.output_format
        out = self.ctx.files_dir / f"{video.id}.{ext}"
        parts, total, cues = [], 0.0, []
        for i, sc in enumerate(scenes):
            part = out if len(scenes) == 1 else self.ctx.files_dir / f"{video.id}.part{i}.{ext}"
            res = render_presenter(part, script=sc["script"], speed=sc["speed"], canvas=canvas, look=sc["look"],
                                   fmt=ext, background=sc["background"], scale=sc["scale"], offset=sc["offset"])
            parts.append(part)
            cues += [(start + total, end + total, text) for start, end, text in res.cues]
            total += res.duration
        if len(scenes) > 1:
            concat_mp4(parts, out)
            for part in parts:
                part.unlink(missing_ok=True)
        # The bytes are only needed to serve a later identical request from the render cache.
        return (out.read_bytes() if self.ctx.render_cache.enabled else b""), total, cues

    def _schedule_callback(self, video: Video) -> None:
        if not video.callback_url:
            return
        delay = max(0.0, video.ready_at - time.time())
        t = threading.Timer(delay, self._send_callback, args=(video,))
        t.daemon = True
        t.start()

    def _send_callback(self, video: Video) -> None:
        if video.failed:
            payload = {"event_type": "avatar_video.fail",
                       "event_data": {"video_id": video.id, "msg": video.failed[1], "callback_id": video.callback_id}}
        else:
            payload = {"event_type": "avatar_video.success",
                       "event_data": {"video_id": video.id, "url": self._url(video.filename),
                                      "callback_id": video.callback_id}}
        try:
            req = urllib.request.Request(video.callback_url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()
            self.ctx.log(f"callback for {video.id} delivered to {video.callback_url}")
        except Exception as exc:
            self.ctx.log(f"callback for {video.id} to {video.callback_url} failed: {exc}")

    def _poll(self, video_id: str, err) -> Video:
        with self.lock:
            v = self.videos.get(video_id)
            if v is None:
                raise err(404, "video_not_found", f"Video {video_id} not found.", "video_id")
            v.polls += 1
            first = v.polls == 1
        if first and "poll_500" in v.faults:
            raise err(500, "internal_error", "Internal server error.")
        return v

    def get_v3(self, video_id: str):
        v = self._poll(video_id, V3Error)
        status = self._status(v)
        done = status == "completed"
        base = self.ctx.base_url
        data = {"id": v.id, "title": v.title, "status": status, "output_format": v.output_format,
                "video_url": self._url(v.filename) if done else None, "captioned_video_url": None,
                "subtitle_url": f"{base}/files/{v.id}.srt" if done else None, "thumbnail_url": None,
                "gif_url": None, "video_page_url": None, "folder_id": None,
                "duration": v.duration if done else None, "created_at": int(v.created),
                "completed_at": int(v.ready_at) if done else None, "callback_id": v.callback_id,
                "failure_code": v.failed[0] if status == "failed" else None,
                "failure_message": v.failed[1] if status == "failed" else None}
        return json_response(200, {"data": data})

    def statuses_v3(self, video_ids: str):
        """`GET /v3/videos/statuses?video_ids=a,b,...`: up to 100 videos in one answer (corrections.md 21), as
        `{"data": [{"video_id", "status", ...}], "has_more", "next_token"}`. An id it does not know is answered
        `not_found` (as HeyGen's bulk statuses do for unknown or unowned ids).
        Each video in it counts as one poll of that video."""
        ids = [i for i in (part.strip() for part in video_ids.split(",")) if i]
        if not ids:
            raise V3Error(400, "invalid_parameter", "video_ids is required.", "video_ids")
        if len(ids) > 100:
            raise V3Error(400, "invalid_parameter", "At most 100 ids may be asked for at once.", "video_ids")
        items = []
        for video_id in dict.fromkeys(ids):
            try:
                v = self._poll(video_id, V3Error)
            except V3Error as exc:
                if exc.status == 404:
                    items.append({"video_id": video_id, "status": "not_found"})
                    continue
                raise
            status = self._status(v)
            items.append({"video_id": v.id, "status": status,
                          "failure_code": v.failed[0] if status == "failed" else None,
                          "failure_message": v.failed[1] if status == "failed" else None})
        return json_response(200, {"data": items, "has_more": False, "next_token": None})

    # -- legacy v1/v2 ----------------------------------------------------------------------------------
    def upload(self, req: Request):
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        kinds = {"video/mp4": ("video", "mp4"), "video/webm": ("video", "webm"), "image/png": ("image", "png"),
                 "image/jpeg": ("image", "jpg"), "audio/mpeg": ("audio", "mp3"), "audio/wav": ("audio", "wav")}
        if ctype not in kinds:
            return json_response(400, {"code": 400, "data": None, "msg": f"Unsupported Content-Type {ctype!r}; send "
                                       "the file's MIME type, e.g. video/mp4.", "message": "invalid content type"})
        if not req.body:
            return json_response(400, {"code": 400, "data": None, "msg": "asset data must be provided",
                                       "message": "asset data must be provided"})
        file_type, ext = kinds[ctype]
        asset_id = uuid.uuid4().hex
        path = self.ctx.files_dir / f"asset_{asset_id}.{ext}"
        path.write_bytes(req.body)
        if file_type == "video":
            try:
                probe(path)
            except RenderError:
                path.unlink(missing_ok=True)
                return json_response(400, {"code": 400, "data": None, "msg": "The uploaded video cannot be decoded.",
                                           "message": "invalid video"})
        url = f"{self.ctx.base_url}/files/{path.name}"
        with self.lock:
            self.assets[asset_id] = {"path": path, "file_type": file_type, "url": url}
        return json_response(200, {"code": 100, "data": {"id": asset_id, "name": asset_id, "file_type": file_type,
                                                         "folder_id": "", "meta": None,
                                                         "created_ts": int(time.time()), "url": url,
                                                         "image_key": None}, "msg": None, "message": None})

    def _asset_from(self, bg: dict) -> dict | None:
        if bg.get("video_asset_id"):
            return self.assets.get(bg["video_asset_id"])
        url = str(bg.get("url") or "")
        for a in self.assets.values():
            if a["url"] == url.split("?")[0]:
                return a
        return None

    def generate_v2(self, req: Request):
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise V2Error(400, "invalid_parameter", "Request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise V2Error(400, "invalid_parameter", "Request body must be a JSON object.")
        inputs = body.get("video_inputs")
        if not isinstance(inputs, list) or not inputs:
            raise V2Error(400, "invalid_parameter", "video_inputs is invalid: field required")
        if len(inputs) > 50:
            raise V2Error(400, "invalid_parameter", "video_inputs is invalid: at most 50 scenes are allowed")
        dim = body.get("dimension") or {"width": 1920, "height": 1080}
        w, h = dim.get("width") if isinstance(dim, dict) else None, dim.get("height") if isinstance(dim, dict) else None
        if not all(isinstance(x, int) and not isinstance(x, bool) and 128 <= x <= 4096 and x % 2 == 0 for x in (w, h)):
            raise V2Error(400, "invalid_parameter", "dimension is invalid: width and height must be even integers "
                                                    "between 128 and 4096")
        scenes = []
        for i, scene in enumerate(inputs):
            where = f"video_inputs[{i}]"
            if not isinstance(scene, dict):
                raise V2Error(400, "invalid_parameter", f"{where} is invalid")
            ch = scene.get("character")
            if not isinstance(ch, dict) or ch.get("type") not in ("avatar", "talking_photo"):
                raise V2Error(400, "invalid_parameter", f"{where}.character is invalid: type must be avatar or "
                                                        f"talking_photo")
            if ch["type"] == "talking_photo":
                raise V2Error(400, "talking_photo_not_found", f"Talking photo {ch.get('talking_photo_id')} not found.")
            avatar_id = ch.get("avatar_id")
            if not avatar_id:
                raise V2Error(400, "invalid_parameter", f"{where}.character.avatar_id is invalid: field required")
            if avatar_id not in AVATARS:
                raise V2Error(400, "avatar_not_found", f"Avatar {avatar_id} not found or no longer available.")
            if ch.get("avatar_style", "normal") not in ("normal", "circle", "closeUp"):
                raise V2Error(400, "invalid_parameter", f"{where}.character.avatar_style is invalid")
            scale = ch.get("scale", 1.0)
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 5.0:
                raise V2Error(400, "invalid_parameter", f"{where}.character.scale must be in (0, 5]")
            off = ch.get("offset") or {"x": 0, "y": 0}
            ox, oy = (off.get("x", 0), off.get("y", 0)) if isinstance(off, dict) else (None, None)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (ox, oy)):
                raise V2Error(400, "invalid_parameter", f"{where}.character.offset must have finite x and y")
            voice = scene.get("voice")
            if not isinstance(voice, dict) or voice.get("type") not in ("text", "audio", "silence"):
                raise V2Error(400, "invalid_parameter", f"{where}.voice is invalid: type must be text, audio or "
                                                        f"silence")
            if voice["type"] != "text":
                raise V2Error(400, "invalid_parameter", f"{where}.voice: only text voices are supported by the "
                                                        f"sandbox")
            vid, text = voice.get("voice_id"), voice.get("input_text")
            if not vid:
                raise V2Error(400, "invalid_parameter", f"{where}.voice.voice_id is invalid: field required")
            if vid not in VOICES:
                raise V2Error(400, "voice_not_found", f"Voice {vid} not found.")
            if not isinstance(text, str) or not text.strip():
                raise V2Error(400, "invalid_parameter", f"{where}.voice.input_text is invalid: field required")
            if len(text) > 5000:
                raise V2Error(400, "invalid_parameter", f"{where}.voice.input_text is too long ({len(text)} > 5000 "
                                                        f"characters)")
            speed = voice.get("speed", 1.0)
            if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.5 <= speed <= 1.5:
                raise V2Error(400, "invalid_parameter", f"{where}.voice.speed must be between 0.5 and 1.5")
            bg = scene.get("background") or {"type": "color", "value": "#FFFFFF"}
            btype = bg.get("type") if isinstance(bg, dict) else None
            if btype == "color":
                if not HEX_RE.match(str(bg.get("value", ""))):
                    raise V2Error(400, "invalid_parameter", f"{where}.background.value must be a #RRGGBB colour")
                bspec = {"type": "color", "value": bg["value"]}
            elif btype == "video":
                if bool(bg.get("url")) == bool(bg.get("video_asset_id")):
                    raise V2Error(400, "invalid_parameter", f"{where}.background: give exactly one of url or "
                                                            f"video_asset_id")
                if bg.get("play_style", "loop") not in PLAY_STYLES:
                    raise V2Error(400, "invalid_parameter", f"{where}.background.play_style is invalid")
                asset = self._asset_from(bg)
                if asset is None or asset["file_type"] != "video":
                    raise V2Error(400, "asset_not_found", f"{where}.background: video asset not found (upload it "
                                                          f"first).")
                bspec = {"type": "video", "path": asset["path"], "play_style": bg.get("play_style", "loop")}
            elif btype == "image":
                bspec = {"type": "color", "value": "#D8D8D8"}
            else:
                raise V2Error(400, "invalid_parameter", f"{where}.background.type must be color, image or video")
            scenes.append({"script": text, "speed": speed * VOICES[vid]["speed"], "look": AVATARS[avatar_id]["look"],
                           "background": bspec, "scale": float(scale), "offset": (float(ox), float(oy))})
        cb = body.get("callback_url")
        if cb is not None and (not isinstance(cb, str) or not re.match(r"^https?://", cb)):
            raise V2Error(400, "invalid_parameter", "callback_url must be an http(s) URL")

        fault = self.ctx.faults.submit_fault("heygen", "heygen.v2.generate", body)
        if fault == "429":
            return V2Error(429, "rate_limit_exceeded", "Too many requests; retry later.").response({"Retry-After": "1"})
        if fault == "500":
            return V2Error(500, "internal_error", "Internal server error.").response()
        if fault == "hang":
            return Hang(self.ctx.faults.hang_seconds)
        video = self._new_video("v2", "mp4", body, body.get("title"), cb, body.get("callback_id"))
        self.ctx.ledger.record("heygen.v2.generate", video.id, fingerprint(body))
        self._start(video, scenes, (w, h))
        if fault == "lost_response":
            return Hang(self.ctx.faults.hang_seconds)
        return json_response(200, {"error": None, "data": {"video_id": video.id}})

    def status_v1(self, video_id: str):
        v = self._poll(video_id, V2Error)
        status = self._status(v)
        done = status == "completed"
        data = {"id": v.id, "status": status, "duration": v.duration if done else None,
                "video_url": self._url(v.filename) if done else None, "video_url_caption": None,
                "thumbnail_url": None, "gif_url": None,
                "caption_url": f"{self.ctx.base_url}/files/{v.id}.srt" if done else None,
                "callback_id": v.callback_id, "created_at": int(v.created), "error": None}
        if status == "failed":
            data = {"id": v.id, "status": "failed", "callback_id": v.callback_id,
                    "error": {"code": 40099, "detail": v.failed[1], "message": v.failed[0]}}
        return json_response(200, {"code": 100, "data": data, "message": "Success"})
