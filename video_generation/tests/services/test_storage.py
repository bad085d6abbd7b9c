import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from video_generation.services import storage as storage_module
from video_generation.services.errors import RetryableError
from video_generation.services.storage import (
    GCSStorage,
    LocalStorage,
    ObjectNotFoundError,
    StorageError,
    get_storage,
)

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64  # 16 KiB + header


def _path_of(url: str) -> str:
    return urlsplit(url).path


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


# ---- local backend -----------------------------------------------------------------------------------------


@pytest.fixture
def local(settings):
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    return storage


def test_local_round_trip(local, settings, tmp_path):
    root = Path(settings.LOCAL_STORAGE_DIR).resolve()
    uri = local.upload_bytes(VIDEO, "jobs/1/clip.mp4", "video/mp4")
    assert uri == local.uri_for("jobs/1/clip.mp4") == (root / "jobs/1/clip.mp4").as_uri()
    assert uri.startswith("file:///")
    assert local.veo_output_prefix("jobs/1/veo") is None
    assert local.exists(uri)
    assert local.read_bytes(uri) == VIDEO

    source = tmp_path / "in.png"
    source.write_bytes(b"png-bytes")
    png_uri = local.upload_file(source, "jobs/1/images/product image.png", "image/png")
    assert png_uri.endswith("/jobs/1/images/product%20image.png")
    assert local.read_bytes(png_uri) == b"png-bytes"
    local.upload_bytes(b"other", "jobs/2/clip.mp4", "video/mp4")

    out = local.download_to(uri, tmp_path / "dl" / "clip.mp4")
    assert out.read_bytes() == VIDEO
    assert local.list_uris(local.uri_for("jobs/1") + "/") == sorted([uri, png_uri])
    assert local.list_uris(local.uri_for("jobs/1/images") + "/") == [png_uri]
    assert local.list_uris(local.uri_for("jobs/1/cl")) == [uri]  # a string prefix, like GCS
    assert local.list_uris(local.uri_for("jobs/9") + "/") == []
    assert len(local.list_uris(root.as_uri() + "/")) == 3

    missing = local.uri_for("jobs/1/none.mp4")
    assert not local.exists(missing)
    with pytest.raises(ObjectNotFoundError) as info:
        local.read_bytes(missing)
    assert isinstance(info.value, StorageError) and isinstance(info.value, RetryableError)
    assert info.value.provider == "storage"
    with pytest.raises(ObjectNotFoundError):
        local.download_to(missing, tmp_path / "x")
    # Overwrite is atomic and leaves no temp files behind.
    local.upload_bytes(b"v2", "jobs/1/clip.mp4", "video/mp4")
    assert local.read_bytes(uri) == b"v2"
    assert sorted(p.name for p in (root / "jobs/1").iterdir()) == ["clip.mp4", "images"]


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../x", "a/../..", "..", "a\\..\\x", "",
                                 "a/\x00b", ".", "./"])
def test_local_rejects_paths_escaping_root(local, bad):
    with pytest.raises(ValueError):
        local.upload_bytes(b"x", bad, "text/plain")
    with pytest.raises(ValueError):
        local.uri_for(bad)


def test_local_rejects_uris_outside_root(local, settings, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    for uri in (outside.as_uri(), "file:///etc/passwd", local.uri_for("a") + "/../../outside.txt",
                "gs://bucket/x", "http://example.com/x"):
        with pytest.raises(ValueError):
            local.read_bytes(uri)
    # A symlink inside the root that points outside it is refused too.
    root = Path(settings.LOCAL_STORAGE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        local.read_bytes(local.uri_for("a").rsplit("/", 1)[0] + "/link/outside.txt")
    with pytest.raises(ValueError):
        local.upload_bytes(b"x", "link/evil.txt", "text/plain")
    assert outside.read_text() == "secret"


def test_get_storage_is_cached_per_settings(settings, tmp_path):
    first = get_storage()
    assert get_storage() is first
    settings.LOCAL_STORAGE_DIR = tmp_path / "elsewhere"
    second = get_storage()
    assert second is not first and second.root == (tmp_path / "elsewhere").resolve()


def test_local_signed_url_serves_file(local, client):
    uri = local.upload_bytes(VIDEO, "jobs/1/final.mp4", "video/mp4")
    url = local.signed_url(uri, filename="My Video.mp4")
    assert url.startswith("http://testserver/media/")
    assert url.endswith("/My%20Video.mp4")
    response = client.get(_path_of(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(VIDEO))
    assert response["Accept-Ranges"] == "bytes"
    assert 'filename="My Video.mp4"' in response["Content-Disposition"]
    assert _body(response) == VIDEO


def test_local_signed_url_supports_range(local, client):
    uri = local.upload_bytes(VIDEO, "jobs/1/final.mp4", "video/mp4")
    path = _path_of(local.signed_url(uri))
    response = client.get(path, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(VIDEO)}"
    assert _body(response) == VIDEO[10:20]
    response = client.get(path, HTTP_RANGE="bytes=-5")
    assert response.status_code == 206 and _body(response) == VIDEO[-5:]
    response = client.get(path, HTTP_RANGE=f"bytes={len(VIDEO)}-")
    assert response.status_code == 416
    response = client.get(path, HTTP_RANGE="bytes=0-1,5-6")  # multi-range: whole file
    assert response.status_code == 200 and _body(response) == VIDEO


def test_local_signed_url_tampered_or_expired(local, client, settings):
    uri = local.upload_bytes(b"secret", "jobs/1/final.mp4", "video/mp4")
    path = _path_of(local.signed_url(uri, ttl_seconds=60))
    token, name = path.split("/")[2:4]

    def is_dead(p):
        response = client.get(p)
        assert response.status_code == 404
        assert response.json() == {"error": "Link expired or invalid"}
        return True

    assert client.get(path).status_code == 200
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert is_dead(f"/media/{flipped}/{name}")
    assert is_dead(f"/media/x{token}/{name}")
    # A token signed for another purpose (different salt) is worthless here.
    from django.core import signing
    forged = signing.TimestampSigner(salt="other").sign_object({"p": "jobs/1/final.mp4", "t": 60})
    assert is_dead(f"/media/{forged}/{name}")
    # Expiry: the token's own TTL is the max_age.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=59), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61), tick=False):
        assert is_dead(path)
    # A good token for a file that is gone.
    Path(settings.LOCAL_STORAGE_DIR, "jobs/1/final.mp4").unlink()
    assert is_dead(path)


def test_signed_ttl_is_capped_at_seven_days(local):
    uri = local.upload_bytes(b"x", "a.txt", "text/plain")
    token = _path_of(local.signed_url(uri, ttl_seconds=30 * 86400)).split("/")[2]
    assert storage_module.read_media_token(token)["t"] == 7 * 86400


def test_unsafe_types_are_sent_as_downloads(local, client):
    uri = local.upload_bytes(b"<script>alert(1)</script>", "page.html", "text/html")
    response = client.get(_path_of(local.signed_url(uri)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


# ---- GCS backend against a real emulator ------------------------------------------------------------

BUCKET = "test-videos"
OTHER_BUCKET = "veo-elsewhere"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
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
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{host}/storage/v1/b", params={"project": "test-project"}, timeout=1.0,
                          trust_env=False)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gcp-storage-emulator did not start")
                time.sleep(0.1)
        old = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = host
        try:
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage as gcs

            admin = gcs.Client(project="test-project", credentials=AnonymousCredentials())
            admin.create_bucket(BUCKET)
            admin.create_bucket(OTHER_BUCKET)
            yield host
        finally:
            if old is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = old
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def gcs(emulator, settings, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    settings.GCS_BUCKET = BUCKET
    settings.GCS_PREFIX = "video-saas"
    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: None)
    storage = get_storage()
    assert isinstance(storage, GCSStorage)
    return storage


@pytest.fixture(scope="module")
def rsa_credentials():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": "test-project", "private_key_id": "k1", "private_key": pem,
        "client_email": "signer@test-project.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"})


def test_gcs_client_is_anonymous_with_emulator(gcs):
    from google.auth.credentials import AnonymousCredentials

    assert isinstance(gcs.client._credentials, AnonymousCredentials)


def test_gcs_round_trip(gcs, tmp_path):
    assert gcs.uri_for("jobs/7/final.mp4") == f"gs://{BUCKET}/video-saas/jobs/7/final.mp4"
    assert gcs.veo_output_prefix("jobs/7/veo/scene-1") == f"gs://{BUCKET}/video-saas/jobs/7/veo/scene-1/"
    source = tmp_path / "final.mp4"
    source.write_bytes(VIDEO)
    uri = gcs.upload_file(source, "jobs/7/final.mp4", "video/mp4")
    assert uri == gcs.uri_for("jobs/7/final.mp4")
    bytes_uri = gcs.upload_bytes(b"{}", "jobs/7/meta.json", "application/json")
    gcs.upload_bytes(b"no", "jobs/70/final.mp4", "video/mp4")

    assert gcs.exists(uri)
    assert not gcs.exists(gcs.uri_for("jobs/7/none.mp4"))
    assert gcs.read_bytes(bytes_uri) == b"{}"
    out = gcs.download_to(uri, tmp_path / "dl" / "copy.mp4")
    assert out.read_bytes() == VIDEO
    assert [p.name for p in out.parent.iterdir()] == ["copy.mp4"]
    assert gcs.list_uris(gcs.veo_output_prefix("jobs/7")) == sorted([uri, bytes_uri])
    assert gcs.list_uris(gcs.veo_output_prefix("jobs/8")) == []

    with pytest.raises(ObjectNotFoundError):
        gcs.read_bytes(gcs.uri_for("jobs/7/none.mp4"))
    with pytest.raises(ObjectNotFoundError):
        gcs.download_to(gcs.uri_for("jobs/7/none.mp4"), tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()
    with pytest.raises(ValueError):
        gcs.uri_for("../escape")


def test_gcs_reads_objects_in_other_buckets(gcs, emulator):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs_lib

    admin = gcs_lib.Client(project="test-project", credentials=AnonymousCredentials())
    blob = admin.bucket(OTHER_BUCKET).blob("ops/123/sample_0.mp4")
    blob.upload_from_string(VIDEO, content_type="video/mp4")
    prefix = f"gs://{OTHER_BUCKET}/ops/123/"
    assert gcs.list_uris(prefix) == [f"gs://{OTHER_BUCKET}/ops/123/sample_0.mp4"]
    assert gcs.read_bytes(f"gs://{OTHER_BUCKET}/ops/123/sample_0.mp4") == VIDEO


def test_gcs_v4_signed_url(gcs, emulator, monkeypatch, rsa_credentials):
    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: rsa_credentials)
    uri = gcs.upload_bytes(VIDEO, "jobs/7/signed.mp4", "video/mp4")
    url = gcs.signed_url(uri, ttl_seconds=900, filename="clip.mp4")
    assert url.startswith(f"{emulator}/{BUCKET}/video-saas/jobs/7/signed.mp4?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["900"]
    assert "X-Goog-Signature" in query
    assert "clip.mp4" in query["response-content-disposition"][0]
    response = httpx.get(url, trust_env=False, timeout=10)
    assert response.status_code == 200
    assert response.content == VIDEO
    # V4 caps the lifetime at seven days.
    long_url = gcs.signed_url(uri, ttl_seconds=30 * 86400)
    assert parse_qs(urlsplit(long_url).query)["X-Goog-Expires"] == [str(7 * 86400)]


def test_gcs_without_signing_key_uses_media_endpoint(gcs, client):
    uri = gcs.upload_bytes(VIDEO, "jobs/7/fallback.mp4", "video/mp4")
    url = gcs.signed_url(uri, filename="fallback.mp4")
    assert url.startswith("http://testserver/media/")
    response = client.get(_path_of(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(VIDEO))
    assert _body(response) == VIDEO
    response = client.get(_path_of(url), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert _body(response) == VIDEO[100:200]
    # A link to an object that does not exist looks like any dead link.
    dead = gcs.signed_url(gcs.uri_for("jobs/7/gone.mp4"))
    response = client.get(_path_of(dead))
    assert response.status_code == 404
    assert response.json() == {"error": "Link expired or invalid"}


def test_media_link_for_other_backend_is_refused(gcs, client, settings):
    uri = gcs.upload_bytes(b"x", "jobs/7/x.mp4", "video/mp4")
    path = _path_of(gcs.signed_url(uri))
    settings.GCS_BUCKET = ""  # now running on local storage: a gs:// token means nothing
    assert client.get(path).status_code == 404


def test_backend_outage_is_503_not_404(local, client, monkeypatch):
    uri = local.upload_bytes(b"x", "a.mp4", "video/mp4")
    path = _path_of(local.signed_url(uri))

    def broken(self, rel_path):
        raise StorageError("disk on fire")

    monkeypatch.setattr(LocalStorage, "open_for_media", broken)
    response = client.get(path)
    assert response.status_code == 503
    assert "fire" not in response.content.decode()
