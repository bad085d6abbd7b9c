"""Fixtures of the HeyGen client's tests (test_heygen_service.py, test_heygen_catalog.py)."""

from __future__ import annotations

import pytest
import respx

from video_generation.services.heygen_service import HeyGenService


@pytest.fixture
def mock():
    """A respx router: every request must match a route."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def service():
    """A HeyGen client on the settings' base URLs (https://api.heygen.com unless a test says otherwise)."""
    svc = HeyGenService()
    yield svc
    svc.close()
