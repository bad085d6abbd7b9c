"""Google Cloud access tokens for the whole process.

`GCPAuthManager()` always returns the same object. It loads credentials once (a service-account key file when
`GCP_SERVICE_ACCOUNT_FILE` is set, Application Default Credentials otherwise) and hands out an OAuth access
token for the cloud-platform scope, refreshing it under a lock when it is missing or has less than five
minutes left. Concurrent callers that find a stale token refresh it once between them.

Errors are typed (see errors.py) and never carry the token, the private key or the token endpoint's reply.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
from typing import Any

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
from django.conf import settings
from google.oauth2 import service_account

from .errors import PermanentError, RetryableError

logger = logging.getLogger(__name__)

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
PROVIDER = "gcp_auth"
REFRESH_MARGIN = dt.timedelta(minutes=5)
TOKEN_REQUEST_TIMEOUT_SECONDS = 30.0


def _new_transport() -> Any:
    """The HTTP transport google-auth refreshes with (a seam for tests)."""
    return google.auth.transport.requests.Request()


def _utcnow_naive() -> dt.datetime:
    # google-auth keeps `expiry` as a naive datetime in UTC, so compare against the same.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _as_naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class GCPAuthManager:
    """Process-wide, thread-safe holder of Google Cloud credentials."""

    _instance: GCPAuthManager | None = None
    _instance_lock = threading.Lock()

    def __new__(cls) -> GCPAuthManager:
        instance = cls._instance
        if instance is None:
            with cls._instance_lock:
                instance = cls._instance
                if instance is None:
                    instance = super().__new__(cls)
                    instance._setup()
                    cls._instance = instance
        return instance

    @classmethod
    def reset(cls) -> None:
        """Forget the singleton and its credentials (for tests and after settings change)."""
        with cls._instance_lock:
            cls._instance = None

    def _setup(self) -> None:
        self._lock = threading.RLock()
        self._credentials: Any = None
        self._is_service_account = False
        self._transport: Any = None
        # (token, naive-UTC expiry or None). Replaced as one tuple so lock-free readers never see a token
        # paired with another token's expiry.
        self._snapshot: tuple[str, dt.datetime | None] | None = None

    # ---- public API ---------------------------------------------------------------------------------------

    def get_access_token(self) -> str:
        """A bearer token with at least five minutes left; refreshed here when needed."""
        snapshot = self._snapshot
        if self._is_fresh(snapshot):
            return snapshot[0]
        with self._lock:
            snapshot = self._snapshot
            if self._is_fresh(snapshot):  # another thread refreshed while we waited
                return snapshot[0]
            credentials = self._load_credentials()
            self._refresh(credentials)
            return self._snapshot[0]

    def signing_credentials(self) -> service_account.Credentials | None:
        """The service-account credentials (they sign V4 URLs) when a key file is configured, else None."""
        if not settings.GCP_SERVICE_ACCOUNT_FILE:
            return None
        with self._lock:
            credentials = self._load_credentials()
            return credentials if self._is_service_account else None

    # ---- internals ----------------------------------------------------------------------------------------

    @staticmethod
    def _is_fresh(snapshot: tuple[str, dt.datetime | None] | None) -> bool:
        if snapshot is None or not snapshot[0]:
            return False
        expiry = snapshot[1]
        if expiry is None:  # google-auth's rule: no expiry means it does not expire
            return True
        return expiry - REFRESH_MARGIN > _utcnow_naive()

    def _load_credentials(self) -> Any:
        """Credentials, loaded on first use. Caller holds the lock."""
        if self._credentials is not None:
            return self._credentials
        key_file = settings.GCP_SERVICE_ACCOUNT_FILE
        if key_file:
            credentials = self._load_service_account(key_file)
            self._is_service_account = True
        else:
            try:
                credentials, _project = google.auth.default(scopes=list(SCOPES))
            except google.auth.exceptions.GoogleAuthError as exc:
                logger.error("no Google Cloud credentials found (%s)", type(exc).__name__)
                raise PermanentError(
                    "Google Cloud credentials are not configured",
                    provider=PROVIDER,
                    code="credentials_missing",
                ) from None
            self._is_service_account = isinstance(credentials, service_account.Credentials)
        self._credentials = credentials
        return credentials

    @staticmethod
    def _load_service_account(key_file: str) -> service_account.Credentials:
        token_uri = settings.GCP_TOKEN_URI
        try:
            if token_uri:
                with open(key_file, encoding="utf-8") as handle:
                    info = json.load(handle)
                if not isinstance(info, dict):
                    raise ValueError("service-account file is not a JSON object")
                info["token_uri"] = token_uri
                return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
            return service_account.Credentials.from_service_account_file(key_file, scopes=list(SCOPES))
        except (OSError, ValueError, KeyError, google.auth.exceptions.GoogleAuthError) as exc:
            # The exception text can quote the file's content (the key); log only its type.
            logger.error("could not load the service-account file %s (%s)", key_file, type(exc).__name__)
            raise PermanentError(
                "the Google Cloud service-account file could not be loaded",
                provider=PROVIDER,
                code="credentials_invalid",
            ) from None

    def _refresh(self, credentials: Any) -> None:
        """Fetch a new token. Caller holds the lock."""
        if self._transport is None:
            self._transport = _new_transport()
        request = functools.partial(self._transport, timeout=TOKEN_REQUEST_TIMEOUT_SECONDS)
        try:
            credentials.refresh(request)
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError, KeyError) as exc:
            # RefreshError carries the token endpoint's reply; never surface or log it.
            logger.warning("Google Cloud token refresh failed (%s)", type(exc).__name__)
            raise RetryableError(
                f"could not obtain a Google Cloud access token ({type(exc).__name__})",
                provider=PROVIDER,
                code="token_refresh_failed",
            ) from None
        token = credentials.token
        if not token:
            raise RetryableError(
                "Google Cloud returned no access token", provider=PROVIDER, code="token_refresh_failed"
            )
        self._snapshot = (token, _as_naive_utc(credentials.expiry))
        logger.info("refreshed Google Cloud access token (expires %s UTC)", self._snapshot[1])
