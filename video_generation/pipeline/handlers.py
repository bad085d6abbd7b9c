"""What each kind of step does. The state machine (machine.py) decides *when*; these decide *what*.

Every handler is a StepHandler and says what it can do:
- `local`: our own work (fetch, join, compose), run in the `running` state; otherwise a provider call, claimed as
  `submitting` and, once the provider accepted it, polled while `submitted`;
- `cpu_bound`: ffmpeg work, run on the media queue (settings.MEDIA_QUEUE) so that it never holds up the
  orchestration's polls;
- submit(step, job) -> Submitted (the provider accepted work; we poll it) or Done (finished at once);
- check(step, job) -> Running, Done or Failed, for a submitted step;
- what the provider charges is the step's `cost_usd`, priced by pricing.py: set from Submitted (charged when
  accepted) or from Done (charged for what was delivered), and cleared when a failure is not billed;
- `reconciles` / reconcile(step, job) -> Done or None: for a submit whose answer was lost (state `unknown`), look
  for its output; a handler that cannot look fails the step instead of paying twice;
- resend_is_safe(step, job): whether a submit with an unknown outcome may simply be sent again.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.db.models import Q

from .. import catalog, deliverables, uploads
from ..models import HeyGenMode, JobStep, StepKind, VideoJob
from ..services import alignment, captions, compose
from ..services.errors import PermanentError, ProviderError
from ..services.geometry import Box
from ..services.heygen_service import MAX_BULK_STATUS_IDS, HeyGenVideo, MattingUnsupportedError
from ..services.overlay import TextOverlay
from ..services.safe_http import fetch_to_file
from ..services.storage import get_storage
from ..services.veo_service import MediaRef
from . import plan, pricing, providers

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
logger = logging.getLogger(__name__)

PRESENTER_ASPECT_RATIO = "9:16"  # a presenter is a standing person: always rendered portrait
SUBTITLES_RESULT = "subtitles_uri"  # the render step's copy of HeyGen's subtitle file
SUBTITLES_MAX_BYTES = 1024 * 1024
TRANSPARENCY_PARAM = "avatar_transparent"  # the catalogue's answer for the render step's avatar, once asked


@dataclass(frozen=True)
class Submitted:
    external_id: str
    cost_usd: Decimal = Decimal("0")
    result: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    output_uri: str
    result: dict = field(default_factory=dict)
    cost_usd: Decimal | None = None  # None: the cost recorded at submit stands


@dataclass(frozen=True)
class Running:
    pass


@dataclass(frozen=True)
class Failed:
    code: str
    message: str
    billed: bool = False


def job_path(job: VideoJob, *parts: str) -> str:
    return "/".join(["jobs", str(job.id), *parts])


def step_slug(step: JobStep) -> str:
    return step.key.replace(":", "-")


def steps_by_key(job: VideoJob) -> dict[str, JobStep]:
    return {s.key: s for s in job.steps.all()}


def download(uri: str, directory: Path, name: str) -> Path:
    return get_storage().download_to(uri, directory / name)


def broll_step(job: VideoJob, step: JobStep) -> JobStep:
    """The step whose output is the whole B-roll, as the plan recorded it for `step`."""
    return steps_by_key(job)[step.params[plan.BROLL_KEY_PARAM]]


class StepHandler:
    local: ClassVar[bool]
    cpu_bound: ClassVar[bool] = False
    reconciles: ClassVar[bool] = False

    def resend_is_safe(self, step: JobStep, job: VideoJob) -> bool:
        return self.local  # our own work can always start over

    def prepare_attempt(self, step: JobStep, job: VideoJob) -> str:
        """Where this attempt's output will land, saved before the call ("" when it does not matter)."""
        return ""

    def submit(self, step: JobStep, job: VideoJob) -> Submitted | Done:
        raise NotImplementedError

    def check(self, step: JobStep, job: VideoJob) -> Running | Done | Failed:
        raise NotImplementedError(f"{type(self).__name__} finishes in submit(); it is never polled")

    def reconcile(self, step: JobStep, job: VideoJob) -> Done | None:
        raise NotImplementedError(f"{type(self).__name__} cannot look for the output of a lost submit")

    bulk_size: ClassVar[int] = 1

    def bulk_peers(self, step: JobStep, job: VideoJob) -> Q | None:
        """Which other steps of this kind one status call can check along with `step` (None: one at a time)."""
        return None

    def check_many(self, steps: list[JobStep]) -> dict[int, Running | Failed]:
        """Check several submitted steps in one call: per step id, Running or Failed; a step left out is done (or
        went unreported) and gets a check() of its own."""
        raise NotImplementedError(f"{type(self).__name__} checks one step at a time")


class LocalStep(StepHandler):
    local = True


class ProviderStep(StepHandler):
    local = False


# --- Local steps ------------------------------------------------------------------------------------------

class FetchImage(LocalStep):
    def submit(self, step: JobStep, job: VideoJob) -> Done:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "product"
            if uploads.is_stored_image(job.image_url):  # uploaded through the web app: only the owner's own
                content_type, size = uploads.copy_for_job(job.image_url, job.user_id, target)
            else:
                fetched = fetch_to_file(job.image_url, target, max_bytes=settings.IMAGE_MAX_BYTES,
                                        allowed_content_types=IMAGE_TYPES)
                content_type, size = fetched.content_type, fetched.size
            extension = mimetypes.guess_extension(content_type) or ".img"
            uri = get_storage().upload_file(target, job_path(job, "input", f"product{extension}"), content_type)
        return Done(uri, {"content_type": content_type, "bytes": size})


class JoinBroll(LocalStep):
    cpu_bound = True

    def submit(self, step: JobStep, job: VideoJob) -> Done:
        steps = steps_by_key(job)
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            chains = [download(steps[key].output_uri, directory, f"chain{i}.mp4")
                      for i, key in enumerate(step.depends_on)]
            joined = directory / "broll.mp4"
            info = compose.join_chains(chains, joined, crossfade=settings.PIPELINE["CROSSFADE_SECONDS"])
            uri = get_storage().upload_file(joined, job_path(job, "broll.mp4"), "video/mp4")
        return Done(uri, {"duration": info.duration})


def scene_overlays(job: VideoJob) -> list[TextOverlay]:
    """Each scene's on-screen text over that scene's span of the B-roll; the last scene's runs to the end of the
    video (over whatever covers a narration longer than the scenes: padding, a loop or the held last frame)."""
    spans = plan.scene_spans(plan.scene_durations(job.scenes_data), settings.PIPELINE["CROSSFADE_SECONDS"],
                             job.scene_transitions)
    spans[-1] = (spans[-1][0], math.inf)
    return [TextOverlay(scene["text_overlay"], start, end)
            for scene, (start, end) in zip(job.scenes_data, spans, strict=True) if scene.get("text_overlay")]


class Compose(LocalStep):
    cpu_bound = True

    def submit(self, step: JobStep, job: VideoJob) -> Done:
        steps = steps_by_key(job)
        presenter_step = steps[plan.HEYGEN_RENDER_KEY]
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            output = directory / "final.mp4"
            placement = compose.Placement(scale=job.avatar_scale, x=job.avatar_x, y=job.avatar_y)
            if job.heygen_mode == HeyGenMode.V2:
                # HeyGen already put the presenter over our B-roll; bring it to our delivery format.
                rendered = download(presenter_step.output_uri, directory, "heygen.mp4")
                width, height = compose.FRAME_SIZES[job.aspect_ratio]
                track = caption_track(job, presenter_step, rendered,
                                      compose.presenter_box(width, height, 9, 16, placement))  # heygen_offset's aim
                info = compose.normalize(rendered, output, aspect_ratio=job.aspect_ratio, captions=track)
            else:
                broll = download(broll_step(job, step).output_uri, directory, "broll.mp4")
                keying = presenter_step.result.get("keying", "alpha")
                presenter = download(presenter_step.output_uri, directory,
                                     "presenter.webm" if keying == "alpha" else "presenter.mp4")
                track = caption_track(job, presenter_step, presenter,
                                      compose.placed_presenter(presenter, placement, job.aspect_ratio))
                info = compose.compose_final(
                    broll=broll, presenter=presenter, presenter_keying=keying,
                    key_color=settings.HEYGEN_KEY_COLOR, placement=placement,
                    aspect_ratio=job.aspect_ratio, output=output, overlays=scene_overlays(job), captions=track,
                    broll_fit=job.broll_fit, scenes_seconds=padded_scenes_seconds(job, steps),
                    crossfade=settings.PIPELINE["CROSSFADE_SECONDS"])
            if track is not None and track.captions:
                for side in ("captions_srt_uri", "captions_vtt_uri"):
                    track.save(Path(deliverables.beside(str(output), side)))
            uri = get_storage().upload_file(output, job_path(job, "final.mp4"), "video/mp4")
            extras = store_side_files(job, output, info.duration)
        return Done(uri, {"duration": info.duration, "width": info.width, "height": info.height, **extras})


def padded_scenes_seconds(job: VideoJob, steps: dict[str, JobStep]) -> float | None:
    """Where the scenes end in a B-roll planned with padding (broll_fit extend), which the finished video need not
    outlast; None when the B-roll is all scenes."""
    if not any(s.params.get(plan.PADDING_PARAM) for s in steps.values()):
        return None
    return plan.broll_seconds(plan.scene_durations(job.scenes_data), settings.PIPELINE["CROSSFADE_SECONDS"],
                              job.scene_transitions)


def caption_track(job: VideoJob, presenter_step: JobStep, voice: Path, box: Box) -> captions.Track | None:
    """The job's captions for its frame, clear of the presenter at ``box``, from the narration's words (those of
    HeyGen's subtitle file, or the script aligned to ``voice``); None when they are off."""
    options = job.captions or {}
    if not options.get("enabled"):
        return None
    words = narration_words(job, presenter_step, voice)
    width, height = compose.FRAME_SIZES[job.aspect_ratio]
    return captions.track(words, style=options.get("style", "bold"), position=options.get("position", "auto"),
                          frame_w=width, frame_h=height, presenter=box)


def narration_words(job: VideoJob, presenter_step: JobStep, voice: Path) -> list[captions.Word]:
    """The narration's words and times: from the provider's subtitle file, else aligned to the voice offline."""
    subtitles_uri = presenter_step.result.get(SUBTITLES_RESULT)
    if subtitles_uri:
        words = captions.words_from_srt(get_storage().read_bytes(subtitles_uri).decode("utf-8", "replace"))
        if words:
            return words
    return alignment.align(job.avatar_script, voice)


def store_side_files(job: VideoJob, video: Path, duration: float) -> dict:
    """The finished video's poster frame and short preview, made now, and the side files made with it (captions),
    stored beside it: each local file is named after the local video as the stored one is after the stored one."""
    compose.poster(video, Path(deliverables.poster_of(str(video))), at=compose.poster_time(duration))
    compose.preview(video, Path(deliverables.preview_of(str(video))))
    final = job_path(job, "final.mp4")
    storage = get_storage()
    stored = {}
    for side in deliverables.SIDE_FILES:
        local = Path(deliverables.beside(str(video), side))
        if local.exists():
            stored[side] = storage.upload_file(local, deliverables.beside(final, side), deliverables.content_type(side))
    return stored


# --- Google Veo -----------------------------------------------------------------------------------------

def veo_model(step: JobStep, job: VideoJob) -> str:
    """The model that renders the step, as the plan fixed it (steps planned before it did: the job's quality)."""
    return step.params.get(plan.VEO_MODEL_PARAM) or pricing.veo_model(job.quality)


def veo_audio(step: JobStep, job: VideoJob) -> bool:
    """Whether the step renders sound, as the plan fixed it (steps planned before it did: the job's choice)."""
    return bool(step.params.get(plan.GENERATE_AUDIO_PARAM, job.broll_audio))


def veo_billed_seconds(step: JobStep) -> int:
    """The new seconds Veo renders, and charges for: the clip's duration, or the seconds an extension adds."""
    if step.kind == StepKind.VEO_GENERATE:
        return step.params["duration_seconds"]
    return plan.EXTENSION_SECONDS


def veo_step_cost(step: JobStep, job: VideoJob) -> Decimal:
    return pricing.veo_cost(model_id=veo_model(step, job), audio=veo_audio(step, job),
                            seconds=veo_billed_seconds(step))


class VeoStep(ProviderStep):
    # Vertex has no idempotency key: a lost answer is reconciled from this attempt's own output prefix, never
    # re-sent blindly.
    reconciles = True

    def resend_is_safe(self, step: JobStep, job: VideoJob) -> bool:
        return False

    def prepare_attempt(self, step: JobStep, job: VideoJob) -> str:
        path = job_path(job, step_slug(step), f"attempt-{step.attempts}")
        return get_storage().veo_output_prefix(path) or ""

    def media(self, uri: str, mime_type: str) -> MediaRef:
        if uri.startswith("gs://"):
            return MediaRef(mime_type=mime_type, gcs_uri=uri)
        return MediaRef(mime_type=mime_type, data=get_storage().read_bytes(uri))

    def submit(self, step: JobStep, job: VideoJob) -> Submitted:
        """Veo charges for an accepted generation (unless it is blocked or fails: machine.fail_step clears it).
        The price is settled before the call, so that nothing can go wrong between the answer and its record."""
        source = steps_by_key(job)[step.depends_on[0]]
        params = step.params
        cost = veo_step_cost(step, job)
        client = providers.veo(veo_model(step, job))
        common = {"prompt": params["prompt"], "storage_uri": step.storage_uri or None,
                  "aspect_ratio": params["aspect_ratio"]}
        if step.kind == StepKind.VEO_GENERATE:
            image = self.media(source.output_uri, source.result.get("content_type", "image/png"))
            name = client.generate_base_video(image=image, duration_seconds=params["duration_seconds"],
                                              generate_audio=veo_audio(step, job), **common)
        else:
            video = self.media(source.output_uri, "video/mp4")
            name = client.extend_video(video=video, **common)
        return Submitted(name, cost, {"billed_seconds": veo_billed_seconds(step)})

    def check(self, step: JobStep, job: VideoJob) -> Running | Done | Failed:
        result = providers.veo(veo_model(step, job)).fetch_operation(step.external_id)
        if result.state == "running":
            return Running()
        if result.state == "filtered":
            return Failed("safety_filtered", f"the safety filter blocked the video ({result.error_message})")
        if result.state == "failed":
            return Failed(f"operation_{result.error_code}", result.error_message or "the operation failed")
        return Done(self.store(step, job, result.videos[0]))

    def store(self, step: JobStep, job: VideoJob, video: MediaRef) -> str:
        if video.gcs_uri:
            return video.gcs_uri
        path = job_path(job, step_slug(step), f"attempt-{step.attempts}", "sample_0.mp4")
        return get_storage().upload_bytes(video.data, path, "video/mp4")

    def reconcile(self, step: JobStep, job: VideoJob) -> Done | None:
        """A submit whose answer was lost: if Veo ran it, its output lands under this attempt's prefix."""
        if not step.storage_uri:
            return None
        found = [uri for uri in get_storage().list_uris(step.storage_uri) if uri.endswith(".mp4")]
        if not found:
            return None
        # Veo ran the request whose answer we lost, so it charged for it.
        return Done(sorted(found)[0], {"reconciled": True, "billed_seconds": veo_billed_seconds(step)},
                    cost_usd=veo_step_cost(step, job))


# --- HeyGen ---------------------------------------------------------------------------------------------

class HeyGenRender(ProviderStep):
    # No reconcile(): HeyGen cannot be searched for a render we never got an id for.

    def resend_is_safe(self, step: JobStep, job: VideoJob) -> bool:
        # v3 creates carry an Idempotency-Key that HeyGen replays for 24 h; v2 has no such key.
        return job.heygen_mode == HeyGenMode.V3

    def idempotency_key(self, step: JobStep, job: VideoJob, variant: str) -> str:
        return f"video-saas-{job.id}-{step_slug(step)}-g{step.params.get('generation', 0)}-{variant}"

    def submit(self, step: JobStep, job: VideoJob) -> Submitted:
        if job.heygen_mode == HeyGenMode.V2:
            return self.submit_v2(step, job)
        client = providers.heygen()
        common = {"avatar_id": job.avatar_id, "voice_id": job.voice_id, "script": job.avatar_script,
                  "aspect_ratio": PRESENTER_ASPECT_RATIO, "title": f"video_saas {job.id}",
                  "callback_id": str(job.id)}
        video_id, keying = self.create_presenter(client, step, job, common)
        VideoJob.objects.filter(id=job.id).update(heygen_video_id=video_id)
        return Submitted(video_id, result={"keying": keying})

    def create_presenter(self, client, step: JobStep, job: VideoJob, common: dict) -> tuple[str, str]:
        """(video_id, keying): transparent when the avatar can be matted — the catalogue says so, or does not know
        and HeyGen accepts it — else on the key colour, which the compositor removes."""
        if self.transparency(step, job) is not False:
            try:
                return client.create_presenter_video(
                    transparent=True, idempotency_key=self.idempotency_key(step, job, "alpha"), **common), "alpha"
            except MattingUnsupportedError:
                pass
        return client.create_presenter_video(
            transparent=False, background_color=settings.HEYGEN_KEY_COLOR,
            idempotency_key=self.idempotency_key(step, job, "key"), **common), "chroma"

    def transparency(self, step: JobStep, job: VideoJob) -> bool | None:
        """What the catalogue says of the avatar, asked once per step and kept in its params: a re-sent submit (its
        first answer lost) asks HeyGen the same thing under the same Idempotency-Key, whatever the catalogue says
        by then, so it can never start a second, differently-keyed render."""
        if TRANSPARENCY_PARAM not in step.params:
            step.params = {**step.params, TRANSPARENCY_PARAM: catalog.avatar_transparency(job.avatar_id)}
            JobStep.objects.filter(id=step.id).update(params=step.params)
        return step.params[TRANSPARENCY_PARAM]

    def submit_v2(self, step: JobStep, job: VideoJob) -> Submitted:
        width, height = compose.FRAME_SIZES[job.aspect_ratio]
        asset_id = steps_by_key(job)[plan.HEYGEN_UPLOAD_KEY].result["asset_id"]
        offset_x, offset_y = heygen_offset(job, width, height)
        video_id = providers.heygen().generate_avatar_video(
            avatar_id=job.avatar_id, voice_id=job.voice_id, script=job.avatar_script, video_asset_id=asset_id,
            avatar_scale=job.avatar_scale, avatar_x=offset_x, avatar_y=offset_y,
            width=width, height=height, title=f"video_saas {job.id}", callback_id=str(job.id))
        VideoJob.objects.filter(id=job.id).update(heygen_video_id=video_id)
        return Submitted(video_id, result={"keying": "none"})

    def check(self, step: JobStep, job: VideoJob) -> Running | Done | Failed:
        client = providers.heygen()
        video = client.get_video(step.external_id) if job.heygen_mode == HeyGenMode.V3 \
            else client.get_video_status_v2(step.external_id)
        if video.state in ("pending", "processing"):
            return Running()
        if video.state == "failed":
            return Failed(video.failure_code or "render_failed", video.failure_message or "the render failed")
        uri, duration = self.store(step, job, video)
        subtitles = self.store_subtitles(job, video)
        return Done(uri, {**step.result, "duration": duration, **subtitles}, cost_usd=pricing.heygen_cost(duration))

    def store_subtitles(self, job: VideoJob, video: HeyGenVideo) -> dict:
        """HeyGen's subtitle file of the render, copied beside it ({} when it sent none or it cannot be fetched:
        the captions then come from the voice track)."""
        if not video.subtitle_url:
            return {}
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "presenter.srt"
            try:
                providers.heygen().download(video.subtitle_url, local, max_bytes=SUBTITLES_MAX_BYTES)
            except ProviderError as exc:
                logger.warning("heygen subtitle file not fetched (%s %s); captions from the voice track",
                               type(exc).__name__, exc.code)
                return {}
            return {SUBTITLES_RESULT: get_storage().upload_file(local, job_path(job, "presenter.srt"),
                                                                "application/x-subrip")}

    bulk_size = MAX_BULK_STATUS_IDS

    def bulk_peers(self, step: JobStep, job: VideoJob) -> Q | None:
        # v3 renders are polled in bulk (GET /v3/videos/statuses); the legacy v2 status has no bulk form.
        return Q(job__heygen_mode=HeyGenMode.V3) if job.heygen_mode == HeyGenMode.V3 else None

    def check_many(self, steps: list[JobStep]) -> dict[int, Running | Failed]:
        videos = providers.heygen().get_video_statuses([s.external_id for s in steps])
        seen: dict[int, Running | Failed] = {}
        for step in steps:
            video = videos.get(step.external_id)
            if video is None or video.state == "completed":
                continue  # checked alone: its own GET has the link to download it from
            if video.state == "failed":
                seen[step.id] = Failed(video.failure_code or "render_failed",
                                       video.failure_message or "the render failed")
            else:
                seen[step.id] = Running()
        return seen

    def store(self, step: JobStep, job: VideoJob, video: HeyGenVideo) -> tuple[str, float]:
        """HeyGen's links expire: copy the render into our own storage before going on. Returns where it is now
        and how long it lasts."""
        extension = "webm" if step.result.get("keying") == "alpha" else "mp4"
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / f"presenter.{extension}"
            providers.heygen().download(video.video_url, local)
            duration = rendered_seconds(video, local)
            uri = get_storage().upload_file(local, job_path(job, f"presenter.{extension}"), f"video/{extension}")
        return uri, duration


def rendered_seconds(video: HeyGenVideo, local: Path) -> float:
    """The render's length as HeyGen reports it or, when it does not say, as measured from the file."""
    if video.duration is not None:
        return video.duration
    try:
        return compose.probe(local).duration
    except compose.ComposeError as exc:
        raise PermanentError(f"heygen delivered a video that cannot be read ({exc})", provider="heygen",
                             code="unreadable_render") from None


def heygen_offset(job: VideoJob, frame_w: int, frame_h: int) -> tuple[float, float]:
    """Our placement (README: "Presenter placement") as HeyGen v2's `offset`, which HeyGen does not define. We
    read it as the shift of the avatar's centre from the canvas centre, in fractions of the canvas size (x to
    the right, y down), and aim it at the centre of the box our own compositor would use for a 9:16 presenter.
    """
    placement = compose.Placement(scale=job.avatar_scale, x=job.avatar_x, y=job.avatar_y)
    box = compose.presenter_box(frame_w, frame_h, 9, 16, placement)
    return (round((box.left + box.width / 2 - frame_w / 2) / frame_w, 4),
            round((box.top + box.height / 2 - frame_h / 2) / frame_h, 4))


class HeyGenUpload(ProviderStep):
    def resend_is_safe(self, step: JobStep, job: VideoJob) -> bool:
        return True  # an upload is free; a duplicate asset costs nothing

    def submit(self, step: JobStep, job: VideoJob) -> Done:
        broll = get_storage().read_bytes(broll_step(job, step).output_uri)
        if len(broll) > settings.HEYGEN_UPLOAD_MAX_BYTES:
            broll = self.shrunk(broll)
        asset_id = providers.heygen().upload_video_asset(broll, "video/mp4")
        VideoJob.objects.filter(id=job.id).update(heygen_asset_id=asset_id)
        return Done("", {"asset_id": asset_id})

    @staticmethod
    def shrunk(video: bytes) -> bytes:
        """The B-roll re-encoded under HeyGen's upload limit (HeyGen re-encodes it anyway)."""
        with tempfile.TemporaryDirectory() as tmp:
            source, fitted = Path(tmp) / "broll.mp4", Path(tmp) / "fitted.mp4"
            source.write_bytes(video)
            try:
                compose.fit_to_size(source, fitted, max_bytes=settings.HEYGEN_UPLOAD_MAX_BYTES)
            except compose.ComposeError as exc:
                raise PermanentError(f"the B-roll is too large for HeyGen's asset upload: {exc}",
                                     provider="heygen", code="asset_too_large") from None
            return fitted.read_bytes()


HANDLERS: dict[str, StepHandler] = {
    StepKind.FETCH_IMAGE: FetchImage(),
    StepKind.VEO_GENERATE: VeoStep(),
    StepKind.VEO_EXTEND: VeoStep(),
    StepKind.JOIN_BROLL: JoinBroll(),
    StepKind.HEYGEN_UPLOAD: HeyGenUpload(),
    StepKind.HEYGEN_RENDER: HeyGenRender(),
    StepKind.COMPOSE: Compose(),
}


def handler_for(step: JobStep) -> StepHandler:
    return HANDLERS[step.kind]


def queue_for(step: JobStep) -> str | None:
    """The step's Celery queue; None is the default (orchestration) queue."""
    return settings.MEDIA_QUEUE if handler_for(step).cpu_bound else None


MEDIA_KINDS = frozenset(kind for kind, handler in HANDLERS.items() if handler.cpu_bound)
