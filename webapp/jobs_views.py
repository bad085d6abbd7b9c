"""A job's page (live stepper, player, downloads, credits, cancel and retry) and the list of the user's videos.

Reads and actions go through the same functions as the API: get_user_job, cancel_job, start_video (through
jobs_services.retry_as_new_job), downloads.download_link / serializers.fresh_link, and billing's ledger reads."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from billing import services as billing
from video_generation.api_errors import JobNotFound
from video_generation.deliverables import SIDE_FILES
from video_generation.downloads import Artifact, ArtifactExpired, artifact_expired_at, artifact_uri, download_link
from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import cancel_job
from video_generation.serializers import JobListFilterSerializer, fresh_link
from video_generation.services.storage import ObjectNotFoundError, get_storage
from video_generation.views import get_user_job

from . import jobs_services

POLL_SECONDS = 2
LIST_FIELDS = ("id", "product_title", "status", "progress", "created_at", "duration_seconds", "poster_uri",
               "video_expired_at", "quote")
# What a finished job offers to download: the video, then its side files (deliverables.SIDE_FILES), in that order.
ARTIFACT_OF_FIELD = {artifact.job_field: artifact for artifact in Artifact}
DOWNLOADS = (Artifact.VIDEO, *(ARTIFACT_OF_FIELD[field] for field in SIDE_FILES))
DOWNLOAD_LABELS = {Artifact.VIDEO: "Video (MP4)", Artifact.POSTER: "Poster (JPEG)",
                   Artifact.PREVIEW: "Preview, 3 s (MP4)", Artifact.CAPTIONS_SRT: "Captions (.srt)",
                   Artifact.CAPTIONS_VTT: "Captions (.vtt)"}


def users_job(request, job_id) -> VideoJob:
    """The signed-in user's job with its steps; the 404 page for anyone else's or a missing one."""
    try:
        return get_user_job(user=request.user, job_id=job_id)
    except JobNotFound:
        raise Http404("No such video") from None


def download_id(artifact: Artifact) -> str:
    return "download-" + artifact.value.replace("_", "-")


def same_origin(url: str | None) -> str | None:
    """Our own /media/ links made relative, so the player, its poster, its captions track and the downloads are
    same-origin whichever host the page was reached on (a <track> from another origin needs CORS)."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return url[len(base):] if url and url.startswith(base + "/media/") else url


def page_link(job: VideoJob, artifact: Artifact) -> str | None:
    """A fresh link for the page to load: the API's fresh_link, same-origin."""
    return same_origin(fresh_link(job, artifact))


def job_context(request, job: VideoJob) -> dict:
    steps = list(job.steps.all())
    context = {
        "job": job, "stages": jobs_services.stages(job, steps), "failure": jobs_services.failure(job, steps),
        "credits": billing.job_credits(request.user, job.id), "poll_seconds": POLL_SECONDS,
        "video_expired_at": artifact_expired_at(job, Artifact.VIDEO) if job.final_video_uri else None,
    }
    if job.status == JobStatus.COMPLETED and context["video_expired_at"] is None:
        context.update(video_url=page_link(job, Artifact.VIDEO), poster_url=page_link(job, Artifact.POSTER),
                       captions_url=reverse("webapp:job_captions", args=[job.id])
                       if artifact_uri(job, Artifact.CAPTIONS_VTT) else None,
                       downloads=[{"id": download_id(artifact), "artifact": artifact.value,
                                   "label": DOWNLOAD_LABELS[artifact]}
                                  for artifact in DOWNLOADS if artifact_uri(job, artifact)])
    return context


@login_required
@require_GET
def job_page(request, job_id):
    job = users_job(request, job_id)
    return render(request, "webapp/jobs/job.html", job_context(request, job))


@require_GET
def job_live(request, job_id):
    """The polled part of the page. A final job's answer has no polling trigger (so polling stops), brings the
    result in, and replaces the actions (out of band: Cancel goes, Retry comes for a failed job). `seen` is the
    status the page showed: the status is announced only when it changed."""
    if not request.user.is_authenticated:
        # Signed out while the page polled: reload it whole (its own sign-in redirect), never swap a form in.
        return HttpResponseClientRefresh() if request.htmx else redirect_to_login(request.get_full_path())
    job = users_job(request, job_id)
    context = job_context(request, job)
    html = render_to_string("webapp/jobs/_live.html", context, request=request)
    if request.GET.get("seen") != job.status:
        html += render_to_string("webapp/jobs/_announce.html", context, request=request)
    if job.is_terminal:
        html += render_to_string("webapp/jobs/_actions.html", {**context, "oob": True}, request=request)
    return HttpResponse(html)


@login_required
@require_POST
def job_cancel(request, job_id):
    job = users_job(request, job_id)
    if cancel_job(job):  # the conditional UPDATE decides: a job that finished first stays finished
        messages.success(request, "The video was cancelled. Its held credits were released.")
    else:
        messages.info(request, f"This video has already ended ({job.get_status_display().lower()}): "
                               "there was nothing to cancel.")
    return redirect("webapp:job", job_id=job.id)


@login_required
@require_POST
def job_retry(request, job_id):
    job = users_job(request, job_id)
    try:
        new_job = jobs_services.retry_as_new_job(user=request.user, job=job)
    except jobs_services.RetryRefused as refused:
        messages.error(request, str(refused))
        return redirect("webapp:job", job_id=job.id)
    messages.success(request, "We started the video again as a new video.")
    return redirect("webapp:job", job_id=new_job.id)


@login_required
@require_GET
def job_captions(request, job_id):
    """The WebVTT captions the player's <track> loads, sent from our own origin whatever the storage: a track from
    another origin (a bucket's signed link) needs CORS, so the browser refuses the link the downloads use."""
    job = users_job(request, job_id)
    uri = artifact_uri(job, Artifact.CAPTIONS_VTT)
    storage = get_storage()
    if not uri or artifact_expired_at(job, Artifact.CAPTIONS_VTT) is not None or not storage.owns(uri):
        raise Http404("No captions")
    try:
        captions = storage.read_bytes(uri)
    except ObjectNotFoundError:
        raise Http404("No captions") from None
    response = HttpResponse(captions, content_type="text/vtt; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_GET
def job_download(request, job_id, artifact: str):
    """A redirect to a short-lived link to the file, as the API's download endpoint answers (the file is sent as an
    attachment); an expired or missing file is a page that says so."""
    if artifact not in {each.value for each in DOWNLOADS}:
        raise Http404("No such file")
    job = users_job(request, job_id)
    what = DOWNLOAD_LABELS[Artifact(artifact)]
    try:
        url = download_link(job, Artifact(artifact))
    except ArtifactExpired as expired:
        return render(request, "webapp/jobs/download_gone.html",
                      {"job": job, "what": what, "expired_at": expired.expired_at}, status=410)
    if url is None:
        return render(request, "webapp/jobs/download_gone.html", {"job": job, "what": what}, status=404)
    return redirect(same_origin(url))


@login_required
@require_GET
def videos(request):
    """The user's videos, newest first, filtered by status, a page at a time (an unknown page is the 404 page,
    as the API's StrictPageNumberPagination answers)."""
    sent = {"status": request.GET["status"]} if request.GET.get("status") else {}
    filters = JobListFilterSerializer(data=sent)
    if not filters.is_valid():
        return render(request, "webapp/jobs/list.html",
                      {"status_error": "Choose one of the statuses in the list.", "statuses": JobStatus.choices,
                       "chosen": ""}, status=400)
    chosen = filters.validated_data.get("status", "")
    jobs = VideoJob.objects.filter(user=request.user).only(*LIST_FIELDS).order_by("-created_at", "-id")
    if chosen:
        jobs = jobs.filter(status=chosen)
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    paginator = Paginator(billing.with_job_credits(jobs), page_size)
    page_number = request.GET.get("page") or "1"
    if not page_number.isdigit():
        raise Http404("No such page")
    try:
        page = paginator.page(int(page_number))
    except InvalidPage:
        raise Http404("No such page") from None
    rows = [{"job": job, "poster_url": page_link(job, Artifact.POSTER)} for job in page.object_list]
    return render(request, "webapp/jobs/list.html",
                  {"page": page, "rows": rows, "statuses": JobStatus.choices, "chosen": chosen})


def page_not_found(request, exception=None):
    """The project's 404: JSON under /api/ (as the API's own 404s), the web app's page everywhere else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "Not found"}, status=404)
    return render(request, "404.html", status=404)
