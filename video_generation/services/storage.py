"""Where the project's files live: one interface, two backends.

- `GCSStorage` (settings.GCS_BUCKET set): objects under `gs://{GCS_BUCKET}/{GCS_PREFIX}/`. The bucket stays
  private; users get V4 signed URLs, or our own signed `/media/` links when no signing key is configured.
- `LocalStorage` (no bucket): files under settings.LOCAL_STORAGE_DIR, served by the signed `/media/` view.

`path` arguments are relative POSIX paths such as "jobs/42/final.mp4"; a path that is absolute, contains "..",
a backslash or a NUL is refused with ValueError. `uri` arguments are what `uri_for` / `upload_*` returned
("gs://bucket/object" or "file:///abs/path"); the GCS backend reads objects from any bucket (Veo may write
elsewhere), the local backend only files under its root.

Failures are `StorageError` (retryable); a missing object is `ObjectNotFoundError`, a subclass.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from django.core import signing

from .errors import RetryableError

logger = logging.getLogger(__name__)

PROVIDER = "storage"
MEDIA_SALT = "video_saas.media"
MAX_V4_TTL_SECONDS = 7 * 24 * 3600  # V4 signed URLs may live at most 7 days
GCS_TIMEOUT_SECONDS = 60.0


class StorageError(RetryableError):
    def __init__(self, message: str, *, code: str = "storage_error", **kwargs: Any) -> None:
        kwargs.setdefault("provider", PROVIDER)
        super().__init__(message, code=code, **kwargs)


class ObjectNotFoundError(StorageError):
    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, code="not_found", **kwargs)


@runtime_checkable
class Storage(Protocol):
    def uri_for(self, path: str) -> str: ...

    def veo_output_prefix(self, path: str) -> str | None: ...

    def upload_file(self, local_path: Path, path: str, content_type: str) -> str: ...

    def upload_bytes(self, data: bytes, path: str, content_type: str) -> str: ...

    def download_to(self, uri: str, local_path: Path) -> Path: ...

    def read_bytes(self, uri: str) -> bytes: ...

    def list_uris(self, prefix_uri: str) -> list[str]: ...

    def exists(self, uri: str) -> bool: ...

    def signed_url(self, uri: str, *, ttl_seconds: int | None = None, filename: str | None = None) -> str: ...


# ---- helpers shared by both backends -----------------------------------------------------------------------


def clean_relative_path(path: str) -> str:
    """`path` normalised to "a/b/c", or ValueError if it could leave the storage root."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise ValueError("invalid storage path")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError("storage paths must be relative")
    parts = [part for part in pure.parts if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise ValueError("storage paths must not contain '..'")
    return "/".join(parts)


def _ttl(ttl_seconds: int | None) -> int:
    ttl = int(settings.SIGNED_URL_TTL_SECONDS if ttl_seconds is None else ttl_seconds)
    return max(1, min(ttl, MAX_V4_TTL_SECONDS))


def _media_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=MEDIA_SALT)


def make_media_token(target: str, *, ttl_seconds: int, filename: str | None = None) -> str:
    """A signed, timestamped token naming `target` (a local relative path or a gs:// uri)."""
    payload: dict[str, Any] = {"p": target, "t": int(ttl_seconds)}
    if filename:
        payload["f"] = filename
    return _media_signer().sign_object(payload)


def read_media_token(token: str) -> dict[str, Any] | None:
    """The token's payload if its signature is good and it is younger than its own TTL; else None."""
    signer = _media_signer()
    try:
        payload = signer.unsign_object(token)  # signature only
        if not isinstance(payload, dict) or not isinstance(payload.get("p"), str):
            return None
        ttl = int(payload.get("t", settings.SIGNED_URL_TTL_SECONDS))
        signer.unsign_object(token, max_age=ttl)  # and age
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return payload


def media_url(target: str, *, ttl_seconds: int, filename: str | None) -> str:
    name = filename or PurePosixPath(target).name or "file"
    token = make_media_token(target, ttl_seconds=ttl_seconds, filename=filename)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/media/{token}/{quote(name, safe='')}"


def _atomic_write(dest: Path, writer: Callable[[Path], None]) -> Path:
    """Run `writer(tmp)` on a temporary file next to `dest`, then move it into place."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(".part")


# ---- local disk -----------------------------------------------------------------------------------------


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    # paths and uris
    def _abs(self, path: str) -> Path:
        rel = clean_relative_path(path)
        target = (self.root / rel).resolve()
        if target != self.root and not target.is_relative_to(self.root):
            raise ValueError("storage path escapes the storage root")
        return target

    def _from_uri(self, uri: str) -> Path:
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError("not a local storage uri")
        target = Path(unquote(parts.path)).resolve()
        if not target.is_relative_to(self.root) or target == self.root:
            raise ValueError("uri is outside the storage root")
        return target

    def _rel(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix()

    def uri_for(self, path: str) -> str:
        return self._abs(path).as_uri()

    def veo_output_prefix(self, path: str) -> str | None:
        return None

    # writes
    def upload_file(self, local_path: Path, path: str, content_type: str) -> str:
        target = self._abs(path)
        try:
            _atomic_write(target, lambda tmp: shutil.copyfile(local_path, tmp))
        except OSError as exc:
            raise StorageError(f"could not store {path} ({type(exc).__name__})") from None
        return target.as_uri()

    def upload_bytes(self, data: bytes, path: str, content_type: str) -> str:
        target = self._abs(path)
        try:
            _atomic_write(target, lambda tmp: tmp.write_bytes(data))
        except OSError as exc:
            raise StorageError(f"could not store {path} ({type(exc).__name__})") from None
        return target.as_uri()

    # reads
    def download_to(self, uri: str, local_path: Path) -> Path:
        source = self._from_uri(uri)
        if not source.is_file():
            raise ObjectNotFoundError(f"{uri} does not exist")
        try:
            return _atomic_write(Path(local_path), lambda tmp: shutil.copyfile(source, tmp))
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{uri} does not exist") from None
        except OSError as exc:
            raise StorageError(f"could not read {uri} ({type(exc).__name__})") from None

    def read_bytes(self, uri: str) -> bytes:
        source = self._from_uri(uri)
        try:
            return source.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFoundError(f"{uri} does not exist") from None
        except OSError as exc:
            raise StorageError(f"could not read {uri} ({type(exc).__name__})") from None

    def list_uris(self, prefix_uri: str) -> list[str]:
        parts = urlsplit(prefix_uri)
        if parts.scheme != "file":
            raise ValueError("not a local storage uri")
        raw = unquote(parts.path)
        # Like GCS, a prefix is a string prefix of the relative path ("jobs/1/" or "jobs/1/clip").
        prefix_path = Path(raw).resolve()
        if prefix_path != self.root and not prefix_path.is_relative_to(self.root):
            raise ValueError("uri is outside the storage root")
        rel_prefix = "" if prefix_path == self.root else self._rel(prefix_path)
        if raw.endswith("/") and rel_prefix:
            rel_prefix += "/"
        # Only walk the deepest directory the prefix pins down.
        start = self.root / rel_prefix.rsplit("/", 1)[0] if "/" in rel_prefix else self.root
        if not start.is_dir():
            return []
        found = []
        for dirpath, _dirnames, filenames in os.walk(start):
            for name in filenames:
                if _is_temp_name(name):
                    continue
                full = Path(dirpath) / name
                if self._rel(full).startswith(rel_prefix):
                    found.append(full.as_uri())
        return sorted(found)

    def exists(self, uri: str) -> bool:
        return self._from_uri(uri).is_file()

    def signed_url(self, uri: str, *, ttl_seconds: int | None = None, filename: str | None = None) -> str:
        rel = self._rel(self._from_uri(uri))
        return media_url(rel, ttl_seconds=_ttl(ttl_seconds), filename=filename)

    # used by the media view
    def open_for_media(self, rel_path: str) -> tuple[Any, int, str | None]:
        """(binary file object, size, content type or None) for a token's relative path."""
        target = self._abs(rel_path)
        if not target.is_file():
            raise ObjectNotFoundError("no such file")
        handle = open(target, "rb")  # noqa: SIM115 - closed by the response
        return handle, os.fstat(handle.fileno()).st_size, None


# ---- Google Cloud Storage --------------------------------------------------------------------------------


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """("bucket", "object/name") of a gs:// uri; the object part may be empty (a bucket-wide prefix)."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise ValueError("not a gs:// uri")
    bucket, _, name = uri[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError("gs:// uri without a bucket")
    return bucket, name


def _signing_credentials() -> Any:
    """Service-account credentials able to sign V4 URLs, or None (then we sign our own /media/ links)."""
    try:
        from .gcp_auth import GCPAuthManager
    except ImportError:
        return None
    try:
        return GCPAuthManager().signing_credentials()
    except Exception as exc:  # a bad key file must not break link generation: fall back
        logger.warning("no signing credentials for GCS (%s); using signed media links", type(exc).__name__)
        return None


def _gcs_errors() -> tuple[type[BaseException], ...]:
    import google.api_core.exceptions
    import google.auth.exceptions
    import requests

    return (google.api_core.exceptions.GoogleAPIError, google.auth.exceptions.GoogleAuthError,
            requests.RequestException, OSError)


class GCSStorage:
    def __init__(self, bucket: str, prefix: str, project: str, emulator_host: str = "") -> None:
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.project = project
        self.emulator_host = emulator_host
        self._client: Any = None
        self._client_lock = threading.Lock()

    # client
    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        from google.cloud import storage as gcs

        try:
            if self.emulator_host:
                # Never give the client real credentials here: it would try to fetch tokens from Google.
                from google.auth.credentials import AnonymousCredentials

                return gcs.Client(project=self.project or "local-emulator",
                                  credentials=AnonymousCredentials())
            return gcs.Client(project=self.project or None, credentials=_signing_credentials())
        except _gcs_errors() as exc:
            logger.error("could not create the GCS client (%s)", type(exc).__name__)
            raise StorageError("Cloud Storage is not reachable or not configured",
                               code="not_configured") from None

    def _blob(self, uri: str) -> Any:
        bucket, name = parse_gs_uri(uri)
        if not name or name.endswith("/"):
            raise ValueError("gs:// uri does not name an object")
        return self.client.bucket(bucket).blob(name)

    def _wrap(self, action: str, uri: str, exc: BaseException) -> StorageError:
        from google.api_core.exceptions import NotFound

        if isinstance(exc, NotFound):
            return ObjectNotFoundError(f"{uri} does not exist")
        logger.warning("GCS %s failed for %s (%s)", action, uri, type(exc).__name__)
        return StorageError(f"Cloud Storage {action} failed for {uri} ({type(exc).__name__})")

    # paths and uris
    def uri_for(self, path: str) -> str:
        rel = clean_relative_path(path)
        name = f"{self.prefix}/{rel}" if self.prefix else rel
        return f"gs://{self.bucket_name}/{name}"

    def veo_output_prefix(self, path: str) -> str | None:
        return self.uri_for(path).rstrip("/") + "/"

    # writes
    def upload_file(self, local_path: Path, path: str, content_type: str) -> str:
        from google.cloud.storage.retry import DEFAULT_RETRY

        uri = self.uri_for(path)
        try:
            # Re-uploading the same path with the same bytes is harmless, so retries are safe.
            self._blob(uri).upload_from_filename(str(local_path), content_type=content_type,
                                                 timeout=GCS_TIMEOUT_SECONDS, retry=DEFAULT_RETRY)
        except _gcs_errors() as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise self._wrap("upload", uri, exc) from None
        return uri

    def upload_bytes(self, data: bytes, path: str, content_type: str) -> str:
        from google.cloud.storage.retry import DEFAULT_RETRY

        uri = self.uri_for(path)
        try:
            self._blob(uri).upload_from_string(data, content_type=content_type,
                                               timeout=GCS_TIMEOUT_SECONDS, retry=DEFAULT_RETRY)
        except _gcs_errors() as exc:
            raise self._wrap("upload", uri, exc) from None
        return uri

    # reads
    def download_to(self, uri: str, local_path: Path) -> Path:
        blob = self._blob(uri)
        try:
            return _atomic_write(Path(local_path), lambda tmp: blob.download_to_filename(
                str(tmp), timeout=GCS_TIMEOUT_SECONDS))
        except _gcs_errors() as exc:
            raise self._wrap("download", uri, exc) from None

    def read_bytes(self, uri: str) -> bytes:
        try:
            return self._blob(uri).download_as_bytes(timeout=GCS_TIMEOUT_SECONDS)
        except _gcs_errors() as exc:
            raise self._wrap("download", uri, exc) from None

    def list_uris(self, prefix_uri: str) -> list[str]:
        bucket, prefix = parse_gs_uri(prefix_uri)
        try:
            blobs = list(self.client.list_blobs(bucket, prefix=prefix or None, timeout=GCS_TIMEOUT_SECONDS))
        except _gcs_errors() as exc:
            raise self._wrap("list", prefix_uri, exc) from None
        return sorted(f"gs://{bucket}/{blob.name}" for blob in blobs if not blob.name.endswith("/"))

    def exists(self, uri: str) -> bool:
        try:
            return bool(self._blob(uri).exists(timeout=GCS_TIMEOUT_SECONDS))
        except _gcs_errors() as exc:
            raise self._wrap("lookup", uri, exc) from None

    def signed_url(self, uri: str, *, ttl_seconds: int | None = None, filename: str | None = None) -> str:
        ttl = _ttl(ttl_seconds)
        blob = self._blob(uri)
        credentials = _signing_credentials()
        if credentials is not None:
            kwargs: dict[str, Any] = {}
            if filename:
                kwargs["response_disposition"] = content_disposition(filename)
            try:
                return blob.generate_signed_url(version="v4", method="GET", credentials=credentials,
                                                expiration=dt.timedelta(seconds=ttl), **kwargs)
            except (AttributeError, TypeError, ValueError, *_gcs_errors()) as exc:
                logger.warning("V4 signing failed (%s); using a signed media link", type(exc).__name__)
        return media_url(uri, ttl_seconds=ttl, filename=filename)

    # used by the media view
    def open_for_media(self, uri: str) -> tuple[Any, int, str | None]:
        blob = self._blob(uri)
        try:
            blob.reload(timeout=GCS_TIMEOUT_SECONDS)
            handle = blob.open("rb", chunk_size=1024 * 1024)
        except _gcs_errors() as exc:
            raise self._wrap("download", uri, exc) from None
        return handle, int(blob.size or 0), blob.content_type


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


# ---- selection ------------------------------------------------------------------------------------------

_cache: dict[tuple, Storage] = {}
_cache_lock = threading.Lock()


def _settings_key() -> tuple:
    if settings.GCS_BUCKET:
        return ("gcs", settings.GCS_BUCKET, settings.GCS_PREFIX, settings.GCP_PROJECT_ID,
                os.environ.get("STORAGE_EMULATOR_HOST", ""))
    return ("local", str(Path(settings.LOCAL_STORAGE_DIR).resolve()))


def get_storage() -> Storage:
    """GCSStorage when settings.GCS_BUCKET is set, else LocalStorage; one instance per settings values."""
    key = _settings_key()
    storage = _cache.get(key)
    if storage is None:
        with _cache_lock:
            storage = _cache.get(key)
            if storage is None:
                if key[0] == "gcs":
                    storage = GCSStorage(key[1], key[2], key[3], key[4])
                else:
                    storage = LocalStorage(Path(key[1]))
                _cache[key] = storage
    return storage


def clear_storage_cache() -> None:
    with _cache_lock:
        _cache.clear()

