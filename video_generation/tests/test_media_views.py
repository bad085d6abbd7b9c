"""`GET|HEAD /media/<token>/<name>`: how a valid link's file is sent (ranges, types, headers, outages).

Which links are valid at all is tested in test_downloads.py.
"""

from urllib.parse import urlsplit

import pytest

from video_generation.downloads import Artifact, artifact_url
from video_generation.services.storage import LocalStorage, StorageError
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64  # 16 KiB + header


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _link_to(user, storage, data: bytes, name: str = "final.mp4", content_type: str = "video/mp4") -> str:
    """The /media/ path of a new completed job whose finished video is `data`, stored as `name`."""
    job = make_job(user, status="completed")
    job.final_video_uri = storage.upload_bytes(data, f"jobs/{job.id}/{name}", content_type)
    job.save()
    return urlsplit(artifact_url(job, Artifact.VIDEO)).path


@pytest.fixture
def local_link(user, local):
    return _link_to(user, local, VIDEO)


def test_a_link_sends_the_whole_file_with_its_type_and_length(client, local_link):
    response = client.get(local_link)
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(VIDEO))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert _body(response) == VIDEO


def test_head_gives_the_headers_without_the_body(client, local_link):
    response = client.head(local_link)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(VIDEO))
    assert response["Content-Type"] == "video/mp4"
    assert _body(response) == b""


def test_other_methods_are_not_allowed(client, local_link):
    assert client.post(local_link).status_code == 405
    assert client.delete(local_link).status_code == 405
    assert client.get(local_link).status_code == 200


def test_range_requests_get_just_those_bytes(client, local_link):
    response = client.get(local_link, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(VIDEO)}"
    assert response["Content-Length"] == "10"
    assert _body(response) == VIDEO[10:20]

    suffix = client.get(local_link, HTTP_RANGE="bytes=-5")
    assert suffix.status_code == 206 and _body(suffix) == VIDEO[-5:]
    open_ended = client.get(local_link, HTTP_RANGE=f"bytes={len(VIDEO) - 3}-")
    assert open_ended.status_code == 206 and _body(open_ended) == VIDEO[-3:]
    past_the_end = client.get(local_link, HTTP_RANGE=f"bytes=0-{len(VIDEO) * 2}")
    assert past_the_end.status_code == 206 and _body(past_the_end) == VIDEO


def test_an_unsatisfiable_range_is_416_with_the_size(client, local_link):
    response = client.get(local_link, HTTP_RANGE=f"bytes={len(VIDEO)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(VIDEO)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=abc", "bytes=-"])
def test_multi_range_and_malformed_ranges_get_the_whole_file(client, local_link, header):
    response = client.get(local_link, HTTP_RANGE=header)
    assert response.status_code == 200 and _body(response) == VIDEO


def test_a_range_with_if_range_gets_the_whole_file(client, local_link):
    response = client.get(local_link, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"some-etag"')
    assert response.status_code == 200 and _body(response) == VIDEO


def test_range_requests_work_on_links_served_from_gcs(client, user, gcs):
    link = _link_to(user, gcs, VIDEO)
    response = client.get(link, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(VIDEO)}"
    assert _body(response) == VIDEO[100:200]
    whole = client.get(link)
    assert whole["Content-Type"] == "video/mp4" and _body(whole) == VIDEO


def test_a_stored_file_of_an_unsafe_type_is_sent_as_a_download(client, user, local):
    link = _link_to(user, local, b"<script>alert(1)</script>", name="page.html", content_type="text/html")
    response = client.get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_svg_stored_on_gcs_is_sent_as_a_download_despite_its_image_type(client, user, gcs):
    link = _link_to(user, gcs, b"<svg onload='alert(1)'/>", name="final.svg", content_type="image/svg+xml")
    response = client.get(link)
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_a_storage_outage_is_a_503_not_a_404_and_says_nothing_of_the_cause(client, local_link, monkeypatch):
    def broken(self, uri):
        raise StorageError("disk on fire")

    monkeypatch.setattr(LocalStorage, "open_for_media", broken)
    response = client.get(local_link)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "fire" not in response.content.decode()
