"""Uploaded product images (uploads.py): judged by content, kept under the uploader's prefix, and read by the
FetchImage step for the uploader's own jobs only; the API can never point a job at a stored object."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from devstack.briefs import headphones_brief
from video_generation import uploads
from video_generation.models import VideoJob
from video_generation.pipeline.handlers import FetchImage
from video_generation.services.errors import PermanentError
from video_generation.services.storage import get_storage

from .factories import make_job

pytestmark = pytest.mark.django_db


def picture(kind: str = "PNG", size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def store(user, data: bytes) -> uploads.StoredImage:
    return uploads.store_image(user.pk, io.BytesIO(data), len(data))


@pytest.mark.parametrize(("kind", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                    ("WEBP", "image/webp")])
def test_a_png_jpeg_or_webp_is_kept_under_the_uploaders_own_prefix(user, kind, content_type):
    stored = store(user, picture(kind))

    assert stored.content_type == content_type
    assert stored.uri == get_storage().uri_for(f"uploads/{user.pk}/{stored.name}")
    assert get_storage().read_bytes(stored.uri) == picture(kind)
    assert uploads.stored_image(user.pk, stored.name) == stored


@pytest.mark.parametrize(("data", "why"), [
    (b"just some text, whatever the file was called", "not an image we can read"),
    (picture("GIF"), "GIF image; we take PNG, JPEG or WebP only"),
    (picture("PNG")[:-12], "damaged or incomplete"),
    (b"", "empty"),
])
def test_what_is_not_a_png_jpeg_or_webp_by_content_is_refused_in_words(user, data, why):
    with pytest.raises(uploads.ImageRefused, match=why):
        store(user, data)

    assert get_storage().list_uris(get_storage().uri_for("uploads") + "/") == []


def test_an_image_over_the_size_limit_is_refused_before_it_is_read(user, settings):
    data = picture("PNG", size=(64, 64))
    settings.IMAGE_MAX_BYTES = len(data) - 1

    with pytest.raises(uploads.ImageRefused, match="the largest we take is"):
        store(user, data)


def test_another_users_upload_cannot_be_named_by_its_name(user, other_user):
    stored = store(user, picture())

    assert uploads.stored_image(other_user.pk, stored.name) is None
    assert uploads.stored_image(user.pk, "../1/" + stored.name) is None


class TestFetchImage:
    def test_an_uploaded_image_is_copied_from_our_storage_into_the_job(self, user, monkeypatch):
        from video_generation.pipeline import handlers

        monkeypatch.setattr(handlers, "fetch_to_file", lambda *a, **k: pytest.fail("an upload is never fetched"))
        stored = store(user, picture("JPEG"))
        job = make_job(user, image_url=stored.uri)

        done = FetchImage().submit(None, job)

        assert done.result == {"content_type": "image/jpeg", "bytes": stored.size}
        assert done.output_uri.endswith(f"jobs/{job.id}/input/product.jpg")
        assert get_storage().read_bytes(done.output_uri) == picture("JPEG")

    def test_another_users_upload_is_refused(self, user, other_user):
        stored = store(other_user, picture())
        job = make_job(user, image_url=stored.uri)

        with pytest.raises(PermanentError, match="not one of this account's uploads"):
            FetchImage().submit(None, job)

    @pytest.mark.parametrize("path", ["jobs/1/final.mp4", "uploads/{me}/../{other}/{name}", "uploads/{me}/x.png"])
    def test_no_other_stored_object_can_be_read_as_an_image(self, user, other_user, path):
        stored = store(other_user, picture())
        storage = get_storage()
        spelled = path.format(me=user.pk, other=other_user.pk, name=stored.name)
        uri = storage.uri_for("uploads").rsplit("/uploads", 1)[0] + "/" + spelled
        job = make_job(user, image_url=uri)

        with pytest.raises(PermanentError):
            FetchImage().submit(None, job)

    def test_an_upload_deleted_since_fails_the_step_for_good(self, user):
        stored = store(user, picture())
        get_storage().delete(stored.uri)

        with pytest.raises(PermanentError, match="no longer stored"):
            FetchImage().submit(None, make_job(user, image_url=stored.uri))


@pytest.mark.parametrize("scheme", ["file", "gs"])
def test_the_api_refuses_a_storage_uri_as_the_image(api_client, user, scheme):
    stored = store(user, picture())
    uri = stored.uri if scheme == "file" else f"gs://bucket/uploads/{user.pk}/{stored.name}"

    response = api_client.post("/api/video/generate/", headphones_brief(uri), format="json")

    assert response.status_code == 400, response.content
    assert "image_url" in response.json()["details"]
    assert not VideoJob.objects.exists()


def test_an_erased_users_uploads_are_deleted(user, other_user):
    mine, theirs = store(user, picture()), store(other_user, picture())

    assert uploads.delete_user_uploads(user.pk) == 1

    assert uploads.stored_image(user.pk, mine.name) is None
    assert uploads.stored_image(other_user.pk, theirs.name) is not None


def test_the_files_name_in_an_upload_path_is_checked(user):
    with pytest.raises(ValueError):
        uploads.upload_path(user.pk, "../../jobs/1/final.mp4")
    assert Path(uploads.upload_path(user.pk, "0" * 32 + ".png")).parts[:2] == ("uploads", str(user.pk))
