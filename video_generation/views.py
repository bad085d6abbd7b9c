"""The video API: one explicit view per operation. Each validates, calls the pipeline, serializes.

All endpoints need an API key (`Authorization: Bearer <key>` or `Token <key>`: api_keys) except health. A job
that is not the caller's is indistinguishable from one that does not exist (404 {"error": "Job not found"}).
"""

from __future__ import annotations

import logging
import re
import uuid

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from video_saas.celery import app as celery_app
from video_saas.pagination import StrictPageNumberPagination

from .api_errors import Conflict, JobNotFound, UnprocessableRequest
from .downloads import Artifact, ArtifactExpired, artifact_uri, download_link, gone_body
from .job_reads import LINK_FIELDS, job_with_steps, matches_if_none_match, status_etag
from .models import JobStatus, VideoJob
from .pipeline import (
    IdempotencyKeyReused,
    cancel_job,
    create_job,
    create_job_idempotently,
    find_replay,
    pricing,
)
from .rate_limits import reserve_generate
from .serializers import (
    AuthErrorSerializer,
    BodyTooLargeSerializer,
    CreditsRefusedSerializer,
    DownloadParamsSerializer,
    ErrorSerializer,
    GenerateAcceptedSerializer,
    GoneSerializer,
    HealthSerializer,
    JobListFilterSerializer,
    QuoteSerializer,
    ServerErrorSerializer,
    TooManyRequestsSerializer,
    ValidationErrorSerializer,
    VideoGenerationRequestSerializer,
    VideoJobSerializer,
    fresh_link,
)
from .validators import IDEMPOTENCY_KEY_PATTERN

logger = logging.getLogger("video_generation")

BROKER_CHECK_TIMEOUT_SECONDS = 2.0

_AUTH_ERROR = OpenApiResponse(AuthErrorSerializer, description="Missing or invalid token.")
_JOB_NOT_FOUND = OpenApiResponse(ErrorSerializer, description='{"error": "Job not found"}')
_SERVER_ERROR = OpenApiResponse(ServerErrorSerializer, description="Unexpected error (logged).")
_BODY_TOO_LARGE = OpenApiResponse(BodyTooLargeSerializer, description="The body is over REQUEST_MAX_BODY_BYTES.")


def get_user_job(*, user, job_id: str) -> VideoJob:
    """The caller's job with this id, or JobNotFound (also for malformed ids and other users' jobs)."""
    try:
        parsed = uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound() from None
    job = VideoJob.objects.filter(id=parsed, user=user).prefetch_related("steps").first()
    if job is None:
        raise JobNotFound()
    return job


ACCEPTED_MESSAGES = {
    JobStatus.PENDING: "Video generation started",
    JobStatus.PROCESSING_VEO: "Video generation in progress",
    JobStatus.PROCESSING_HEYGEN: "Video generation in progress",
    JobStatus.COMPOSING: "Video generation in progress",
    JobStatus.COMPLETED: "Video already completed",
    JobStatus.FAILED: "Video generation failed",
    JobStatus.CANCELLED: "Video generation was cancelled",
}


def idempotency_key(request) -> str:
    """The request's Idempotency-Key, or "" if it sent none; a header that breaks the published pattern is a 400."""
    if "Idempotency-Key" not in request.headers:
        return ""
    key = request.headers["Idempotency-Key"]
    if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise serializers.ValidationError({"Idempotency-Key": ["1 to 255 printable ASCII characters, not starting "
                                                               "or ending with a space."]})
    return key


def start_video(*, user, data: dict, key: str) -> tuple[VideoJob, bool]:
    """(job, created): a replay of `key` returns its job without counting against the rate limit."""
    if key and (earlier := find_replay(user=user, data=data, idempotency_key=key)):
        return earlier, False
    reservation = reserve_generate(user)
    try:
        if key:
            job, created = create_job_idempotently(user=user, data=data, idempotency_key=key)
        else:
            job, created = create_job(user=user, data=data), True
    except BaseException as failure:
        reservation.release()
        if isinstance(failure, IntegrityError | ObjectDoesNotExist) and not user_still_exists(user):
            raise exceptions.AuthenticationFailed() from None  # erased while this request was on its way
        raise
    if not created:
        reservation.release()
    return job, created


def user_still_exists(user) -> bool:
    return type(user).objects.filter(pk=user.pk).exists()


class VideoGenerateApi(APIView):
    required_scope = "jobs:write"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="video_generate",
        summary="Start generating a product video",
        description="Starts a video, or with a repeated Idempotency-Key returns the job it started before "
                    "(header Idempotent-Replayed: true; `status` and `message` then tell the job's state now). "
                    "The video's quoted credits (as POST /api/video/quote/ computes them) are held from your "
                    "balance as it is accepted and charged for the finished length when it is delivered; a video "
                    "that fails or is cancelled costs nothing. 402 if your credits do not cover the quote or the "
                    "quote is above `max_credits`; 429 over your plan's videos in progress or GENERATE_RATE_LIMIT "
                    "(10 an hour by default; requests that are refused or replay an earlier one do not count).",
        request=VideoGenerationRequestSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     pattern=IDEMPOTENCY_KEY_PATTERN,
                                     description="Send the same key again to get the original job back instead "
                                                 "of starting a second one (e.g. when retrying after a timeout). "
                                                 "1 to 255 printable ASCII characters.")],
        responses={
            202: GenerateAcceptedSerializer,
            400: ValidationErrorSerializer,
            401: _AUTH_ERROR,
            402: OpenApiResponse(CreditsRefusedSerializer, description="Too few credits, or the quote is above "
                                                                     "max_credits. Nothing was created."),
            403: OpenApiResponse(ErrorSerializer, description="Your plan does not offer this (e.g. the quality)."),
            413: _BODY_TOO_LARGE,
            422: OpenApiResponse(ErrorSerializer, description="Idempotency-Key reused with another request."),
            429: TooManyRequestsSerializer,
            500: _SERVER_ERROR,
        },
    )
    def post(self, request):
        serializer = VideoGenerationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job, created = start_video(user=request.user, data=data, key=idempotency_key(request))
        except IdempotencyKeyReused:
            raise UnprocessableRequest("This Idempotency-Key was already used with a different request.") from None

        quote = job.quote or pricing.job_quote(job).as_dict()
        body = {
            "job_id": str(job.id),
            "status": job.status,
            "message": ACCEPTED_MESSAGES[job.status],
            "estimated_time_seconds": quote["estimated_time_seconds"],
            "credits": quote["credits"],
        }
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class VideoQuoteApi(APIView):
    required_scope = "jobs:write"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="video_quote",
        summary="What a video would cost, before making it (creates nothing)",
        description="Takes the generate body and answers its price: the credits it costs (one per started 8 "
                    "seconds of the finished video, whose length is the longer of its B-roll and its narration), "
                    "what the providers will charge for it, its lengths, the expected wait and the Veo scene plan.",
        request=VideoGenerationRequestSerializer,
        responses={200: QuoteSerializer, 400: ValidationErrorSerializer, 401: _AUTH_ERROR, 413: _BODY_TOO_LARGE,
                   500: _SERVER_ERROR},
    )
    def post(self, request):
        serializer = VideoGenerationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(pricing.quote(serializer.validated_data).as_dict())


class JobStatusApi(APIView):
    required_scope = "jobs:read"  # api_keys.permissions.KeyHasScope

    @extend_schema(
        operation_id="video_status",
        summary="Get one job, with its steps",
        description="Answers with a weak `ETag`; send it back in `If-None-Match` and an unchanged job answers 304 "
                    "with no body (keep the body you have: its download links still have at least half their "
                    "lifetime). The tag changes whenever anything in the answer changes, and when the links are "
                    "due to be renewed.",
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False,
                             description="The ETag of the answer you have."),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304],
                             description="This answer's tag (weak)."),
        ],
        responses={200: VideoJobSerializer, 304: OpenApiResponse(description="Not modified: no body."),
                   401: _AUTH_ERROR, 404: _JOB_NOT_FOUND, 500: _SERVER_ERROR},
    )
    def get(self, request, job_id: str):
        job = job_with_steps(user=request.user, job_id=job_id)
        body = VideoJobSerializer(job, context={"links": False}).data
        etag = status_etag(job, body)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if matches_if_none_match(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        for field, artifact in LINK_FIELDS.items():
            body[field] = fresh_link(job, artifact)
            if body[field] is None and artifact_uri(job, artifact):
                headers.pop("ETag", None)  # a link that could not be issued now: never let a client keep this body
        return Response(body, headers=headers)


class JobListApi(APIView):
    required_scope = "jobs:read"  # api_keys.permissions.KeyHasScope
    pagination_class = StrictPageNumberPagination

    @extend_schema(
        operation_id="video_list_jobs",
        summary="List the caller's jobs, newest first",
        parameters=[
            OpenApiParameter(
                "status", str, enum=list(JobStatus.values), description="Only jobs in this status."
            ),
            OpenApiParameter("page", int, description="Page number (1-based)."),
        ],
        responses={
            200: VideoJobSerializer(many=True),
            400: ValidationErrorSerializer,
            401: _AUTH_ERROR,
            404: OpenApiResponse(ErrorSerializer, description="Page out of range."),
            500: _SERVER_ERROR,
        },
    )
    def get(self, request):
        filters = JobListFilterSerializer(data=request.query_params.dict())  # "?status=" is a value, not absent
        filters.is_valid(raise_exception=True)

        jobs = VideoJob.objects.filter(user=request.user).prefetch_related("steps")
        if job_status := filters.validated_data.get("status"):
            jobs = jobs.filter(status=job_status)

        paginator = self.pagination_class()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(VideoJobSerializer(page, many=True).data)


class JobCancelApi(APIView):
    required_scope = "jobs:write"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="video_cancel",
        summary="Cancel a job: no further paid provider call is made for it",
        request=None,
        responses={
            200: VideoJobSerializer,
            401: _AUTH_ERROR,
            404: _JOB_NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description='{"error": "Job is already completed"}'),
            500: _SERVER_ERROR,
        },
    )
    def post(self, request, job_id: str):
        job = get_user_job(user=request.user, job_id=job_id)
        if not cancel_job(job):  # the conditional UPDATE decides: a job that finished first stays finished
            raise Conflict(f"Job is already {job.status}")
        job = get_user_job(user=request.user, job_id=job.id)  # fresh steps after the cancel
        return Response(VideoJobSerializer(job).data)


class JobDownloadApi(APIView):
    required_scope = "jobs:read"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="video_download",
        summary="Download one of your job's files: a redirect to a fresh link valid for a few minutes",
        description="Answers 302 with `Location` set to a link (a V4 signed URL, or our own /media/ link) that is "
                    "valid for DOWNLOAD_URL_TTL_SECONDS (5 minutes by default), so a client never needs to keep a "
                    "long-lived link. `artifact=video` is the finished video, `artifact=broll` the B-roll alone, "
                    "`poster` its poster frame (JPEG), `preview` its first 3 seconds (silent MP4), "
                    "`captions_srt` and `captions_vtt` its captions (SubRip, WebVTT).",
        parameters=[
            OpenApiParameter("artifact", str, enum=[artifact.value for artifact in Artifact], default="video",
                             description="Which file: the finished `video` (default), the `broll`, the `poster`, "
                                         "the `preview`, or the captions as `captions_srt` or `captions_vtt`."),
            OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[302],
                             description="The short-lived link to the file."),
        ],
        responses={
            302: OpenApiResponse(description="Redirect to the file."),
            400: ValidationErrorSerializer,
            401: _AUTH_ERROR,
            404: _JOB_NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The job has no such file (yet)."),
            410: OpenApiResponse(GoneSerializer, description="Retention has deleted the file (the finished video "
                                                             "after VIDEO_RETENTION_DAYS or the plan's, the B-roll "
                                                             "after INTERMEDIATE_RETENTION_DAYS)."),
            500: _SERVER_ERROR,
        },
    )
    def get(self, request, job_id: str):
        params = DownloadParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        artifact = Artifact(params.validated_data["artifact"])
        job = get_user_job(user=request.user, job_id=job_id)
        try:
            url = download_link(job, artifact)
        except ArtifactExpired as expired:
            return Response(GoneSerializer(gone_body(expired)).data, status=status.HTTP_410_GONE)
        if url is None:
            raise Conflict(f"This job has no {artifact.value} to download (it is {job.status}).")
        return Response(status=status.HTTP_302_FOUND, headers={"Location": url})


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Health check: database unavailable (%s)", type(exc).__name__)
        return False
    return True


def check_broker() -> bool:
    """Open (and close) one connection to the Celery broker; works for memory://, redis://, filesystem://."""
    try:
        # connect_timeout is read by socket transports (amqp); redis reads the socket_* transport options.
        with celery_app.connection_for_write(
            connect_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
            transport_options={
                "socket_connect_timeout": BROKER_CHECK_TIMEOUT_SECONDS,
                "socket_timeout": BROKER_CHECK_TIMEOUT_SECONDS,
            },
        ) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.5,
                timeout=BROKER_CHECK_TIMEOUT_SECONDS,
            )
    except Exception as exc:
        # The exception text can carry the broker URL (with its password): log only its type.
        logger.warning("Health check: broker unavailable (%s)", type(exc).__name__)
        return False
    return True


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="video_health",
        summary="Liveness of the API, its database and its task broker (no authentication)",
        auth=[],
        responses={
            200: HealthSerializer,
            503: OpenApiResponse(HealthSerializer, description="A dependency is down; it is named."),
        },
    )
    def get(self, request):
        database_ok = check_database()
        broker_ok = check_broker()
        healthy = database_ok and broker_ok
        body = {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": timezone.now().isoformat(),
            "database": "connected" if database_ok else "unavailable",
            "broker": "connected" if broker_ok else "unavailable",
        }
        return Response(body, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)
