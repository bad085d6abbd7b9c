"""GET /api/video/list_jobs/"""

import pytest
from rest_framework.pagination import PageNumberPagination
from rest_framework.test import APIClient

from video_generation.models import JobStatus, JobStep
from video_generation.tests.factories import make_job

pytestmark = pytest.mark.django_db

URL = "/api/video/list_jobs/"


def test_it_requires_a_token():
    r = APIClient().get(URL)
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}


def test_it_lists_only_own_jobs_newest_first(api_client, user, other_user):
    first = make_job(user, product_title="first")
    second = make_job(user, product_title="second")
    make_job(other_user, product_title="not mine")

    r = api_client.get(URL)

    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    assert [job["id"] for job in body["results"]] == [str(second.id), str(first.id)]


def test_it_includes_steps(api_client, user):
    job = make_job(user)
    JobStep.objects.create(job=job, key="fetch_image", kind="fetch_image", provider="local")

    results = api_client.get(URL).json()["results"]

    assert [s["key"] for s in results[0]["steps"]] == ["fetch_image"]


def test_it_paginates(api_client, user, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    for i in range(5):
        make_job(user, product_title=f"job {i}")

    page1 = api_client.get(URL).json()
    page3 = api_client.get(URL, {"page": 3}).json()

    assert page1["count"] == 5
    assert len(page1["results"]) == 2
    assert page1["next"].endswith("?page=2")
    assert page1["previous"] is None
    assert [job["product_title"] for job in page3["results"]] == ["job 0"]
    assert page3["next"] is None


def test_it_returns_404_past_the_last_page(api_client, user):
    make_job(user)

    r = api_client.get(URL, {"page": 9})

    assert r.status_code == 404
    assert r.json() == {"error": "Not found"}


def test_it_filters_by_status(api_client, user, other_user):
    done = make_job(user, status=JobStatus.COMPLETED)
    make_job(user, status=JobStatus.FAILED)
    make_job(other_user, status=JobStatus.COMPLETED)

    body = api_client.get(URL, {"status": "completed"}).json()

    assert body["count"] == 1
    assert body["results"][0]["id"] == str(done.id)


def test_it_rejects_an_unknown_status(api_client, user):
    r = api_client.get(URL, {"status": "exploded"})

    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "Validation error"
    assert "status" in body["details"]


def test_it_refuses_an_empty_status_instead_of_ignoring_it(api_client, user):
    make_job(user, status=JobStatus.COMPLETED)

    r = api_client.get(URL, {"status": ""})

    assert r.status_code == 400
    assert r.json()["error"] == "Validation error" and "status" in r.json()["details"]
