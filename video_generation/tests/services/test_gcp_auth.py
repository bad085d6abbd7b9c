"""GCPAuthManager against a real signed JWT grant, with google-auth's HTTP transport replaced by a fake
token endpoint (google-auth speaks `requests`, so respx cannot see it; the transport is the clean seam)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import urllib.parse

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from video_generation.services import gcp_auth
from video_generation.services.errors import PermanentError, RetryableError
from video_generation.services.gcp_auth import GCPAuthManager

FILE_TOKEN_URI = "https://oauth2.example.test/token"
OVERRIDE_TOKEN_URI = "http://127.0.0.1:8901/token"


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def key_file(tmp_path, private_key_pem, settings):
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "kid-123",
        "private_key": private_key_pem,
        "client_email": "veo@test-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": FILE_TOKEN_URI,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    settings.GCP_SERVICE_ACCOUNT_FILE = str(path)
    settings.GCP_TOKEN_URI = ""
    return path


class _Response:
    def __init__(self, status: int, payload: dict):
        self.status = status
        self.headers = {"content-type": "application/json"}
        self.data = json.dumps(payload).encode()


class FakeTokenEndpoint:
    """Stands in for google.auth.transport.requests.Request: records calls and issues numbered tokens."""

    def __init__(self, *, expires_in: int = 3600, status: int = 200, payload: dict | None = None, delay=0.0):
        self.expires_in = expires_in
        self.status = status
        self.payload = payload
        self.delay = delay
        self.calls: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        with self._lock:
            self.calls.append({"url": url, "method": method, "body": body, "timeout": timeout})
            number = len(self.calls)
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200:
            return _Response(self.status, self.payload or {})
        return _Response(
            200,
            {"access_token": f"ya29.token-{number}", "expires_in": self.expires_in, "token_type": "Bearer"},
        )


@pytest.fixture(autouse=True)
def _fresh_singleton():
    GCPAuthManager.reset()
    yield
    GCPAuthManager.reset()


@pytest.fixture
def endpoint(monkeypatch):
    fake = FakeTokenEndpoint()
    monkeypatch.setattr(gcp_auth, "_new_transport", lambda: fake)
    return fake


def test_it_is_one_object_per_process(key_file):
    assert GCPAuthManager() is GCPAuthManager()


def test_it_is_one_object_even_when_many_threads_create_it_at_once(key_file):
    seen = []
    barrier = threading.Barrier(16)

    def create():
        barrier.wait()
        seen.append(GCPAuthManager())

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(obj) for obj in seen}) == 1


def test_it_starts_over_after_reset(key_file):
    first = GCPAuthManager()
    GCPAuthManager.reset()
    assert GCPAuthManager() is not first


def test_it_fetches_a_token_with_a_signed_jwt_grant_to_the_files_token_uri(key_file, endpoint):
    token = GCPAuthManager().get_access_token()

    assert token == "ya29.token-1"
    assert len(endpoint.calls) == 1
    call = endpoint.calls[0]
    assert call["url"] == FILE_TOKEN_URI
    assert call["method"] == "POST"
    assert call["timeout"] == gcp_auth.TOKEN_REQUEST_TIMEOUT_SECONDS
    form = urllib.parse.parse_qs(call["body"].decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert form["assertion"][0].count(".") == 2  # a JWT
    # The assertion asks for the cloud-platform scope.
    claims = json.loads(_b64url_decode(form["assertion"][0].split(".")[1]))
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert claims["iss"] == "veo@test-project.iam.gserviceaccount.com"


def test_it_refreshes_once_for_many_calls_while_the_token_is_fresh(key_file, endpoint):
    manager = GCPAuthManager()
    tokens = {manager.get_access_token() for _ in range(50)}

    assert tokens == {"ya29.token-1"}
    assert len(endpoint.calls) == 1


def test_it_refreshes_when_the_token_is_within_five_minutes_of_expiry(key_file, endpoint):
    start = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        manager = GCPAuthManager()
        assert manager.get_access_token() == "ya29.token-1"

        traveller.move_to(start + dt.timedelta(minutes=54, seconds=59))  # 5 min 1 s left
        assert manager.get_access_token() == "ya29.token-1"
        assert len(endpoint.calls) == 1

        traveller.move_to(start + dt.timedelta(minutes=55, seconds=1))  # 4 min 59 s left
        assert manager.get_access_token() == "ya29.token-2"
        assert len(endpoint.calls) == 2


def test_it_refreshes_on_every_call_when_the_endpoint_issues_short_lived_tokens(key_file, endpoint):
    endpoint.expires_in = 240  # under the five-minute margin
    manager = GCPAuthManager()

    assert [manager.get_access_token() for _ in range(3)] == ["ya29.token-1", "ya29.token-2", "ya29.token-3"]


def test_it_compares_the_naive_utc_expiry_correctly_in_a_timezone_ahead_of_utc(key_file, endpoint):
    # With local time 9 h ahead, comparing the naive-UTC expiry to local "now" would refresh every call.
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        manager = GCPAuthManager()
        manager.get_access_token()
        manager.get_access_token()
        assert len(endpoint.calls) == 1
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


def test_it_refreshes_once_when_twenty_threads_ask_at_the_same_time(key_file, endpoint):
    endpoint.delay = 0.05  # keep the refresh in flight while the others arrive
    manager = GCPAuthManager()
    barrier = threading.Barrier(20)
    results: list[str] = []

    def ask():
        barrier.wait()
        results.append(manager.get_access_token())

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["ya29.token-1"] * 20
    assert len(endpoint.calls) == 1


def test_it_sends_the_grant_to_gcp_token_uri_when_that_setting_is_set(key_file, endpoint, settings):
    settings.GCP_TOKEN_URI = OVERRIDE_TOKEN_URI

    assert GCPAuthManager().get_access_token() == "ya29.token-1"
    assert [call["url"] for call in endpoint.calls] == [OVERRIDE_TOKEN_URI]


def test_it_raises_a_retryable_error_without_secrets_when_the_refresh_is_refused(
    key_file, endpoint, private_key_pem, caplog
):
    endpoint.status = 400
    endpoint.payload = {"error": "invalid_grant", "error_description": "Invalid JWT Signature. ya29.leaked"}

    with pytest.raises(RetryableError) as caught:
        GCPAuthManager().get_access_token()

    error = caught.value
    assert error.provider == "gcp_auth"
    assert error.code == "token_refresh_failed"
    text = str(error) + repr(error.args) + caplog.text
    assert "ya29" not in text
    assert "Invalid JWT" not in text
    assert "PRIVATE KEY" not in text
    assert private_key_pem.splitlines()[1] not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_it_raises_a_retryable_error_when_the_token_endpoint_is_unreachable(key_file, monkeypatch):
    import google.auth.exceptions

    def unreachable(*args, **kwargs):
        raise google.auth.exceptions.TransportError("connection refused to oauth2 host")

    monkeypatch.setattr(gcp_auth, "_new_transport", lambda: unreachable)
    with pytest.raises(RetryableError, match="could not obtain a Google Cloud access token"):
        GCPAuthManager().get_access_token()


def test_it_recovers_on_the_next_call_after_a_failed_refresh(key_file, endpoint):
    endpoint.status = 400
    endpoint.payload = {"error": "invalid_grant"}
    manager = GCPAuthManager()
    with pytest.raises(RetryableError):
        manager.get_access_token()

    endpoint.status = 200
    assert manager.get_access_token() == "ya29.token-2"


def test_it_reports_a_broken_key_file_as_a_permanent_error_without_its_content(tmp_path, settings, endpoint):
    path = tmp_path / "broken.json"
    path.write_text('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nsecretstuff"}')
    settings.GCP_SERVICE_ACCOUNT_FILE = str(path)

    with pytest.raises(PermanentError) as caught:
        GCPAuthManager().get_access_token()
    assert "secretstuff" not in str(caught.value)
    assert endpoint.calls == []


def test_it_hands_out_the_service_account_credentials_for_url_signing(key_file):
    credentials = GCPAuthManager().signing_credentials()

    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == "veo@test-project.iam.gserviceaccount.com"
    assert credentials.sign_bytes(b"payload")  # can sign locally, no token needed


def test_it_has_no_signing_credentials_without_a_key_file(settings, monkeypatch):
    settings.GCP_SERVICE_ACCOUNT_FILE = ""
    monkeypatch.setattr(gcp_auth.google.auth, "default", _fail_if_called)

    assert GCPAuthManager().signing_credentials() is None


def test_it_falls_back_to_application_default_credentials_without_a_key_file(settings, endpoint, monkeypatch):
    settings.GCP_SERVICE_ACCOUNT_FILE = ""
    seen_scopes = []

    class AdcCredentials:
        token = None
        expiry = None

        def refresh(self, request):
            request("http://metadata.test/token", method="GET")
            self.token = "ya29.adc"
            self.expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)

    def default(scopes=None, **kwargs):
        seen_scopes.append(scopes)
        return AdcCredentials(), "adc-project"

    monkeypatch.setattr(gcp_auth.google.auth, "default", default)
    manager = GCPAuthManager()

    assert manager.get_access_token() == "ya29.adc"
    assert manager.get_access_token() == "ya29.adc"
    assert seen_scopes == [["https://www.googleapis.com/auth/cloud-platform"]]
    assert len(endpoint.calls) == 1


def test_it_reports_missing_application_default_credentials_as_a_permanent_error(settings, monkeypatch):
    import google.auth.exceptions

    settings.GCP_SERVICE_ACCOUNT_FILE = ""

    def default(scopes=None, **kwargs):
        raise google.auth.exceptions.DefaultCredentialsError("Could not automatically determine credentials")

    monkeypatch.setattr(gcp_auth.google.auth, "default", default)
    with pytest.raises(PermanentError) as caught:
        GCPAuthManager().get_access_token()
    assert caught.value.code == "credentials_missing"


def _fail_if_called(*args, **kwargs):
    raise AssertionError("google.auth.default must not be called")


def _b64url_decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
