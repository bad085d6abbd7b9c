"""The brief's VideoJob admin, plus the job's steps. Everything the pipeline owns is read-only here: a job changes
only through its actions (cancel, retry), which go through the state machine like any other caller."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html

from .downloads import Artifact, artifact_url
from .models import JobStatus, JobStep, VideoJob
from .pipeline import JobRefused, cancel_job, retry_job

logger = logging.getLogger("video_generation")

STEP_FIELDS = (
    "key", "kind", "provider", "state", "attempts", "external_id", "output_uri",
    "cost_usd", "error_code", "error_message", "started_at", "submitted_at", "finished_at",
)


class ReadOnlyAdminMixin:
    """A record nobody edits by hand (the pipeline's steps, the credit ledger): it can be read, never added, changed
    or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class JobStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = JobStep
    fields = STEP_FIELDS
    readonly_fields = STEP_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("id",)



def apply_to_jobs(queryset, action, *, eligible, label: str) -> tuple[int, int, list[str]]:
    """Run a pipeline action on each eligible job: (done, skipped, problems) for the admin message. An action
    that answers False did nothing (the job moved on meanwhile) and counts as skipped; a refused one (a retry the
    user's credits do not cover) and a broken one are problems, the refusal with its reason."""
    done = skipped = 0
    problems: list[str] = []
    for job in queryset:
        if not eligible(job):
            skipped += 1
            continue
        try:
            changed = action(job)
        except JobRefused as refused:
            problems.append(f"job {job.id}: {refused}")
        except Exception:
            logger.exception("Admin: could not %s job %s", label, job.id)
            problems.append(f"job {job.id}: could not be processed (see the logs)")
        else:
            if changed is False:
                skipped += 1
            else:
                done += 1
    return done, skipped, problems

@admin.register(VideoJob)
class VideoJobAdmin(admin.ModelAdmin):
    list_display = [
        "id", "user", "product_title", "status",
        "progress", "created_at", "completed_at", "credits_used", "cost_usd",
    ]
    list_filter = ["status", "created_at", "user", "aspect_ratio", "heygen_mode"]
    search_fields = ["product_title", "product_id", "id"]
    list_select_related = ["user"]
    fieldsets = (
        ("Job Information", {
            "fields": ("id", "user", "product_id", "product_title", "status", "progress"),
        }),
        ("Video Configuration", {
            "fields": ("scenes_data", "image_url", "avatar_id", "voice_id", "avatar_script",
                       "aspect_ratio", "heygen_mode", "quality", "broll_audio", "captions", "broll_fit",
                       "scene_transitions", "webhook_url"),
        }),
        ("Avatar Position", {
            "fields": ("avatar_scale", "avatar_x", "avatar_y"),
        }),
        ("Results", {
            "fields": ("finished_video", "final_video_uri", "poster_uri", "preview_uri", "captions_srt_uri",
                       "captions_vtt_uri", "veo_video_gcs_uri",
                       "heygen_video_id", "heygen_asset_id"),
        }),
        ("Metadata", {
            "fields": ("created_at", "updated_at", "completed_at",
                       "processing_time_seconds", "duration_seconds", "quote", "credits_used", "cost_usd",
                       "error_message"),
        }),
    )
    inlines = [JobStepInline]
    readonly_fields = ["finished_video"]
    actions = ["cancel_selected_jobs", "retry_failed_jobs"]

    @admin.display(description="Finished video")
    def finished_video(self, job: VideoJob) -> str:
        """A fresh link, valid for DOWNLOAD_URL_TTL_SECONDS (links are never stored)."""
        url = artifact_url(job, Artifact.VIDEO, ttl_seconds=settings.DOWNLOAD_URL_TTL_SECONDS)
        return format_html('<a href="{}">download</a>', url) if url else "—"

    def has_add_permission(self, request):
        return False  # Jobs should only be created via API

    def has_change_permission(self, request, obj=None):
        return False  # a hand-edited status would bypass the state machine: the job page is for reading

    def has_delete_permission(self, request, obj=None):
        return False  # a job's files, costs and webhooks are not undone by deleting its row

    def has_operate_permission(self, request) -> bool:
        """Who may cancel and retry jobs: staff with the model's change permission."""
        return request.user.has_perm("video_generation.change_videojob")

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_selected_jobs(self, request, queryset):
        cancelled, skipped, failed = apply_to_jobs(queryset, cancel_job, eligible=lambda job: not job.is_terminal,
                                                   label="cancel")
        self._report(request, f"Cancelled {cancelled} job(s)", skipped, "already finished", failed)

    @admin.action(description="Retry failed jobs from the last good step", permissions=["operate"])
    def retry_failed_jobs(self, request, queryset):
        retried, skipped, failed = apply_to_jobs(queryset, retry_job, label="retry",
                                                 eligible=lambda job: job.status == JobStatus.FAILED)
        self._report(request, f"Retried {retried} job(s)", skipped, "not failed", failed)

    def _report(self, request, done: str, skipped: int, skipped_reason: str, problems: list[str]) -> None:
        message = f"{done}; skipped {skipped} ({skipped_reason})."
        if problems:
            message += " Not done: " + "; ".join(problems[:10]) + ("; …" if len(problems) > 10 else "")
        self.message_user(request, message, level=messages.WARNING if problems else messages.SUCCESS)


@admin.register(JobStep)
class JobStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "job", "kind", "provider", "state", "attempts", "external_id", "updated_at"]
    list_filter = ["state", "kind", "provider"]
    search_fields = ["key", "external_id", "job__id"]
    list_select_related = ["job"]
