"""Where the project's files live: one interface, two backends.

- `GCSStorage` (settings.GCS_BUCKET set): objects under `gs://{GCS_BUCKET}/{GCS_PREFIX}/`. The bucket stays
  private; `v4_signed_url` signs a link to one object when a signing key is configured.
- `LocalStorage` (no bucket): files under settings.LOCAL_STORAGE_DIR.

Both serve the `/media/` view through `open_for_media`; which artifact a link grants is decided in
video_generation/downloads.py, never here.

`path` arguments are relative POSIX paths such as "jobs/42/final.mp4"; a path that is absolute, contains "..",
a backslash or a NUL is refused with ValueError. `uri` arguments are what `uri_for` / `upload_*` returned
("gs://bucket/object" or "file:///abs/path"). Each backend reads, lists and signs only what it `owns`: objects
in its own bucket under its prefix, or files under its root (symlinks resolved). Anything else is refused with
ValueError, which callers treat as not found.

Failures are `StorageError` (retryable); a missing object is `ObjectNotFoundError`, a subclass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings

from .errors import RetryableError

logger = logging.getLogger(__name__)

PROVIDER = "storage"
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

    def delete(self, uri: str) -> bool: ...

    def owns(self, uri: str) -> bool: ...

    def v4_signed_url(self, uri: str, *, ttl_seconds: int, filename: str | None = None) -> str | None: ...

    def open_for_media(self, uri: str) -> tuple[Any, int, str | None]: ...


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


def _v4_ttl(ttl_seconds: int) -> int:
    return max(1, min(int(ttl_seconds), MAX_V4_TTL_SECONDS))


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary file beside `dest`, moved into place if the block succeeds and removed if it fails, so nobody
    ever sees `dest` half-written (listings skip the temporary name)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_write(dest: Path, writer: Callable[[Path], None]) -> Path:
    """Run `writer(tmp)` on a temporary file next to `dest`, then move it into place."""
    with atomic_path(dest) as tmp:
        writer(tmp)
    return Path(dest)


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
        raw = unquote(parts.path)
        if not raw.startswith("/"):
            raise ValueError("not an absolute file uri")
        target = Path(raw).resolve()  # follows symlinks, so one pointing outside the root is caught below
        if not target.is_relative_to(self.root) or target == self.root:
            raise ValueError("uri is outside the storage root")
        return target

    def _rel(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix()

    def uri_for(self, path: str) -> str:
        return self._abs(path).as_uri()

    def owns(self, uri: str) -> bool:
        try:
            self._from_uri(uri)
        except (ValueError, TypeError):
            return False
        return True

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

    # deletes
    def delete(self, uri: str) -> bool:
        """Remove one file; False if it was not there (deleting twice is harmless)."""
        target = self._from_uri(uri)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"could not delete {uri} ({type(exc).__name__})") from None
        return True

    def v4_signed_url(self, uri: str, *, ttl_seconds: int, filename: str | None = None) -> str | None:
        self._from_uri(uri)
        return None  # local files have no signed URLs of their own: they are served by the /media/ view

    # used by the media view
    def open_for_media(self, uri: str) -> tuple[Any, int, str | None]:
        """(binary file object, size, content type or None) for a file under the root."""
        target = self._from_uri(uri)
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
    """Service-account credentials able to sign V4 URLs, or None."""
    try:
        from .gcp_auth import GCPAuthManager
    except ImportError:
        return None
    try:
        return GCPAuthManager().signing_credentials()
    except Exception as exc:  # a bad key file must not break link generation: fall back
        logger.warning("no signing credentials for GCS (%s)", type(exc).__name__)
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
        self._own_root = f"{self.prefix}/" if self.prefix else ""  # every object name we own starts with it
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

    def _own_object_name(self, uri: str) -> str:
        """The object name of `uri`, or ValueError unless it is a plain path in our bucket under our prefix."""
        bucket, name = parse_gs_uri(uri)
        relative = name.removeprefix(self._own_root)
        if bucket != self.bucket_name or not name.startswith(self._own_root) or not relative:
            raise ValueError("gs:// uri is outside this storage's bucket and prefix")
        # GCS names are literal, but "a/../b" or "a//b" could mean something else to a URL or a person.
        if clean_relative_path(relative) != relative:
            raise ValueError("gs:// object name is not a normalised path")
        return name

    def _own_listing_prefix(self, prefix_uri: str) -> str:
        bucket, prefix = parse_gs_uri(prefix_uri)
        if bucket != self.bucket_name or not prefix.startswith(self._own_root):
            raise ValueError("gs:// prefix is outside this storage's bucket and prefix")
        return prefix

    def _blob(self, uri: str) -> Any:
        return self.client.bucket(self.bucket_name).blob(self._own_object_name(uri))

    def _wrap(self, action: str, uri: str, exc: BaseException) -> StorageError:
        from google.api_core.exceptions import NotFound

        if isinstance(exc, NotFound):
            return ObjectNotFoundError(f"{uri} does not exist")
        logger.warning("GCS %s failed for %s (%s)", action, uri, type(exc).__name__)
        return StorageError(f"Cloud Storage {action} failed for {uri} ({type(exc).__name__})")

    # paths and uris
    def uri_for(self, path: str) -> str:
        return f"gs://{self.bucket_name}/{self._own_root}{clean_relative_path(path)}"

    def owns(self, uri: str) -> bool:
        try:
            self._own_object_name(uri)
        except (ValueError, TypeError):
            return False
        return True

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
        prefix = self._own_listing_prefix(prefix_uri)
        try:
            blobs = list(self.client.list_blobs(self.bucket_name, prefix=prefix or None,
                                                timeout=GCS_TIMEOUT_SECONDS))
        except _gcs_errors() as exc:
            raise self._wrap("list", prefix_uri, exc) from None
        found = (f"gs://{self.bucket_name}/{blob.name}" for blob in blobs)
        return sorted(uri for uri in found if self.owns(uri))  # only what read_bytes would accept

    # deletes
    def delete(self, uri: str) -> bool:
        """Remove one of our objects; False if it was not there (deleting twice is harmless)."""
        from google.api_core.exceptions import NotFound
        from google.cloud.storage.retry import DEFAULT_RETRY

        try:
            self._blob(uri).delete(timeout=GCS_TIMEOUT_SECONDS, retry=DEFAULT_RETRY)
        except NotFound:
            return False
        except _gcs_errors() as exc:
            raise self._wrap("delete", uri, exc) from None
        return True

    def v4_signed_url(self, uri: str, *, ttl_seconds: int, filename: str | None = None) -> str | None:
        """A V4 signed GET URL for one of our objects; None without signing credentials or if signing fails."""
        self._own_object_name(uri)
        credentials = _signing_credentials()
        if credentials is None:
            return None
        kwargs: dict[str, Any] = {}
        if filename:
            kwargs["response_disposition"] = content_disposition(filename)
        try:
            return self._blob(uri).generate_signed_url(version="v4", method="GET", credentials=credentials,
                                                       expiration=dt.timedelta(seconds=_v4_ttl(ttl_seconds)),
                                                       **kwargs)
        except (AttributeError, TypeError, ValueError, StorageError, *_gcs_errors()) as exc:
            logger.warning("V4 signing failed (%s)", type(exc).__name__)
            return None

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

