"""The storage backends: what they store, what they read back, and what they refuse to touch.

The `/media/` view that serves these files is tested in tests/test_media_views.py, the links in
tests/test_downloads.py.
"""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from video_generation.services.errors import RetryableError
from video_generation.services.storage import (
    GCSStorage,
    ObjectNotFoundError,
    Storage,
    StorageError,
    get_storage,
)
from video_generation.tests.conftest import BUCKET, OTHER_BUCKET, PREFIX

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64  # 16 KiB + header


def _read_all(handle) -> bytes:
    try:
        return handle.read()
    finally:
        handle.close()


# ---- local backend -----------------------------------------------------------------------------------------


def test_local_round_trip(local, settings, tmp_path):
    root = Path(settings.LOCAL_STORAGE_DIR).resolve()
    uri = local.upload_bytes(VIDEO, "jobs/1/clip.mp4", "video/mp4")
    assert uri == local.uri_for("jobs/1/clip.mp4") == (root / "jobs/1/clip.mp4").as_uri()
    assert uri.startswith("file:///")
    assert local.veo_output_prefix("jobs/1/veo") is None
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
    with pytest.raises(ObjectNotFoundError) as info:
        local.read_bytes(missing)
    assert isinstance(info.value, StorageError) and isinstance(info.value, RetryableError)
    assert info.value.provider == "storage"
    with pytest.raises(ObjectNotFoundError):
        local.download_to(missing, tmp_path / "x")
    with pytest.raises(ObjectNotFoundError):
        local.open_for_media(missing)
    # Overwrite is atomic and leaves no temp files behind.
    local.upload_bytes(b"v2", "jobs/1/clip.mp4", "video/mp4")
    assert local.read_bytes(uri) == b"v2"
    assert sorted(p.name for p in (root / "jobs/1").iterdir()) == ["clip.mp4", "images"]


def test_local_open_for_media_gives_the_file_and_its_size(local):
    uri = local.upload_bytes(VIDEO, "jobs/1/final.mp4", "video/mp4")
    handle, size, content_type = local.open_for_media(uri)
    assert size == len(VIDEO)
    assert content_type is None  # local files carry no type: the view guesses from the name
    assert _read_all(handle) == VIDEO


def test_local_storage_has_no_signed_urls_of_its_own(local):
    uri = local.upload_bytes(b"x", "jobs/1/final.mp4", "video/mp4")
    assert local.v4_signed_url(uri, ttl_seconds=60, filename="x.mp4") is None


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../x", "a/../..", "..", "a\\..\\x", "",
                                 "a/\x00b", ".", "./"])
def test_local_rejects_paths_escaping_root(local, bad):
    with pytest.raises(ValueError):
        local.upload_bytes(b"x", bad, "text/plain")
    with pytest.raises(ValueError):
        local.uri_for(bad)


def test_local_owns_the_files_under_its_root_only(local, settings, tmp_path):
    root = Path(settings.LOCAL_STORAGE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (root / "link").symlink_to(tmp_path)
    (root / "file-link.mp4").symlink_to(outside)

    assert local.owns(local.uri_for("jobs/1/final.mp4"))
    assert local.owns(f"file://localhost{root}/jobs/1/final.mp4")
    for uri in (outside.as_uri(), "file:///etc/passwd", root.as_uri(), root.as_uri() + "/",
                local.uri_for("a") + "/../../outside.txt", local.uri_for("a") + "/%2e%2e/%2e%2e/outside.txt",
                root.as_uri() + "/link/outside.txt", root.as_uri() + "/file-link.mp4",
                f"file://evil.example{root}/a.mp4", "file:relative/a.mp4", local.uri_for("a") + "%00.mp4",
                "gs://bucket/x", "http://example.com/x", ""):
        assert not local.owns(uri), uri


def test_local_refuses_to_read_list_or_serve_outside_its_root(local, settings, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    root = Path(settings.LOCAL_STORAGE_DIR).resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / "link").symlink_to(tmp_path)
    escapes = (outside.as_uri(), "file:///etc/passwd", local.uri_for("a") + "/../../outside.txt",
               root.as_uri() + "/link/outside.txt", "gs://bucket/x", "http://example.com/x")
    for uri in escapes:
        with pytest.raises(ValueError):
            local.read_bytes(uri)
        with pytest.raises(ValueError):
            local.download_to(uri, tmp_path / "copy")
        with pytest.raises(ValueError):
            local.open_for_media(uri)
        with pytest.raises(ValueError):
            local.v4_signed_url(uri, ttl_seconds=60)
    with pytest.raises(ValueError):
        local.list_uris(tmp_path.as_uri() + "/")
    with pytest.raises(ValueError):
        local.upload_bytes(b"x", "link/evil.txt", "text/plain")
    assert outside.read_text() == "secret"
    assert not (tmp_path / "copy").exists()


def test_local_deletes_its_own_files_once_and_nothing_outside_its_root(local, tmp_path):
    uri = local.upload_bytes(VIDEO, "jobs/deleted/final.mp4", "video/mp4")
    assert local.delete(uri) is True
    assert local.delete(uri) is False  # already gone: harmless
    assert local.list_uris(local.uri_for("jobs/deleted") + "/") == []
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(VIDEO)
    with pytest.raises(ValueError):
        local.delete(outside.as_uri())
    assert outside.exists()


def test_get_storage_is_cached_per_settings(settings, tmp_path):
    first = get_storage()
    assert get_storage() is first
    settings.LOCAL_STORAGE_DIR = tmp_path / "elsewhere"
    second = get_storage()
    assert second is not first and second.root == (tmp_path / "elsewhere").resolve()


def test_both_backends_implement_the_storage_interface(local, settings):
    settings.GCS_BUCKET = BUCKET
    assert isinstance(local, Storage)
    assert isinstance(get_storage(), GCSStorage) and isinstance(get_storage(), Storage)
    assert not hasattr(local, "exists") and not hasattr(get_storage(), "exists")
    assert not hasattr(local, "signed_url") and not hasattr(get_storage(), "signed_url")


# ---- GCS backend against a real emulator ------------------------------------------------------------


def test_gcs_client_is_anonymous_with_emulator(gcs):
    from google.auth.credentials import AnonymousCredentials

    assert isinstance(gcs.client._credentials, AnonymousCredentials)


def test_gcs_round_trip(gcs, tmp_path):
    assert gcs.uri_for("jobs/7/final.mp4") == f"gs://{BUCKET}/{PREFIX}/jobs/7/final.mp4"
    assert gcs.veo_output_prefix("jobs/7/veo/scene-1") == f"gs://{BUCKET}/{PREFIX}/jobs/7/veo/scene-1/"
    source = tmp_path / "final.mp4"
    source.write_bytes(VIDEO)
    uri = gcs.upload_file(source, "jobs/7/final.mp4", "video/mp4")
    assert uri == gcs.uri_for("jobs/7/final.mp4")
    bytes_uri = gcs.upload_bytes(b"{}", "jobs/7/meta.json", "application/json")
    gcs.upload_bytes(b"no", "jobs/70/final.mp4", "video/mp4")

    assert gcs.read_bytes(bytes_uri) == b"{}"
    out = gcs.download_to(uri, tmp_path / "dl" / "copy.mp4")
    assert out.read_bytes() == VIDEO
    assert [p.name for p in out.parent.iterdir()] == ["copy.mp4"]
    assert gcs.list_uris(gcs.veo_output_prefix("jobs/7")) == sorted([uri, bytes_uri])
    assert gcs.list_uris(gcs.veo_output_prefix("jobs/8")) == []
    handle, size, content_type = gcs.open_for_media(uri)
    assert (size, content_type) == (len(VIDEO), "video/mp4")
    assert _read_all(handle) == VIDEO

    with pytest.raises(ObjectNotFoundError):
        gcs.read_bytes(gcs.uri_for("jobs/7/none.mp4"))
    with pytest.raises(ObjectNotFoundError):
        gcs.download_to(gcs.uri_for("jobs/7/none.mp4"), tmp_path / "none.mp4")
    with pytest.raises(ObjectNotFoundError):
        gcs.open_for_media(gcs.uri_for("jobs/7/none.mp4"))
    assert not (tmp_path / "none.mp4").exists()
    with pytest.raises(ValueError):
        gcs.uri_for("../escape")


NOT_OURS = [
    f"gs://{OTHER_BUCKET}/{PREFIX}/jobs/7/final.mp4",  # another bucket, same layout
    f"gs://{BUCKET}/secrets/final.mp4",  # our bucket, outside our prefix
    f"gs://{BUCKET}/{PREFIX}-evil/final.mp4",  # a sibling whose name merely starts like our prefix
    f"gs://{BUCKET}/{PREFIX}/../secrets/final.mp4",
    f"gs://{BUCKET}/{PREFIX}/jobs//final.mp4",
    f"gs://{BUCKET}/{PREFIX}/./final.mp4",
    f"gs://{BUCKET}/{PREFIX}/jobs/7/",  # a "folder", not an object
    f"gs://{BUCKET}/{PREFIX}/",
    f"gs://{BUCKET}/{PREFIX}",
    f"gs://{BUCKET}/",
    f"gs://{BUCKET.upper()}/{PREFIX}/jobs/7/final.mp4",
    f"gs://{BUCKET}/{PREFIX}/jobs\\7.mp4",
    f"gs://{BUCKET}/{PREFIX}/jobs/\x00.mp4",
    "file:///etc/passwd",
    "https://storage.googleapis.com/test-videos/video-saas/jobs/7/final.mp4",
    "",
]


def test_gcs_owns_only_plain_object_names_under_its_prefix(gcs):
    assert gcs.owns(f"gs://{BUCKET}/{PREFIX}/jobs/7/final.mp4")
    assert gcs.owns(gcs.uri_for("jobs/7/veo/attempt-1/1234/sample_0.mp4"))
    for uri in NOT_OURS:
        assert not gcs.owns(uri), uri


def test_gcs_without_a_prefix_owns_its_whole_bucket_and_nothing_else(gcs):
    whole_bucket = GCSStorage(BUCKET, "", "test-project")
    assert whole_bucket.owns(f"gs://{BUCKET}/anything/final.mp4")
    assert not whole_bucket.owns(f"gs://{OTHER_BUCKET}/anything/final.mp4")
    assert not whole_bucket.owns(f"gs://{BUCKET}/a/../final.mp4")


@pytest.mark.parametrize("uri", [f"gs://{OTHER_BUCKET}/{PREFIX}/jobs/7/final.mp4",
                                 f"gs://{BUCKET}/secrets/final.mp4",
                                 f"gs://{BUCKET}/{PREFIX}-evil/final.mp4"])
def test_gcs_refuses_to_read_sign_or_serve_objects_outside_its_bucket_and_prefix(
        gcs, emulator_admin, v4_signing, tmp_path, uri):
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    emulator_admin.bucket(bucket).blob(name).upload_from_string(VIDEO, content_type="video/mp4")
    assert emulator_admin.bucket(bucket).blob(name).download_as_bytes() == VIDEO  # it is there to be had

    with pytest.raises(ValueError):
        gcs.read_bytes(uri)
    with pytest.raises(ValueError):
        gcs.download_to(uri, tmp_path / "copy.mp4")
    with pytest.raises(ValueError):
        gcs.open_for_media(uri)
    with pytest.raises(ValueError):
        gcs.v4_signed_url(uri, ttl_seconds=60)
    with pytest.raises(ValueError):
        gcs.delete(uri)
    assert not (tmp_path / "copy.mp4").exists()
    assert emulator_admin.bucket(bucket).blob(name).exists()  # nor deleted


def test_gcs_deletes_its_own_objects_once(gcs, emulator_admin):
    uri = gcs.upload_bytes(VIDEO, "jobs/deleted/final.mp4", "video/mp4")
    keep = gcs.upload_bytes(VIDEO, "jobs/deleted/final.mp4.bak", "video/mp4")
    assert gcs.delete(uri) is True
    assert gcs.delete(uri) is False  # already gone: harmless
    assert not emulator_admin.bucket(BUCKET).blob(f"{PREFIX}/jobs/deleted/final.mp4").exists()
    assert gcs.list_uris(gcs.uri_for("jobs/deleted") + "/") == [keep]


def test_gcs_refuses_to_list_outside_its_bucket_and_prefix(gcs, emulator_admin):
    emulator_admin.bucket(OTHER_BUCKET).blob("ops/123/sample_0.mp4").upload_from_string(VIDEO)
    emulator_admin.bucket(BUCKET).blob(f"{PREFIX}-evil/ops/sample_0.mp4").upload_from_string(VIDEO)
    for prefix in (f"gs://{OTHER_BUCKET}/ops/123/", f"gs://{OTHER_BUCKET}/", f"gs://{BUCKET}/",
                   f"gs://{BUCKET}/{PREFIX}", f"gs://{BUCKET}/{PREFIX}-evil/"):
        with pytest.raises(ValueError):
            gcs.list_uris(prefix)


def test_gcs_listing_leaves_out_objects_it_would_refuse_to_read(gcs, emulator_admin):
    ours = gcs.upload_bytes(VIDEO, "jobs/9/veo/sample_0.mp4", "video/mp4")
    for odd in ("jobs/9/veo//sample_1.mp4", "jobs/9/veo/./sample_2.mp4"):
        emulator_admin.bucket(BUCKET).blob(f"{PREFIX}/{odd}").upload_from_string(b"x")
    assert gcs.list_uris(gcs.veo_output_prefix("jobs/9")) == [ours]


def test_gcs_v4_signed_url_fetches_the_object_and_lives_at_most_seven_days(gcs, emulator, v4_signing):
    uri = gcs.upload_bytes(VIDEO, "jobs/7/signed.mp4", "video/mp4")
    url = gcs.v4_signed_url(uri, ttl_seconds=900, filename="clip.mp4")
    assert url.startswith(f"{emulator}/{BUCKET}/{PREFIX}/jobs/7/signed.mp4?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == ["900"]
    assert "X-Goog-Signature" in query
    assert "clip.mp4" in query["response-content-disposition"][0]
    response = httpx.get(url, trust_env=False, timeout=10)
    assert response.status_code == 200
    assert response.content == VIDEO
    # V4 caps the lifetime at seven days.
    long_url = gcs.v4_signed_url(uri, ttl_seconds=30 * 86400)
    assert parse_qs(urlsplit(long_url).query)["X-Goog-Expires"] == [str(7 * 86400)]


def test_gcs_v4_signed_url_is_none_without_signing_credentials(gcs):
    uri = gcs.upload_bytes(VIDEO, "jobs/7/unsigned.mp4", "video/mp4")
    assert gcs.v4_signed_url(uri, ttl_seconds=900) is None


def test_gcs_v4_signed_url_is_none_when_signing_fails(gcs, monkeypatch):
    class BrokenSigner:
        def sign_bytes(self, data):
            raise ValueError("the key is corrupt")

        signer_email = "signer@test-project.iam.gserviceaccount.com"

    from video_generation.services import storage as storage_module

    monkeypatch.setattr(storage_module, "_signing_credentials", lambda: BrokenSigner())
    uri = gcs.upload_bytes(VIDEO, "jobs/7/broken.mp4", "video/mp4")
    assert gcs.v4_signed_url(uri, ttl_seconds=900) is None
