"""Fixtures of the erasure and export tests: the GCS emulator (shared with the storage tests), jobs with files."""

import pytest
from rest_framework.test import APIClient

from video_generation.tests.conftest import emulator, emulator_admin, gcs  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Accepting a job publishes its first message after commit; these tests look at rows and files."""
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


@pytest.fixture
def token_client():
    """A client authenticated with a fresh API key of `user` (the secret is kept as client.api_key)."""
    from api_keys.services import issue_key

    def make(user) -> APIClient:
        client = APIClient()
        client.api_key = issue_key(user=user, name="tests").secret
        client.credentials(HTTP_AUTHORIZATION=f"Token {client.api_key}")
        return client
    return make
