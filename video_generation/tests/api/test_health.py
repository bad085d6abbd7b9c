"""GET /api/video/health/"""

from unittest import mock

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from video_saas.celery import app as celery_app

pytestmark = pytest.mark.django_db

URL = "/api/video/health/"


@pytest.fixture
def memory_broker(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "memory://")


def test_it_is_healthy_without_a_token(memory_broker):
    r = APIClient().get(URL)

    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert body["database"] == "connected"
    assert body["broker"] == "connected"
    assert body["timestamp"]


def test_it_ignores_a_bad_token(memory_broker):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token bogus")
    assert client.get(URL).status_code == 200


def test_it_reports_a_broker_outage():
    with mock.patch("video_generation.views.check_broker", return_value=False):
        r = APIClient().get(URL)

    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unhealthy"
    assert body["broker"] == "unavailable"
    assert body["database"] == "connected"


def test_it_reports_an_unreachable_redis_without_leaking_its_url(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://:s3cret-pass@127.0.0.1:1/0")

    r = APIClient().get(URL)

    assert r.status_code == 503
    assert r.json()["broker"] == "unavailable"
    assert b"s3cret-pass" not in r.content
    assert b"127.0.0.1" not in r.content


def test_it_reports_a_database_outage(memory_broker):
    broken = mock.Mock()
    broken.cursor.side_effect = OperationalError("could not connect to server: password=hunter2")
    with mock.patch("video_generation.views.connection", broken):
        r = APIClient().get(URL)

    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "unavailable"
    assert body["broker"] == "connected"
    assert b"hunter2" not in r.content
