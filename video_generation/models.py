"""VideoJob (the brief's model) and JobStep (one row per provider operation or local stage).

JobStep rows are the source of truth for resuming and for cost: Celery messages only ring the doorbell.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimestampedQuerySet(models.QuerySet):
    """`update()` moves `updated_at` too: Django's auto_now only acts on save(), and the pipeline changes rows with
    conditional UPDATEs."""

    def update(self, **kwargs):
        kwargs.setdefault("updated_at", timezone.now())
        return super().update(**kwargs)


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING_VEO = "processing_veo", "Generating B-roll (Veo)"
    PROCESSING_HEYGEN = "processing_heygen", "Rendering presenter (HeyGen)"
    COMPOSING = "composing", "Composing final video"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def terminal(cls) -> frozenset[str]:
        return frozenset({cls.COMPLETED, cls.FAILED, cls.CANCELLED})

    @classmethod
    def rank(cls, status: str) -> int:
        """Position in the forward-only order; terminal statuses share the top rank."""
        order = [cls.PENDING, cls.PROCESSING_VEO, cls.PROCESSING_HEYGEN, cls.COMPOSING]
        return order.index(status) if status in order else len(order)


class AspectRatio(models.TextChoices):
    PORTRAIT = "9:16", "9:16 (vertical)"
    LANDSCAPE = "16:9", "16:9 (horizontal)"


class HeyGenMode(models.TextChoices):
    V3 = "v3", "v3: transparent presenter, composed by us"
    V2 = "v2", "v2 (legacy): HeyGen composes over the uploaded B-roll"


VEO_CLIP_SECONDS = (4, 6, 8)  # Veo renders 4, 6 or 8 second clips (Vertex AI Veo reference)


class Quality(models.TextChoices):
    STANDARD = "standard", "Standard (Veo 3.1)"
    FAST = "fast", "Fast (Veo 3.1 Fast)"


class SceneTransitions(models.TextChoices):
    CONTINUOUS = "continuous", "continuous: each scene extends the one before (one provider operation after another)"
    CUTS = "cuts", "cuts: every scene from the product image at once, joined with short transitions"


class BrollFit(models.TextChoices):
    EXTEND = "extend", "extend: further Veo extensions so the B-roll covers the narration"
    LOOP = "loop", "loop: the B-roll repeated with a crossfade"
    HOLD = "hold", "hold: the last frame held"


class CaptionStyle(models.TextChoices):
    BOLD = "bold", "bold"
    CLEAN = "clean", "clean"
    KARAOKE = "karaoke", "karaoke"


class CaptionPosition(models.TextChoices):
    AUTO = "auto", "auto: the side of the frame away from the presenter"
    TOP = "top", "top"
    BOTTOM = "bottom", "bottom"


def default_captions() -> dict:
    return {"enabled": True, "style": CaptionStyle.BOLD.value, "position": CaptionPosition.AUTO.value}


class VideoJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_jobs")
    product_id = models.CharField(max_length=255, blank=True, null=True)
    product_title = models.CharField(max_length=500)
    scenes_data = models.JSONField()
    avatar_script = models.TextField()
    avatar_id = models.CharField(max_length=255)
    voice_id = models.CharField(max_length=255)
    image_url = models.URLField(max_length=2000)
    avatar_scale = models.FloatField(default=0.8)
    avatar_x = models.FloatField(default=0.7)
    avatar_y = models.FloatField(default=0.8)
    aspect_ratio = models.CharField(max_length=8, choices=AspectRatio.choices, default=AspectRatio.PORTRAIT)
    heygen_mode = models.CharField(max_length=4, choices=HeyGenMode.choices, default=HeyGenMode.V3)
    webhook_url = models.URLField(max_length=2000, blank=True, null=True)
    quality = models.CharField(max_length=16, choices=Quality.choices, default=Quality.STANDARD,
                               help_text="Which Veo model renders the B-roll (settings.VEO_MODELS).")
    broll_audio = models.BooleanField(default=False, help_text="Whether Veo renders sound with the B-roll.")
    scene_transitions = models.CharField(max_length=16, choices=SceneTransitions.choices,
                                         default=SceneTransitions.CONTINUOUS)
    broll_fit = models.CharField(max_length=8, choices=BrollFit.choices, default=BrollFit.EXTEND,
                                 help_text="How the B-roll covers a narration longer than it.")
    captions = models.JSONField(default=default_captions, blank=True,
                                help_text="{enabled, style, position} of the burned-in captions.")
    quote = models.JSONField(default=dict, blank=True,
                             help_text="The quote the job was accepted on (pricing.Quote.as_dict).")
    idempotency_key = models.CharField(max_length=255, blank=True, null=True,
                                       help_text="The client's Idempotency-Key for the generate request.")
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="",
                                  help_text="The id of the request that submitted the job; every log line about "
                                            "the job carries it.")

    status = models.CharField(max_length=32, choices=JobStatus.choices, default=JobStatus.PENDING)
    progress = models.IntegerField(default=0)
    error_message = models.TextField(null=True, blank=True)

    veo_video_gcs_uri = models.CharField(max_length=1000, blank=True, default="")
    veo_video_url = models.URLField(max_length=4000, blank=True, default="",
                                    help_text="Not stored: a link is a credential, issued on each read.")
    heygen_video_id = models.CharField(max_length=255, blank=True, default="")
    heygen_asset_id = models.CharField(max_length=255, blank=True, default="")
    final_video_uri = models.CharField(max_length=1000, blank=True, default="",
                                       help_text="Storage URI of the finished video (ours, never HeyGen's).")
    final_video_url = models.URLField(max_length=4000, blank=True, default="",
                                      help_text="Not stored: a link is a credential, issued on each read.")
    poster_uri = models.CharField(max_length=1000, blank=True, default="",
                                  help_text="Storage URI of the finished video's poster frame (JPEG).")
    preview_uri = models.CharField(max_length=1000, blank=True, default="",
                                   help_text="Storage URI of the finished video's short silent preview (MP4).")
    captions_srt_uri = models.CharField(max_length=1000, blank=True, default="",
                                        help_text="Storage URI of the styled captions as SubRip (.srt).")
    captions_vtt_uri = models.CharField(max_length=1000, blank=True, default="",
                                        help_text="Storage URI of the styled captions as WebVTT (.vtt).")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    processing_time_seconds = models.IntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True, help_text="Length of the finished video.")
    credits_used = models.IntegerField(default=0, help_text="Credits charged for the finished video.")
    cost_usd = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"),
                                   help_text="What the providers charged us for this job, in USD.")
    # Retention (retention.py): when the stored files go. Set once, never cleared.
    intermediates_expired_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job's intermediate files (image copy, B-roll, presenter) were "
                                         "deleted (INTERMEDIATE_RETENTION_DAYS after it ended).")
    video_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the finished video will be deleted: fixed on delivery from the "
                                         "plan's retention or VIDEO_RETENTION_DAYS.")
    video_expired_at = models.DateTimeField(null=True, blank=True,
                                            help_text="When the finished video was deleted.")

    objects = TimestampedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["status"]),
            # The retention sweep's two queries, over the rows still holding files only.
            models.Index(fields=["completed_at"], condition=models.Q(intermediates_expired_at__isnull=True),
                         name="job_intermediates_due_idx"),
            models.Index(fields=["video_expires_at"], condition=models.Q(video_expired_at__isnull=True),
                         name="job_video_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"],
                                    condition=models.Q(idempotency_key__isnull=False),
                                    name="unique_idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.product_title} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in JobStatus.terminal()


class StepKind(models.TextChoices):
    FETCH_IMAGE = "fetch_image", "Fetch product image"
    VEO_GENERATE = "veo_generate", "Veo: generate scene from image"
    VEO_EXTEND = "veo_extend", "Veo: extend chain by one scene"
    JOIN_BROLL = "join_broll", "Join B-roll chains"
    HEYGEN_UPLOAD = "heygen_upload", "HeyGen (v2): upload B-roll asset"
    HEYGEN_RENDER = "heygen_render", "HeyGen: render presenter"
    COMPOSE = "compose", "Compose and store the final video"


class Provider(models.TextChoices):
    VEO = "veo", "Google Vertex AI Veo"
    HEYGEN = "heygen", "HeyGen"
    LOCAL = "local", "Local"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"  # not started (may be waiting on the steps it depends on)
    RUNNING = "running", "Running"  # claimed local work (image fetch, join, compose) in progress
    SUBMITTING = "submitting", "Submitting"  # claimed; the provider call may be in flight
    SUBMITTED = "submitted", "Submitted"  # the provider accepted it; external_id is saved
    UNKNOWN = "unknown", "Unknown"  # a submit whose answer was lost: reconciled, never blindly re-sent
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def finished(cls) -> frozenset[str]:
        return frozenset({cls.SUCCEEDED, cls.FAILED, cls.CANCELLED})

    @classmethod
    def claimed(cls) -> frozenset[str]:
        """States in which a worker holds the step under a lease."""
        return frozenset({cls.RUNNING, cls.SUBMITTING})


class JobStep(models.Model):
    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=64, help_text="Unique within the job, e.g. 'veo:c1:s3'.")
    kind = models.CharField(max_length=32, choices=StepKind.choices)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    chain_index = models.IntegerField(null=True, blank=True)
    scene_index = models.IntegerField(null=True, blank=True)
    depends_on = models.JSONField(default=list, blank=True, help_text="Keys of steps that must succeed first.")
    params = models.JSONField(default=dict, blank=True, help_text="Inputs fixed when the plan was made.")

    state = models.CharField(max_length=16, choices=StepState.choices, default=StepState.PENDING)
    attempts = models.IntegerField(default=0)
    external_id = models.CharField(max_length=500, blank=True, default="",
                                   help_text="Veo operation name or HeyGen video/asset id, saved on submit.")
    storage_uri = models.CharField(max_length=1000, blank=True, default="",
                                   help_text="Where the provider writes this attempt's output.")
    output_uri = models.CharField(max_length=1000, blank=True, default="")
    result = models.JSONField(default=dict, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True,
                                         help_text="When to poll (submitted) or retry (pending) next.")
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    redrives = models.IntegerField(default=0, help_text="Times the sweeper re-sent this step's message since it was "
                                                        "last queued; each doubles the wait before the next.")
    poll_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0, help_text="Consecutive transient errors.")
    cost_usd = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    error_code = models.CharField(max_length=100, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TimestampedQuerySet.as_manager()

    class Meta:
        ordering = ["job", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "key"], name="unique_step_key_per_job"),
        ]
        indexes = [
            models.Index(fields=["state", "next_check_at"], name="step_due_idx"),
            models.Index(fields=["started_at"], name="step_started_idx"),  # the sweeper: what was taken lately
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class StoragePurge(models.Model):
    """Files of a job to delete from storage: written in the transaction that decides it (retention marking a job
    expired, an account's erasure deleting it), then carried out, and retried by the beat task until done.

    Names the job by id only (the job row may be gone). `keep_uri` is spared (a final video still within its
    retention). `passes_left` > 1 looks again `PURGE_RECHECK_SECONDS` later, for a file a worker that was still
    running may write after the first pass."""

    job_id = models.UUIDField(db_index=True)
    keep_uri = models.CharField(max_length=1000, blank=True, default="")
    due_at = models.DateTimeField(default=timezone.now)
    passes_left = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["due_at"], condition=models.Q(passes_left__gt=0), name="purge_due_idx")]

    def __str__(self) -> str:
        return f"purge of job {self.job_id} ({self.passes_left} passes left)"
