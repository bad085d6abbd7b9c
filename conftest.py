import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(settings, tmp_path):
    """No test touches real providers, a real bucket or the developer's files."""
    settings.LOCAL_STORAGE_DIR = tmp_path / "media"
    settings.GCS_BUCKET = ""
    settings.GCP_PROJECT_ID = "test-project"
    settings.GCP_SERVICE_ACCOUNT_FILE = ""
    settings.HEYGEN_API_KEY = "test-heygen-key"
    settings.VEO_API_BASE_URL = "https://us-central1-aiplatform.googleapis.com"
    settings.HEYGEN_API_BASE_URL = "https://api.heygen.com"
    settings.HEYGEN_UPLOAD_BASE_URL = "https://upload.heygen.com"
    settings.ALLOW_PRIVATE_URLS = False
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in tests


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="pw-alice-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw-bob-123")


@pytest.fixture
def api_key(user):
    """A fresh unrestricted `vsk_` key of `user` (the secret string)."""
    from api_keys.services import issue_key

    return issue_key(user=user, name="tests").secret


@pytest.fixture
def api_client(api_key):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key}")
    return client


def pytest_collection_modifyitems(config, items):
    """`services` tests need PostgreSQL and Redis. Locally they skip without them; CI (REQUIRE_SERVICES=1) never
    lets them skip."""
    import os

    have_services = os.environ.get("DATABASE_URL", "").startswith("postgres") and bool(os.environ.get("REDIS_URL"))
    if have_services:
        return
    wanted = [item for item in items if item.get_closest_marker("services")]
    if wanted and os.environ.get("REQUIRE_SERVICES") == "1":
        raise pytest.UsageError("REQUIRE_SERVICES=1 but DATABASE_URL (postgres) / REDIS_URL are not set")
    for item in wanted:
        item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters start at zero in every test."""
    from django.core.cache import cache

    cache.clear()
