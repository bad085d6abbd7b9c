"""Download links grant one artifact of one job for a limited time, and nothing else, whatever the client sends."""

import base64
import datetime as dt
import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine
from django.core import signing

from video_generation import downloads
from video_generation.downloads import (
    Artifact,
    artifact_uri,
    artifact_url,
    download_name,
    make_link_token,
    read_link_token,
)
from video_generation.services import storage as storage_module
from video_generation.tests.conftest import BUCKET, OTHER_BUCKET, PREFIX
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db

FINAL = b"\x00\x00\x00\x18ftypmp42final" + bytes(range(256)) * 32
BROLL = b"\x00\x00\x00\x18ftypmp42broll" + bytes(range(255, -1, -1)) * 32
DEAD = {"error": "Link expired or invalid"}
WEEK = 7 * 86400


def _path(url: str) -> str:
    return urlsplit(url).path


def _token(url: str) -> str:
    return _path(url).split("/")[2]


def _media_path(token: str, name: str = "video.mp4") -> str:
    return f"/media/{token}/{name}"


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _assert_dead(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.json() == DEAD


def _in_an_hour() -> int:
    return int(time.time()) + 3600


def _b64decode_loose(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


@pytest.fixture
def local_job(user, local):
    """A finished job on local storage, with both artifacts on disk."""
    job = make_job(user, status="completed")
    job.final_video_uri = local.upload_bytes(FINAL, f"jobs/{job.id}/final.mp4", "video/mp4")
    job.veo_video_gcs_uri = local.upload_bytes(BROLL, f"jobs/{job.id}/broll.mp4", "video/mp4")
    job.save()
    return job


@pytest.fixture
def gcs_job(user, gcs):
    job = make_job(user, status="completed")
    job.final_video_uri = gcs.upload_bytes(FINAL, f"jobs/{job.id}/final.mp4", "video/mp4")
    job.veo_video_gcs_uri = gcs.upload_bytes(BROLL, f"jobs/{job.id}/broll.mp4", "video/mp4")
    job.save()
    return job


# ---- artifacts ---------------------------------------------------------------------------------------------


def test_each_artifact_reads_its_own_job_field(user):
    job = make_job(user, final_video_uri="gs://b/p/final.mp4", veo_video_gcs_uri="gs://b/p/broll.mp4")
    assert artifact_uri(job, Artifact.VIDEO) == "gs://b/p/final.mp4"
    assert artifact_uri(job, Artifact.BROLL) == "gs://b/p/broll.mp4"
    assert artifact_uri(make_job(user), Artifact.VIDEO) == ""


def test_download_names_are_the_job_id_and_the_artifact(user):
    job = make_job(user)
    assert download_name(job, Artifact.VIDEO) == f"{job.id}.mp4"
    assert download_name(job, Artifact.BROLL) == f"{job.id}-broll.mp4"


def test_artifact_codes_are_unique_so_no_token_can_mean_two_artifacts():
    codes = [artifact.code for artifact in Artifact]
    assert len(set(codes)) == len(codes)
    assert all(Artifact.from_code(artifact.code) is artifact for artifact in Artifact)


def test_a_job_without_an_artifact_gets_no_link(user, local):
    job = make_job(user, final_video_url="http://testserver/media/old-path-based-token/final.mp4")
    assert artifact_url(job, Artifact.VIDEO) is None
    assert artifact_url(job, Artifact.BROLL) is None


# ---- a link downloads the artifact it names ---------------------------------------------------------------


def test_a_video_link_downloads_the_final_video_and_a_broll_link_the_broll(client, local_job):
    video_url = artifact_url(local_job, Artifact.VIDEO)
    broll_url = artifact_url(local_job, Artifact.BROLL)
    assert video_url.startswith("http://testserver/media/")
    assert video_url.endswith(f"/{local_job.id}.mp4") and broll_url.endswith(f"/{local_job.id}-broll.mp4")

    video = client.get(_path(video_url))
    assert video.status_code == 200 and _body(video) == FINAL
    assert f'filename="{local_job.id}.mp4"' in video["Content-Disposition"]
    broll = client.get(_path(broll_url))
    assert broll.status_code == 200 and _body(broll) == BROLL
    assert f'filename="{local_job.id}-broll.mp4"' in broll["Content-Disposition"]


def test_a_gcs_link_without_a_signing_key_streams_the_object_through_the_media_view(client, gcs_job):
    url = artifact_url(gcs_job, Artifact.VIDEO)
    assert url.startswith("http://testserver/media/")
    response = client.get(_path(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert _body(response) == FINAL
    assert _body(client.get(_path(artifact_url(gcs_job, Artifact.BROLL)))) == BROLL


def test_a_gcs_link_with_a_signing_key_is_a_v4_url_for_that_object_only(gcs_job, emulator, v4_signing, settings):
    settings.SIGNED_URL_TTL_SECONDS = 900
    url = artifact_url(gcs_job, Artifact.VIDEO)
    assert url.startswith(f"{emulator}/{BUCKET}/{PREFIX}/jobs/{gcs_job.id}/final.mp4?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Expires"] == ["900"]
    assert f"{gcs_job.id}.mp4" in query["response-content-disposition"][0]
    response = httpx.get(url, trust_env=False, timeout=10)
    assert response.status_code == 200 and response.content == FINAL
    long_url = artifact_url(gcs_job, Artifact.VIDEO, ttl_seconds=365 * 86400)
    assert parse_qs(urlsplit(long_url).query)["X-Goog-Expires"] == [str(WEEK)]


def test_when_v4_signing_fails_the_link_is_a_media_link_that_still_works(client, gcs_job, monkeypatch):
    class BrokenSigner:
        signer_email = "signer@test-project.iam.gserviceaccount.com"

        def sign_bytes(self, data):
            raise ValueError("the key is corrupt")

    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: BrokenSigner())
    url = artifact_url(gcs_job, Artifact.VIDEO)
    assert url.startswith("http://testserver/media/")
    assert _body(client.get(_path(url))) == FINAL


def test_a_link_lives_for_the_configured_ttl(client, local_job, settings):
    settings.SIGNED_URL_TTL_SECONDS = 600
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        path = _path(artifact_url(local_job, Artifact.VIDEO))
    with time_machine.travel(now + dt.timedelta(seconds=599), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(now + dt.timedelta(seconds=600), tick=False):
        _assert_dead(client, path)


def test_no_link_lives_longer_than_seven_days_whatever_ttl_is_asked(client, local_job):
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        path = _path(artifact_url(local_job, Artifact.VIDEO, ttl_seconds=10 * 365 * 86400))
    with time_machine.travel(now + dt.timedelta(seconds=WEEK - 1), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(now + dt.timedelta(seconds=WEEK + 1), tick=False):
        _assert_dead(client, path)


def test_a_token_claiming_a_ten_year_expiry_still_dies_seven_days_after_it_was_made(client, local_job):
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        token = make_link_token(local_job.id, Artifact.VIDEO, expires_at=int(time.time()) + 10 * 365 * 86400)
    with time_machine.travel(now + dt.timedelta(days=6), tick=False):
        assert client.get(_media_path(token)).status_code == 200
    with time_machine.travel(now + dt.timedelta(days=8), tick=False):
        _assert_dead(client, _media_path(token))


# ---- the token is opaque ------------------------------------------------------------------------------------


def test_the_token_shows_neither_the_job_nor_the_path_nor_the_bucket(gcs_job):
    token = _token(artifact_url(gcs_job, Artifact.VIDEO))
    assert re.fullmatch(r"[A-Za-z0-9_=-]{120}", token)
    decoded = _b64decode_loose(token)
    assert len(decoded) == 89
    job_id = gcs_job.id
    for secret in (job_id.bytes, job_id.hex.encode(), str(job_id).encode(), BUCKET.encode(), PREFIX.encode(),
                   gcs_job.final_video_uri.encode(), b"final.mp4", b"gs://", b"video"):
        assert secret not in decoded, secret
        assert secret.decode("latin-1") not in token
    assert decoded[0] == 0x80  # Fernet's version byte, where the old signed JSON began with '{'
    assert not token.startswith("eyJ") and ":" not in token  # neither base64 JSON nor Django's signer format
    with pytest.raises(ValueError):
        json.loads(decoded)


def test_the_same_grant_never_gives_the_same_token_twice(local_job):
    expires_at = _in_an_hour()
    first = make_link_token(local_job.id, Artifact.VIDEO, expires_at=expires_at)
    second = make_link_token(local_job.id, Artifact.VIDEO, expires_at=expires_at)
    assert first != second
    assert read_link_token(first) == read_link_token(second) == (local_job.id, Artifact.VIDEO)


# ---- forged, altered and stale tokens all get the same 404 ----------------------------------------------------


def test_a_token_in_the_old_django_signer_format_is_refused(client, local_job, settings):
    relative = f"jobs/{local_job.id}/final.mp4"
    signer = signing.TimestampSigner(salt="video_saas.media")
    for target in (relative, local_job.final_video_uri, f"gs://{OTHER_BUCKET}/secret.mp4"):
        forged = signer.sign_object({"p": target, "t": 10 * 365 * 86400, "f": "x.mp4"})
        assert read_link_token(forged) is None
        _assert_dead(client, _media_path(forged))


def test_flipping_any_single_bit_of_a_token_kills_it(client, local_job):
    token = make_link_token(local_job.id, Artifact.VIDEO, expires_at=_in_an_hour())
    raw = bytearray(_b64decode_loose(token))
    for position in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[position] ^= bit
            forged = base64.urlsafe_b64encode(bytes(tampered)).decode()
            assert read_link_token(forged) is None, (position, bit)
    raw[40] ^= 0x01  # in the ciphertext
    _assert_dead(client, _media_path(base64.urlsafe_b64encode(bytes(raw)).decode()))
    assert client.get(_media_path(token)).status_code == 200


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda t: "", id="empty"),
    pytest.param(lambda t: "x", id="one character"),
    pytest.param(lambda t: t[:-4], id="truncated"),
    pytest.param(lambda t: t + "AAAA", id="junk after the padding"),
    pytest.param(lambda t: t.rstrip("="), id="padding stripped"),
    pytest.param(lambda t: t[:-2] + chr(ord(t[-2]) + 1) + "=", id="unused low bits set"),
    pytest.param(lambda t: t[::-1], id="reversed"),
    pytest.param(lambda t: "é" + t, id="not ascii"),
    pytest.param(lambda t: "A" * 4000, id="huge"),
    pytest.param(lambda t: base64.urlsafe_b64encode(b"\x80" + b"\x00" * 88).decode(), id="zeros"),
])
def test_truncated_padded_and_garbage_tokens_are_refused(client, local_job, mangle):
    token = make_link_token(local_job.id, Artifact.VIDEO, expires_at=_in_an_hour())
    forged = mangle(token)
    assert forged != token
    assert read_link_token(forged) is None
    if forged:
        _assert_dead(client, _media_path(forged))


def test_a_token_spelt_in_the_standard_base64_alphabet_is_refused(client, local_job):
    token = ""
    while "-" not in token:  # nearly every token has one; the loop makes the test certain
        token = make_link_token(local_job.id, Artifact.VIDEO, expires_at=_in_an_hour())
    respelt = token.replace("-", "+")
    assert base64.urlsafe_b64decode(respelt) == base64.urlsafe_b64decode(token)  # a lenient decoder: same bytes
    assert read_link_token(respelt) is None
    _assert_dead(client, _media_path(respelt))


def test_a_token_for_an_artifact_the_job_does_not_have_is_refused(client, user, local):
    job = make_job(user, status="completed")
    job.final_video_uri = local.upload_bytes(FINAL, f"jobs/{job.id}/final.mp4", "video/mp4")
    job.save()
    local.upload_bytes(BROLL, f"jobs/{job.id}/broll.mp4", "video/mp4")  # on disk, but not the job's B-roll
    assert artifact_url(job, Artifact.BROLL) is None
    token = make_link_token(job.id, Artifact.BROLL, expires_at=_in_an_hour())
    _assert_dead(client, _media_path(token, f"{job.id}-broll.mp4"))
    assert client.get(_path(artifact_url(job, Artifact.VIDEO))).status_code == 200


def test_a_token_for_an_unknown_artifact_code_is_refused(client, local_job):
    payload = downloads._PAYLOAD.pack(local_job.id.bytes, 99, _in_an_hour())
    token = downloads._fernet().encrypt(payload).decode()
    assert read_link_token(token) is None
    _assert_dead(client, _media_path(token))


def test_a_token_with_a_payload_of_the_wrong_shape_is_refused(local_job):
    genuine = downloads._PAYLOAD.pack(local_job.id.bytes, Artifact.VIDEO.code, _in_an_hour())
    for payload in (b"", genuine[:-1], genuine + b"\x00", json.dumps({"p": "jobs/1/final.mp4"}).encode()):
        assert read_link_token(downloads._fernet().encrypt(payload).decode()) is None


def test_a_token_whose_job_was_deleted_is_refused(client, local_job):
    path = _path(artifact_url(local_job, Artifact.VIDEO))
    assert client.get(path).status_code == 200
    local_job.delete()
    assert Path(urlsplit(artifact_uri(local_job, Artifact.VIDEO)).path).is_file()  # the file is still there
    _assert_dead(client, path)


def test_a_token_for_a_job_that_never_existed_is_refused(client, local):
    _assert_dead(client, _media_path(make_link_token(uuid.uuid4(), Artifact.VIDEO, expires_at=_in_an_hour())))


def test_an_expired_token_is_refused(client, local_job):
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        path = _path(artifact_url(local_job, Artifact.VIDEO, ttl_seconds=60))
    with time_machine.travel(now + dt.timedelta(seconds=59), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(now + dt.timedelta(seconds=61), tick=False):
        _assert_dead(client, path)


def test_a_token_made_with_another_secret_key_is_refused(client, local_job, settings):
    settings.SECRET_KEY = "someone-elses-secret-key-" + "y" * 40
    forged = make_link_token(local_job.id, Artifact.VIDEO, expires_at=_in_an_hour())
    settings.SECRET_KEY = "our-secret-key-" + "z" * 40
    assert read_link_token(forged) is None
    _assert_dead(client, _media_path(forged))


def test_a_token_made_with_a_fallback_key_keeps_working_after_rotation(client, local_job, settings):
    old_key, new_key = "old-secret-key-" + "a" * 40, "new-secret-key-" + "b" * 40
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = old_key, []
    issued_before = _path(artifact_url(local_job, Artifact.VIDEO))

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new_key, [old_key]
    assert _body(client.get(issued_before)) == FINAL
    issued_after = _path(artifact_url(local_job, Artifact.VIDEO))

    settings.SECRET_KEY_FALLBACKS = []  # the rotation is over: old links die, new ones live on
    _assert_dead(client, issued_before)
    assert _body(client.get(issued_after)) == FINAL


def test_the_token_is_the_documented_payload_under_a_key_derived_for_this_purpose_only(local_job, settings):
    """Rebuilt independently: Fernet, key = HKDF-SHA256(SECRET_KEY, info=purpose), payload = UUID|code|expiry."""
    import struct

    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def fernet(info: bytes) -> Fernet:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(settings.SECRET_KEY.encode())
        return Fernet(base64.urlsafe_b64encode(key))

    expires_at = _in_an_hour()
    token = make_link_token(local_job.id, Artifact.BROLL, expires_at=expires_at)
    payload = fernet(b"video_saas.downloads.link-token.v1").decrypt(token)
    assert struct.unpack(">16sBQ", payload) == (local_job.id.bytes, Artifact.BROLL.code, expires_at)
    with pytest.raises(InvalidToken):  # a key for any other purpose opens nothing
        fernet(b"video_saas.something-else").decrypt(token)


# ---- the job row decides what is served, and only from our own storage ---------------------------------------


@pytest.mark.parametrize("uri", [f"gs://{OTHER_BUCKET}/x.mp4", f"gs://{BUCKET}/secrets/x.mp4",
                                 f"gs://{BUCKET}/{PREFIX}-evil/x.mp4"])
def test_a_job_pointing_outside_our_bucket_and_prefix_is_never_served(client, user, gcs, emulator_admin, uri):
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    emulator_admin.bucket(bucket).blob(name).upload_from_string(FINAL, content_type="video/mp4")
    job = make_job(user, status="completed", final_video_uri=uri)

    assert artifact_url(job, Artifact.VIDEO) is None
    _assert_dead(client, _media_path(make_link_token(job.id, Artifact.VIDEO, expires_at=_in_an_hour())))


def test_a_job_pointing_at_a_local_file_outside_the_storage_root_is_never_served(
        client, user, local, settings, tmp_path):
    root = Path(settings.LOCAL_STORAGE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(FINAL)
    (root / "escape.mp4").symlink_to(secret)
    (root / "escape-dir").symlink_to(tmp_path)
    outside_uris = [secret.as_uri(), "file:///etc/passwd", f"{root.as_uri()}/../secret.mp4",
                    f"{root.as_uri()}/escape.mp4", f"{root.as_uri()}/escape-dir/secret.mp4", root.as_uri()]
    for uri in outside_uris:
        job = make_job(user, status="completed", final_video_uri=uri)
        assert artifact_url(job, Artifact.VIDEO) is None, uri
        _assert_dead(client, _media_path(make_link_token(job.id, Artifact.VIDEO, expires_at=_in_an_hour())))


def test_a_local_file_uri_means_nothing_when_running_on_gcs(client, user, local, settings, emulator, monkeypatch):
    job = make_job(user, status="completed")
    job.final_video_uri = local.upload_bytes(FINAL, f"jobs/{job.id}/final.mp4", "video/mp4")
    job.save()
    path = _path(artifact_url(job, Artifact.VIDEO))
    assert client.get(path).status_code == 200

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: None)
    settings.GCS_BUCKET, settings.GCS_PREFIX = BUCKET, PREFIX
    _assert_dead(client, path)


def test_a_gcs_uri_means_nothing_when_running_on_local_storage(client, gcs_job, settings):
    path = _path(artifact_url(gcs_job, Artifact.VIDEO))
    assert client.get(path).status_code == 200
    settings.GCS_BUCKET = ""
    _assert_dead(client, path)


def test_a_link_follows_the_job_row_not_the_file_it_first_pointed_at(client, local_job, local):
    path = _path(artifact_url(local_job, Artifact.VIDEO))
    local_job.final_video_uri = local.upload_bytes(b"re-composed", f"jobs/{local_job.id}/final-2.mp4", "video/mp4")
    local_job.save()
    assert _body(client.get(path)) == b"re-composed"


def test_a_link_whose_file_is_gone_is_dead(client, local_job):
    path = _path(artifact_url(local_job, Artifact.VIDEO))
    Path(urlsplit(local_job.final_video_uri).path).unlink()
    _assert_dead(client, path)


def test_the_file_name_in_the_path_is_ignored(client, local_job):
    token = _token(artifact_url(local_job, Artifact.VIDEO))
    response = client.get(_media_path(token, "other-job.html"))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert f'filename="{local_job.id}.mp4"' in response["Content-Disposition"]
    assert _body(response) == FINAL
