"""A job as the web app shows it: its stages (from its steps), its failure in plain words, and the brief a retry
starts again. The rules themselves stay in the pipeline (video_generation.pipeline) and the ledger (billing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_generation import uploads
from video_generation.models import JobStatus, JobStep, Provider, StepKind, StepState, VideoJob
from video_generation.pipeline import IdempotencyKeyReused, JobRefused
from video_generation.pipeline.plan import PADDING_PARAM
from video_generation.pipeline.transitions import PROVIDER_NAMES
from video_generation.rate_limits import RateLimitExceeded
from video_generation.views import start_video

from .newvideo_services import WebVideoRequestSerializer

# --- Stages ------------------------------------------------------------------------------------------------------

WAITING, WORKING, DONE, FAILED, STOPPED = "waiting", "working", "done", "failed", "stopped"
STATE_WORDS = {WAITING: "Waiting", WORKING: "In progress", DONE: "Done", FAILED: "Failed", STOPPED: "Stopped"}
IMAGE, PRESENTER, COMPOSE, BROLL_EXTRA = "image", "presenter", "compose", "broll-extra"
# Which stage each kind of step belongs to (a Veo clip: its scene's, or the extra B-roll's when it is padding).
STAGE_OF_KIND = {StepKind.FETCH_IMAGE: IMAGE, StepKind.HEYGEN_UPLOAD: PRESENTER, StepKind.HEYGEN_RENDER: PRESENTER,
                 StepKind.JOIN_BROLL: COMPOSE, StepKind.COMPOSE: COMPOSE}
STAGE_LABELS = {IMAGE: "Product image", BROLL_EXTRA: "Extra B-roll to cover the narration",
                PRESENTER: "Presenter", COMPOSE: "Putting the video together"}
IN_FLIGHT = frozenset({StepState.RUNNING, StepState.SUBMITTING, StepState.SUBMITTED, StepState.UNKNOWN})


@dataclass
class Stage:
    key: str  # "image", "scene-1".., "broll-extra", "presenter", "compose": stable, for data-stage
    label: str
    steps: list[JobStep] = field(default_factory=list)
    state: str = WAITING

    @property
    def state_words(self) -> str:
        return STATE_WORDS[self.state]


def scene_key(scene_index: int) -> str:
    return f"scene-{scene_index + 1}"


def stage_key(step: JobStep) -> str:
    if step.kind in (StepKind.VEO_GENERATE, StepKind.VEO_EXTEND):
        return BROLL_EXTRA if step.params.get(PADDING_PARAM) else scene_key(step.scene_index or 0)
    return STAGE_OF_KIND[step.kind]


def stages(job: VideoJob, steps: list[JobStep]) -> list[Stage]:
    """The job's stages in order: image, each scene's B-roll, any extra B-roll, presenter, compose. A job the worker
    has not planned yet (no steps) shows them all waiting."""
    ordered = [Stage(IMAGE, STAGE_LABELS[IMAGE])]
    ordered += [Stage(scene_key(n), f"B-roll, scene {n + 1}") for n in range(len(job.scenes_data or ()))]
    ordered += [Stage(BROLL_EXTRA, STAGE_LABELS[BROLL_EXTRA]), Stage(PRESENTER, STAGE_LABELS[PRESENTER]),
                Stage(COMPOSE, STAGE_LABELS[COMPOSE])]
    by_key = {stage.key: stage for stage in ordered}
    for step in steps:
        key = stage_key(step)
        if key not in by_key:  # a step of a scene the brief no longer lists: shown, never lost
            by_key[key] = Stage(key, f"B-roll, scene {key.removeprefix('scene-')}")
            ordered.insert(-3, by_key[key])
        by_key[key].steps.append(step)
    for stage in ordered:
        stage.state = stage_state(job, stage.steps)
    return [stage for stage in ordered if stage.key != BROLL_EXTRA or stage.steps]


def stage_state(job: VideoJob, steps: list[JobStep]) -> str:
    states = {step.state for step in steps}
    if job.status == JobStatus.COMPLETED or (states and states <= {StepState.SUCCEEDED}):
        return DONE
    if StepState.FAILED in states:
        return FAILED
    if job.is_terminal:  # a provider call still out when the job ended is no longer waited for
        return STOPPED
    if states & IN_FLIGHT or (StepState.SUCCEEDED in states and StepState.PENDING in states):
        return WORKING
    return WAITING


# --- Failure in plain words -----------------------------------------------------------------------------------

REFUSED, COULD_NOT = "refused to", "could not"
# error_code (JobStep.error_code, as the pipeline and services/errors.py classify failures) -> (verb, reason)
FAILURE_REASONS = {
    "safety_filtered": (REFUSED, "its safety filters blocked the description"),
    "rejected": (REFUSED, "it did not accept the request"),
    "render_failed": (COULD_NOT, "the render failed on its side"),
    "timeout": (COULD_NOT, "it did not finish in time"),
    "outcome_unknown": (COULD_NOT, "we could not confirm that it received the request"),
    "retries_exhausted": (COULD_NOT, "it kept failing after several attempts"),
    "too_many_attempts": (COULD_NOT, "it kept failing after several attempts"),
    "poll_failed": (COULD_NOT, "we could not get its progress after several attempts"),
    "connection_failed": (COULD_NOT, "it could not be reached"),
    "no_response": (COULD_NOT, "it did not answer"),
    "rate_limit_exceeded": (COULD_NOT, "it was too busy"),
    "RESOURCE_EXHAUSTED": (COULD_NOT, "it was too busy"),
    "not_configured": (COULD_NOT, "it is not set up on our side"),
    "credentials_missing": (COULD_NOT, "it is not set up on our side"),
    "credentials_invalid": (COULD_NOT, "it is not set up on our side"),
    "host_not_found": (COULD_NOT, "the image address does not exist"),
    "http_error": (COULD_NOT, "the image address answered with an error"),
    "unsupported_content_type": (COULD_NOT, "the file is not a PNG, JPEG or WebP image"),
    "empty_response": (COULD_NOT, "the image address returned an empty file"),
    "too_large": (COULD_NOT, "the file is too large"),
    "too_many_redirects": (COULD_NOT, "the image address redirects too often"),
    "asset_too_large": (COULD_NOT, "the B-roll is too large to upload"),
}
DEFAULT_REASON = (COULD_NOT, "something went wrong")


def step_action(step: JobStep) -> str:
    if step.kind == StepKind.FETCH_IMAGE:
        return "fetch the product image"
    if step.kind in (StepKind.VEO_GENERATE, StepKind.VEO_EXTEND):
        if step.params.get(PADDING_PARAM):
            return "generate the extra B-roll that covers the narration"
        return f"generate scene {(step.scene_index or 0) + 1}"
    return {StepKind.JOIN_BROLL: "join the B-roll", StepKind.HEYGEN_UPLOAD: "upload the B-roll",
            StepKind.HEYGEN_RENDER: "render the presenter",
            StepKind.COMPOSE: "put the final video together"}[step.kind]


def provider_name(provider: str) -> str:
    return "We" if provider == Provider.LOCAL else PROVIDER_NAMES.get(provider, provider)


@dataclass(frozen=True)
class Failure:
    sentence: str  # "Google Veo refused to generate scene 2 because its safety filters blocked the description."
    detail: str  # what the provider said (stored for users to read: never a secret), or ""
    source: str = ""  # who said it: the provider's name ("" for our own work)


def failure(job: VideoJob, steps: list[JobStep]) -> Failure | None:
    """Why a failed job failed, in plain words: the step that failed, its provider, and its error code."""
    if job.status != JobStatus.FAILED:
        return None
    failed = next((step for step in steps if step.state == StepState.FAILED), None)
    if failed is None:
        return Failure("We could not make this video.", job.error_message or "")
    code = failed.error_code
    verb, reason = FAILURE_REASONS.get(code) or (
        (COULD_NOT, "the operation failed on its side") if code.startswith("operation_") else DEFAULT_REASON)
    sentence = f"{provider_name(failed.provider)} {verb} {step_action(failed)} because {reason}."
    source = "" if failed.provider == Provider.LOCAL else provider_name(failed.provider)
    return Failure(sentence, failed.error_message, source)


# --- Retry: the same brief again, as a new job ----------------------------------------------------------------

class RetryRefused(Exception):
    """The retry could not start; the message is for the person."""


def brief_of(job: VideoJob) -> dict:
    """The request body the job was made from (what VideoGenerationRequestSerializer takes)."""
    brief = {
        "product_title": job.product_title, "scenes": [dict(scene) for scene in job.scenes_data],
        "image_url": job.image_url, "avatar_id": job.avatar_id, "voice_id": job.voice_id,
        "avatar_script": job.avatar_script,
        "avatar_position": {"scale": job.avatar_scale, "x": job.avatar_x, "y": job.avatar_y},
        "aspect_ratio": job.aspect_ratio, "quality": job.quality, "broll_audio": job.broll_audio,
        "captions": dict(job.captions or {}), "broll_fit": job.broll_fit,
        "scene_transitions": job.scene_transitions,
    }
    if job.product_id is not None:
        brief["product_id"] = job.product_id
    if job.webhook_url:
        brief["webhook_url"] = job.webhook_url
    return brief


def retry_key(job: VideoJob) -> str:
    """One retry per failed job: a second click (or a second tab) gets the job the first one started."""
    return f"web-retry:{job.id}"


def retry_as_new_job(*, user, job: VideoJob) -> VideoJob:
    """A new job with the failed job's brief, started as the API starts one (start_video: rate limit, credits,
    idempotency); RetryRefused with a sentence when it cannot start."""
    if job.status != JobStatus.FAILED:
        raise RetryRefused("Only a failed video can be tried again.")
    try:
        new_job, _ = start_video(user=user, data=checked_brief(job, user=user), key=retry_key(job))
    except JobRefused as refused:
        raise RetryRefused(_refusal_words(refused)) from None
    except RateLimitExceeded as limited:
        raise RetryRefused(f"You have started many videos lately. Please try again in {limited.wait or 60:.0f} "
                           "seconds.") from None
    except IdempotencyKeyReused:
        raise RetryRefused("This video was already tried again with another brief.") from None
    return new_job


def checked_brief(job: VideoJob, *, user) -> dict:
    """The failed job's brief checked again as the API checks a request; an image the person uploaded (which only
    the web app can give, server-side) is kept if it is still one of their uploads."""
    brief = brief_of(job)
    uploaded = uploads.owners_upload_path(job.image_url, user.pk) is not None
    if uploaded:
        if uploads.stored_image(user.pk, job.image_url.rsplit("/", 1)[-1]) is None:
            raise RetryRefused("The product image you uploaded for this video is no longer stored. Please make a "
                               "new video.")
        del brief["image_url"]
    request = WebVideoRequestSerializer(data=brief)
    if not request.is_valid() or not (uploaded or request.validated_data.get("image_url")):
        raise RetryRefused("This video's brief is no longer accepted (" + _first_error(request.errors) + "). "
                           "Please make a new video.")
    validated = dict(request.validated_data)
    if uploaded:
        validated["image_url"] = job.image_url
    return validated


def _refusal_words(refused: JobRefused) -> str:
    body = refused.body
    if refused.status_code == 402 and "available" in body:
        return (f"You need {body['required']} credits to try again and have {body['available']}. "
                "Buy credits or wait for your plan's next period.")
    if refused.status_code == 429 and "limit" in body:
        return (f"Your plan makes {body['limit']} videos at a time. Wait for one to finish, then try again.")
    if details := body.get("details"):
        return f"Your plan does not allow this brief: {_first_error(details)}"
    return f"We could not start the video again: {body['error']}."


def _first_error(errors) -> str:
    """The first message of a (nested) validation error."""
    while isinstance(errors, dict | list) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)
