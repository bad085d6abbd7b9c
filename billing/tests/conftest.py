import pytest
from rest_framework.test import APIClient

from devstack.briefs import headphones_brief
from video_generation.serializers import VideoGenerationRequestSerializer


def validated(brief: dict) -> dict:
    serializer = VideoGenerationRequestSerializer(data=brief)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@pytest.fixture
def brief() -> dict:
    """The headphones brief: one 22 s chain, a narration of about 19 s: 3 credits."""
    return headphones_brief("https://cdn.example.com/headphones.jpg")


@pytest.fixture
def job_data(brief) -> dict:
    return validated(brief)


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client
    return make


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Accepting a job publishes its first message after commit; these tests look at money, not messages."""
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


@pytest.fixture(autouse=True)
def _forget_plan_rates():
    from billing import services

    services._plan_rates.clear()
