"""Storage fixtures shared by the storage, download-link and media-view tests: local storage, and GCS against a
real Cloud Storage emulator (gcp-storage-emulator) started once per session."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import httpx
import pytest

from video_generation.services import storage as storage_module
from video_generation.services.storage import GCSStorage, LocalStorage, get_storage

BUCKET = "test-videos"
PREFIX = "video-saas"
OTHER_BUCKET = "veo-elsewhere"
EMULATOR_PROJECT = "test-project"


@pytest.fixture
def local(settings):
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    return storage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(host: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{host}/storage/v1/b", params={"project": EMULATOR_PROJECT}, timeout=1.0, trust_env=False)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gcp-storage-emulator did not start")
            time.sleep(0.1)


def emulator_client(host: str):
    """A client with full access to every bucket of the emulator (the test's hands, not the product's)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    with mock.patch.dict(os.environ, {"STORAGE_EMULATOR_HOST": host}):
        return gcs.Client(project=EMULATOR_PROJECT, credentials=AnonymousCredentials())


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    exe = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent)) or shutil.which(
        "gcp-storage-emulator")
    if not exe:
        pytest.skip("gcp-storage-emulator is not installed")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("emulator") / "emulator.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"],
                            stdout=log, stderr=subprocess.STDOUT)
    host = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(host, proc)
        admin = emulator_client(host)
        admin.create_bucket(BUCKET)
        admin.create_bucket(OTHER_BUCKET)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def emulator_admin(emulator):
    return emulator_client(emulator)


@pytest.fixture
def gcs(emulator, settings, monkeypatch):
    """The product's GCS storage on the emulator, without signing credentials (so links are /media/ links)."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    settings.GCS_BUCKET = BUCKET
    settings.GCS_PREFIX = PREFIX
    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: None)
    storage = get_storage()
    assert isinstance(storage, GCSStorage)
    return storage


@pytest.fixture(scope="session")
def rsa_credentials():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": EMULATOR_PROJECT, "private_key_id": "k1", "private_key": pem,
        "client_email": "signer@test-project.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"})


@pytest.fixture
def v4_signing(monkeypatch, rsa_credentials):
    """GCS with a service-account key: links become V4 signed URLs."""
    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: rsa_credentials)
    return rsa_credentials


# --- A network of our own for the SSRF-safe client: DNS answers and connections under the test's control ----------


@pytest.fixture
def net(monkeypatch):
    from video_generation.tests.fake_network import FakeNetwork

    return FakeNetwork(monkeypatch)


@pytest.fixture
def servers():
    """Start recording HTTP servers on loopback; all are stopped after the test."""
    from video_generation.tests.fake_network import RecordingServer

    started = []

    def start(**kwargs) -> RecordingServer:
        started.append(RecordingServer(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.stop()
