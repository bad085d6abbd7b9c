"""The brief's request/response serializers (with the corrections), plus the small bodies the API returns."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .downloads import Artifact, artifact_url
from .models import (
    VEO_CLIP_SECONDS,
    AspectRatio,
    BrollFit,
    CaptionPosition,
    CaptionStyle,
    JobStatus,
    JobStep,
    Quality,
    SceneTransitions,
    VideoJob,
    default_captions,
)
from .presets import AVATAR_PRESETS, POSITION_MAX, POSITION_MIN, SCALE_MAX, SCALE_MIN, default_position
from .validators import drawable_text, plain_text, public_url, visible_text

logger = logging.getLogger("video_generation")

SCENE_DURATIONS = VEO_CLIP_SECONDS
MIN_SCENES, MAX_SCENES = 1, 20
MAX_URL_LENGTH = VideoJob._meta.get_field("image_url").max_length  # the column a URL is stored in


class RejectUnknownFieldsMixin:
    """Fail validation when the body carries a key this serializer does not know (typos must not pass)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                allowed = ", ".join(sorted(writable))
                raise serializers.ValidationError(
                    {key: [f"Unknown field. Allowed fields: {allowed}."] for key in unknown}
                )
        return super().to_internal_value(data)


# --- Fields that take exactly the JSON types the schema names (DRF would turn 12 into "12" or "8" into 8) ----------


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only ("true", 1 and "yes" are not booleans in JSON)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (8.0 counts, "8" and true do not)."""

    def to_internal_value(self, data):
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IntegerChoiceField(serializers.ChoiceField):
    """One of a few integers; 8.0 counts as 8 (JSON does not tell them apart), "8" does not."""

    def to_internal_value(self, data):
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class HttpUrlField(StrictCharField):
    """A URL we will request: the rule validators.public_url states (and the schema publishes)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_URL_LENGTH, trim_whitespace=False, validators=[public_url], **kwargs)


def text(*, max_length: int, **kwargs) -> serializers.CharField:
    """A required text field with visible content, taken exactly as sent (validators.py says what passes)."""
    return StrictCharField(max_length=max_length, min_length=1, trim_whitespace=False, validators=[visible_text],
                           **kwargs)


def optional_text(*, max_length: int, **kwargs) -> serializers.CharField:
    return StrictCharField(max_length=max_length, required=False, allow_blank=True, trim_whitespace=False,
                           validators=[plain_text], **kwargs)


class SceneSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    visual_description = text(max_length=1000)
    camera_movement = text(max_length=500)
    mood = text(max_length=500)
    duration = IntegerChoiceField(
        choices=SCENE_DURATIONS, default=8,
        error_messages={"invalid_choice": "Duration must be 4, 6 or 8 seconds (got {input})."},
        help_text="Clip length in seconds: 4, 6 or 8 (the lengths Veo renders).",
    )
    text_overlay = StrictCharField(
        max_length=500, required=False, allow_blank=True, trim_whitespace=False,
        validators=[drawable_text],
        help_text="Text drawn on screen during this scene (fading in and out), in the safe area clear of the "
                  "presenter; long text wraps. Characters the bundled font cannot draw, and emoji, are refused.")
    overlay_in_prompt = StrictBooleanField(
        default=False,
        help_text="Also ask Veo to show the text in the B-roll (off by default: a generative model does not spell "
                  "reliably, and the text is drawn by the compositor anyway).")


class AvatarPositionSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    scale = StrictFloatField(
        default=0.8, min_value=SCALE_MIN, max_value=SCALE_MAX,
        help_text="Presenter height as a fraction of the frame height.",
    )
    x = StrictFloatField(
        default=0.7, min_value=POSITION_MIN, max_value=POSITION_MAX,
        help_text="Presenter centre, fraction of the half-width from the frame centre (-1 left, 1 right).",
    )
    y = StrictFloatField(
        default=0.8, min_value=POSITION_MIN, max_value=POSITION_MAX,
        help_text="Presenter centre, fraction of the half-height from the frame centre (-1 top, 1 bottom).",
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": sorted(AVATAR_PRESETS), "description": "A preset name."},
            {
                "type": "object",
                "properties": {
                    "scale": {"type": "number", "minimum": SCALE_MIN, "maximum": SCALE_MAX, "default": 0.8},
                    "x": {"type": "number", "minimum": POSITION_MIN, "maximum": POSITION_MAX, "default": 0.7},
                    "y": {"type": "number", "minimum": POSITION_MIN, "maximum": POSITION_MAX, "default": 0.8},
                },
                "additionalProperties": False,
            },
        ],
        "description": "Either a preset name or {scale, x, y}. Defaults to bottom_right (0.8, 0.7, 0.8).",
    }
)
class AvatarPositionField(serializers.Field):
    """A preset name or an {scale, x, y} object; always validated to a plain {scale, x, y} dict."""

    default_error_messages = {
        "unknown_preset": "Unknown preset \"{name}\". Choose one of: {choices}, or send {{scale, x, y}}.",
        "invalid_type": "Expected a preset name or an object with scale, x and y.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            if data not in AVATAR_PRESETS:
                self.fail("unknown_preset", name=data, choices=", ".join(AVATAR_PRESETS))
            return dict(AVATAR_PRESETS[data])
        if isinstance(data, Mapping):
            position = AvatarPositionSerializer(data=data)
            if not position.is_valid():
                raise serializers.ValidationError(position.errors)
            return {key: float(value) for key, value in position.validated_data.items()}
        self.fail("invalid_type")

    def to_representation(self, value):
        return dict(value)


class CaptionsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    enabled = StrictBooleanField(default=True, help_text="Burn the narration's words into the video.")
    style = serializers.ChoiceField(
        choices=CaptionStyle.choices, default=CaptionStyle.BOLD,
        help_text="`bold`: large white text with a dark outline; `clean`: plain text on a soft band; `karaoke`: "
                  "each word lights up as it is spoken.")
    position = serializers.ChoiceField(
        choices=CaptionPosition.choices, default=CaptionPosition.AUTO,
        help_text="`auto` puts the captions at the end of the frame away from the presenter's face.")


class VideoGenerationRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    product_id = optional_text(max_length=255, allow_null=True)
    product_title = text(max_length=500)
    scenes = serializers.ListField(child=SceneSerializer(), min_length=MIN_SCENES, max_length=MAX_SCENES)
    image_url = HttpUrlField(help_text="The product image: PNG, JPEG or WebP, at most IMAGE_MAX_BYTES.")
    avatar_id = text(max_length=255)
    voice_id = text(max_length=255)
    avatar_script = text(max_length=settings.HEYGEN_MAX_SCRIPT_CHARS,
                         help_text="What the presenter says. Limited to HEYGEN_MAX_SCRIPT_CHARS characters.")
    avatar_position = AvatarPositionField(required=False, default=default_position)
    aspect_ratio = serializers.ChoiceField(choices=AspectRatio.choices, default=AspectRatio.PORTRAIT)
    webhook_url = HttpUrlField(required=False, allow_null=True,
                               help_text="Called with the job's final state when it completes, fails or is cancelled.")
    quality = serializers.ChoiceField(
        choices=Quality.choices, default=Quality.STANDARD,
        help_text="The Veo model for the B-roll: `standard` (veo-3.1-generate-001) or `fast` "
                  "(veo-3.1-fast-generate-001, cheaper). A plan may offer only some.")
    broll_audio = StrictBooleanField(
        default=False,
        help_text="Let Veo render sound with the B-roll (mixed under the presenter's voice). Off by default: the "
                  "presenter's voice is the soundtrack, and Vertex prices silent video at about half.")
    captions = CaptionsSerializer(
        required=False, default=default_captions,
        help_text="Captions burned into the video and downloadable as .srt and .vtt. On (bold, auto) by default.")
    broll_fit = serializers.ChoiceField(
        choices=BrollFit.choices, default=BrollFit.EXTEND,
        help_text="When the narration is longer than the scenes: `extend` (default) adds Veo extensions so the B-roll "
                  "covers it, priced in the quote; `loop` repeats the B-roll with a crossfade; `hold` holds its "
                  "last frame.")
    scene_transitions = serializers.ChoiceField(
        choices=SceneTransitions.choices, default=SceneTransitions.CONTINUOUS,
        help_text="`continuous` (default): each scene extends the one before, one provider operation after "
                  "another; `cuts`: every scene is generated from the product image at once and joined with short "
                  "transitions, so the B-roll takes one operation's time whatever the scene count.")
    max_credits = StrictIntegerField(
        required=False, min_value=1, max_value=1_000_000,
        help_text="Refuse with 402 (creating nothing) if the quote is above this many credits.")

    def validate_avatar_script(self, value: str) -> str:
        limit = settings.HEYGEN_MAX_SCRIPT_CHARS
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} characters (it has {len(value)})."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        """Last, once the body is otherwise valid: the ids must be in HeyGen's catalogue (when it can be read)."""
        from .catalog import unknown_ids  # reads providers: imported when a request is checked

        if errors := unknown_ids(avatar_id=attrs["avatar_id"], voice_id=attrs["voice_id"]):
            raise serializers.ValidationError(errors)
        return attrs


class CatalogAvatarFilterSerializer(serializers.Serializer):
    gender = optional_text(max_length=50, help_text='Only avatars of this gender ("male", "female"); any case.')


class CatalogVoiceFilterSerializer(CatalogAvatarFilterSerializer):
    language = optional_text(max_length=100,
                             help_text='Only voices of this language, as HeyGen names it ("English"); any case.')


# --- Output ------------------------------------------------------------------------------------------


class FieldsBuiltOnceMixin:
    """A ModelSerializer builds its fields from the model on every instantiation: two thirds of the CPU of
    showing a job. This builds them once per class; each instance gets its own fields (they are bound to their
    serializer), made again from the arguments they were made with (what a deepcopy does, without copying the
    arguments: fields only read them). Nested serializers are deep-copied, as DRF does."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built_once = built
        return {name: _fresh(field) for name, field in built.items()}


def _fresh(field: serializers.Field) -> serializers.Field:
    if isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy(field)
    return type(field)(*field._args, **field._kwargs)


class JobStepSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = JobStep
        fields = ["key", "kind", "state", "attempts", "started_at", "finished_at", "error_message", "cost_usd"]
        read_only_fields = fields
        extra_kwargs = {"cost_usd": {"coerce_to_string": True, "help_text": "What the provider charged for this "
                                                                            "step, in USD (a decimal string)."}}


@extend_schema_field({"type": "string", "nullable": True})
class ArtifactLinkField(serializers.Field):
    """A link to one of the job's files, issued on each read (None when it has none; with context {"links": False}
    always None: the status read issues them itself, after its ETag check)."""

    def __init__(self, artifact: Artifact, **kwargs):
        self.artifact = artifact
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, job: VideoJob) -> str | None:
        return fresh_link(job, self.artifact) if self.context.get("links", True) else None


class VideoJobSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    """A job as the API shows it. With context {"links": False} the links are left None (the status read
    issues them itself, after its ETag check)."""

    veo_video_url = ArtifactLinkField(Artifact.BROLL)
    final_video_url = ArtifactLinkField(Artifact.VIDEO)
    poster_url = ArtifactLinkField(
        Artifact.POSTER,
        help_text="The finished video's poster frame (JPEG, a third of the way in), a link like final_video_url's.")
    preview_url = ArtifactLinkField(
        Artifact.PREVIEW,
        help_text="The finished video's first 3 seconds, silent, at half size (MP4), a link like final_video_url's.")
    captions_srt_url = ArtifactLinkField(
        Artifact.CAPTIONS_SRT,
        help_text="The burned-in captions as SubRip (.srt), a link like final_video_url's; null without captions.")
    captions_vtt_url = ArtifactLinkField(
        Artifact.CAPTIONS_VTT,
        help_text="The same captions as WebVTT (.vtt), for an HTML <track>; null without captions.")
    captions = CaptionsSerializer(read_only=True, help_text="The captions the job was made with.")
    steps = JobStepSerializer(many=True, read_only=True)
    credits_quoted = serializers.SerializerMethodField(
        help_text="The credits the job was accepted at (held until it ends); `credits_used` is what the finished "
                  "video was charged: its length in credits, never more than the quote. 0 if it was not delivered.")

    class Meta:
        model = VideoJob
        fields = [
            "id", "status", "progress", "product_title",
            "created_at", "updated_at", "completed_at",
            "processing_time_seconds", "veo_video_url",
            "final_video_url", "poster_url", "preview_url", "captions_srt_url", "captions_vtt_url",
            "error_message", "credits_used",
            "aspect_ratio", "captions", "broll_fit", "scene_transitions", "steps",
            "quality", "broll_audio", "duration_seconds", "credits_quoted", "cost_usd",
            "expired", "video_expires_at", "video_expired_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"cost_usd": {"coerce_to_string": True, "help_text": "What the providers charged for this "
                                                                            "job, in USD (a decimal string)."}}

    expired = serializers.SerializerMethodField(
        help_text="true once retention has deleted the finished video (VIDEO_RETENTION_DAYS, or your plan's, after "
                  "delivery): its downloads answer 410 Gone.")

    def get_expired(self, job: VideoJob) -> bool:
        return job.video_expired_at is not None

    def get_credits_quoted(self, job: VideoJob) -> int | None:
        return job.quote.get("credits")


def fresh_link(job: VideoJob, artifact: Artifact) -> str | None:
    """A link issued now (stored ones go stale), or None if there is no artifact or it cannot be signed."""
    try:
        return artifact_url(job, artifact)
    except Exception:  # a status read must answer even when link signing breaks
        logger.exception("Could not make a %s link for job %s", artifact, job.id)
        return None


# --- Small response bodies (also used to document the API) ---------------------------------------------


class GenerateAcceptedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    message = serializers.CharField()
    estimated_time_seconds = serializers.IntegerField()
    credits = serializers.IntegerField(help_text="The job's quoted credits (POST /api/video/quote/), held until the "
                                                 "video is delivered; a failed or cancelled video costs nothing.")


class ClipSerializer(serializers.Serializer):
    scene = serializers.IntegerField(help_text="0-based scene index.")
    operation = serializers.ChoiceField(choices=["generate", "extend"])
    seconds = serializers.IntegerField(help_text="Seconds Veo renders (and bills) for this clip.")
    padding = serializers.BooleanField(
        help_text="true for a clip that renders more of the last scene only so that the B-roll covers the narration "
                  "(broll_fit `extend`).")


class ChainSerializer(serializers.Serializer):
    scenes = serializers.ListField(child=serializers.IntegerField(), help_text="The scenes the chain shows.")
    seconds = serializers.IntegerField(help_text="Length of the chain's video.")
    clips = ClipSerializer(many=True)


class QuoteSerializer(serializers.Serializer):
    credits = serializers.IntegerField(help_text="Credits the video costs: one per started 8 seconds.")
    estimated_cost_usd = serializers.CharField(help_text="What the providers will charge for it, a decimal string.")
    duration_seconds = serializers.FloatField(
        help_text="The finished video: the longer of the scenes' B-roll and the narration.")
    broll_seconds = serializers.FloatField(
        help_text="The B-roll Veo renders: the scenes, plus any padding that covers the narration (`extend`).")
    narration_seconds = serializers.FloatField(
        help_text="The script's words at NARRATION_WORDS_PER_MINUTE (150 by default).")
    estimated_time_seconds = serializers.IntegerField()
    quality = serializers.ChoiceField(choices=Quality.choices)
    broll_audio = serializers.BooleanField()
    model = serializers.CharField(help_text="The Veo model that renders the B-roll.")
    scene_transitions = serializers.ChoiceField(choices=SceneTransitions.choices)
    broll_fit = serializers.ChoiceField(choices=BrollFit.choices)
    scene_plan = ChainSerializer(many=True, help_text="The Veo chains: scenes, clips and their seconds.")


class CreditsRefusedSerializer(serializers.Serializer):
    error = serializers.CharField(help_text='"Insufficient credits" or "The quote is above max_credits".')
    required = serializers.IntegerField(help_text="The credits the video needs.")
    available = serializers.IntegerField(required=False, help_text="The credits you have available.")
    max_credits = serializers.IntegerField(required=False, help_text="The max_credits you sent.")


class TooManyRequestsSerializer(serializers.Serializer):
    error = serializers.CharField(help_text='"Rate limit exceeded" or "Too many videos in progress".')
    retry_after = serializers.IntegerField(required=False, help_text="Seconds until the next request is allowed.")
    limit = serializers.IntegerField(required=False, help_text="Your plan's videos in progress at once.")
    rate_limit = serializers.CharField(required=False, help_text='The rate you went over, e.g. "10/hour": your '
                                                                 "plan's, or the service's default.")


class DownloadParamsSerializer(serializers.Serializer):
    artifact = serializers.ChoiceField(choices=[artifact.value for artifact in Artifact], default=Artifact.VIDEO.value)


class JobListFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)


class CatalogAvatarSerializer(serializers.Serializer):
    avatar_id = serializers.CharField(help_text="Send as `avatar_id` to generate.")
    name = serializers.CharField()
    gender = serializers.CharField(help_text="As HeyGen says it; may be empty.")
    avatar_type = serializers.CharField(help_text="studio_avatar, video_avatar or photo_avatar.")
    default_voice_id = serializers.CharField(help_text="Its own voice; may be empty.")
    preview_image_url = serializers.CharField(help_text="HeyGen's preview image (may be empty).")
    preview_video_url = serializers.CharField(help_text="HeyGen's preview video (may be empty).")
    transparent = serializers.BooleanField(
        allow_null=True,
        help_text="true: rendered transparent over your B-roll; false: rendered on a key colour that we remove; "
                  "null: not known before its first render (transparent is tried first).")


class CatalogVoiceSerializer(serializers.Serializer):
    voice_id = serializers.CharField(help_text="Send as `voice_id` to generate.")
    name = serializers.CharField()
    language = serializers.CharField()
    gender = serializers.CharField()
    preview_audio_url = serializers.CharField(help_text="HeyGen's audio sample (may be empty).")


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


class GoneSerializer(serializers.Serializer):
    error = serializers.CharField()
    expired_at = serializers.DateTimeField(help_text="When retention deleted the file.")


class ValidationErrorSerializer(serializers.Serializer):
    error = serializers.CharField(default="Validation error")
    details = serializers.DictField(help_text="Field name -> list of messages (nested for scenes/position).")


class BodyTooLargeSerializer(serializers.Serializer):
    error = serializers.CharField()
    max_bytes = serializers.IntegerField(help_text="The largest body accepted, in bytes (REQUEST_MAX_BODY_BYTES).")


class AuthErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ServerErrorSerializer(serializers.Serializer):
    error = serializers.CharField(default="Internal server error")
    message = serializers.CharField(default="An unexpected error occurred")


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"healthy" or "unhealthy".')
    timestamp = serializers.DateTimeField()
    database = serializers.CharField(help_text='"connected" or "unavailable".')
    broker = serializers.CharField(help_text='"connected" or "unavailable".')
