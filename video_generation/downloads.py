"""Download links: each grants one artifact of one job, for a limited time, and nothing else.

A link is either a V4 signed GCS URL (GCS storage with a signing key) or our own `/media/<token>/<name>`.
The token is opaque: it names (job id, artifact, expiry) encrypted and authenticated with Fernet under a key
derived from SECRET_KEY, so a client can neither read nor alter it. It never names a bucket, path or URI:
the media view takes the URI from the job row and serves it only if the storage backend owns it.

Token payload (25 bytes before encryption): 16-byte job UUID, 1-byte artifact code, 8-byte expiry (unix
seconds, big-endian). The Fernet token around it is 89 bytes, 120 url-safe base64 characters.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import logging
import struct
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .models import VideoJob
from .services.storage import MAX_V4_TTL_SECONDS, get_storage

logger = logging.getLogger(__name__)

# The same ceiling as V4 signed URLs, so both kinds of link behave alike.
MAX_LINK_TTL_SECONDS = MAX_V4_TTL_SECONDS
TOKEN_KEY_PURPOSE = b"video_saas.downloads.link-token.v1"
_PAYLOAD = struct.Struct(">16sBQ")  # job UUID, artifact code, expiry


class Artifact(enum.StrEnum):
    """What a link can grant. Adding one (captions, say) is one member naming the job field it reads.

    `code` is the artifact's byte inside tokens: never renumber or reuse one, or old links change meaning.
    """

    VIDEO = "video", 1, "final_video_uri", "{job_id}.mp4", ("video_expired_at",)
    # The B-roll is an intermediate (retention.py): it goes with them, or with the video if that goes first.
    BROLL = "broll", 2, "veo_video_gcs_uri", "{job_id}-broll.mp4", ("intermediates_expired_at", "video_expired_at")
    # The poster and the preview are kept, and deleted, with the video (retention.py, deliverables.py).
    POSTER = "poster", 3, "poster_uri", "{job_id}-poster.jpg", ("video_expired_at",)
    PREVIEW = "preview", 4, "preview_uri", "{job_id}-preview.mp4", ("video_expired_at",)
    # The captions too: as SubRip and as WebVTT (what an HTML <track> plays).
    CAPTIONS_SRT = "captions_srt", 5, "captions_srt_uri", "{job_id}.srt", ("video_expired_at",)
    CAPTIONS_VTT = "captions_vtt", 6, "captions_vtt_uri", "{job_id}.vtt", ("video_expired_at",)

    def __new__(cls, value: str, code: int, job_field: str, file_name: str,
                expiry_fields: tuple[str, ...]) -> Artifact:
        member = str.__new__(cls, value)
        member._value_ = value
        member.code = code
        member.job_field = job_field
        member.file_name = file_name
        member.expiry_fields = expiry_fields
        return member

    @classmethod
    def from_code(cls, code: int) -> Artifact | None:
        return next((artifact for artifact in cls if artifact.code == code), None)


class ArtifactExpired(Exception):
    """The job had this file, and retention has deleted it (answered 410 Gone)."""

    def __init__(self, artifact: Artifact, expired_at):
        super().__init__(f"the {artifact.value} expired at {expired_at.isoformat()}")
        self.artifact = artifact
        self.expired_at = expired_at


def gone_body(error: ArtifactExpired) -> dict:
    """The 410 body of the download endpoint and the /media/ view."""
    what = "video" if error.artifact is Artifact.VIDEO else error.artifact.value
    return {"error": f"This {what} has expired and was deleted (retention).", "expired_at": error.expired_at}


@dataclass(frozen=True)
class Download:
    """What a valid link resolves to: a URI our storage owns, and the name to save it under."""

    uri: str
    file_name: str


# ---- artifacts of a job --------------------------------------------------------------------------------


def artifact_uri(job: VideoJob, artifact: Artifact) -> str:
    """The storage URI of the job's artifact, or "" when the job has none yet."""
    return getattr(job, artifact.job_field) or ""


def artifact_expired_at(job: VideoJob, artifact: Artifact):
    """When retention deleted the job's artifact, or None while it is kept."""
    return min((moment for field in artifact.expiry_fields if (moment := getattr(job, field))), default=None)


def check_not_expired(job: VideoJob, artifact: Artifact) -> None:
    """ArtifactExpired if the job had the artifact and retention has deleted it."""
    expired_at = artifact_expired_at(job, artifact)
    if expired_at is not None and artifact_uri(job, artifact):
        raise ArtifactExpired(artifact, expired_at)


def download_name(job: VideoJob, artifact: Artifact) -> str:
    return artifact.file_name.format(job_id=job.id)


def link_ttl(ttl_seconds: int | None) -> int:
    ttl = int(settings.SIGNED_URL_TTL_SECONDS if ttl_seconds is None else ttl_seconds)
    return max(1, min(ttl, MAX_LINK_TTL_SECONDS))


def artifact_url(job: VideoJob, artifact: Artifact, *, ttl_seconds: int | None = None) -> str | None:
    """A fresh link to the job's artifact, or None if the job has no such artifact in our storage (or it expired)."""
    uri = artifact_uri(job, artifact)
    if not uri or artifact_expired_at(job, artifact) is not None:
        return None
    storage = get_storage()
    if not storage.owns(uri):
        logger.warning("job %s: its %s is not in our storage; no link issued", job.id, artifact)
        return None
    ttl = link_ttl(ttl_seconds)
    signed = storage.v4_signed_url(uri, ttl_seconds=ttl, filename=download_name(job, artifact))
    return signed or media_url(job, artifact, ttl_seconds=ttl)


def download_link(job: VideoJob, artifact: Artifact) -> str | None:
    """A short-lived link (DOWNLOAD_URL_TTL_SECONDS) to download the job's artifact now: what the API's download
    endpoint redirects to and the web app's download buttons too. ArtifactExpired if retention has deleted it; None
    if the job has no such file (yet)."""
    check_not_expired(job, artifact)
    return artifact_url(job, artifact, ttl_seconds=settings.DOWNLOAD_URL_TTL_SECONDS)


def media_url(job: VideoJob, artifact: Artifact, *, ttl_seconds: int) -> str:
    """Our own `/media/<token>/<name>` link; the name is only for the person saving the file."""
    token = make_link_token(job.id, artifact, expires_at=int(time.time()) + ttl_seconds)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/media/{token}/{quote(download_name(job, artifact), safe='')}"


# ---- tokens ------------------------------------------------------------------------------------------


def _fernet_for(secret: str | bytes) -> Fernet:
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TOKEN_KEY_PURPOSE).derive(secret_bytes)
    return Fernet(base64.urlsafe_b64encode(key))


def _fernet() -> MultiFernet:
    """Encrypts with SECRET_KEY; also decrypts tokens made with SECRET_KEY_FALLBACKS (key rotation)."""
    return _fernet_of((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


@functools.lru_cache(maxsize=8)
def _fernet_of(secrets: tuple[str, ...]) -> MultiFernet:
    """Derived once per set of keys: every status read issues links, and the keys change only with settings."""
    return MultiFernet([_fernet_for(secret) for secret in secrets])


def make_link_token(job_id: uuid.UUID, artifact: Artifact, *, expires_at: int) -> str:
    """An opaque token granting `artifact` of job `job_id` until `expires_at` (unix seconds)."""
    payload = _PAYLOAD.pack(job_id.bytes, artifact.code, expires_at)
    return _fernet().encrypt(payload).decode("ascii")


def _is_canonical(token: str) -> bool:
    """Only the exact text we issue: base64 decoding tolerates junk after padding, the other alphabet, stray bits."""
    try:
        return base64.urlsafe_b64encode(base64.urlsafe_b64decode(token.encode("ascii"))).decode() == token
    except (UnicodeEncodeError, binascii.Error):
        return False


def read_link_token(token: str) -> tuple[uuid.UUID, Artifact] | None:
    """(job id, artifact) for a genuine, unexpired token; None for anything else, all alike."""
    if not _is_canonical(token):
        return None
    try:
        # The ttl is a second fence: whatever expiry a payload claims, no token outlives the longest link.
        payload = _fernet().decrypt(token.encode("ascii"), ttl=MAX_LINK_TTL_SECONDS)
        job_bytes, code, expires_at = _PAYLOAD.unpack(payload)
    except (InvalidToken, struct.error):
        return None
    artifact = Artifact.from_code(code)
    if artifact is None or expires_at <= time.time():
        return None
    return uuid.UUID(bytes=job_bytes), artifact


def resolve_link(token: str) -> Download | None:
    """What a `/media/` token grants, if it is valid, its job still has that artifact and our storage owns it;
    ArtifactExpired if retention has deleted it (only a genuine token learns that)."""
    grant = read_link_token(token)
    if grant is None:
        return None
    job_id, artifact = grant
    job = VideoJob.objects.filter(id=job_id).only("id", artifact.job_field, *artifact.expiry_fields).first()
    if job is None:
        return None
    check_not_expired(job, artifact)
    uri = artifact_uri(job, artifact)
    if not uri or not get_storage().owns(uri):
        return None
    return Download(uri=uri, file_name=download_name(job, artifact))
