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
    settings.HEYGEN_CATALOG_VALIDATION = False  # briefs are not checked against HeyGen's catalogue unless a test asks
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
def _fresh_provider_clients():
    """Provider clients are made once per process from the settings of the moment; a test that overrides a base URL
    must not leave its client to the next test."""
    from video_generation.pipeline import providers

    # The cached factories themselves: a test may have monkeypatched the module's names by teardown time.
    factories = (providers.veo, providers.heygen)
    for factory in factories:
        factory.cache_clear()
    yield
    for factory in factories:
        factory.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters start at zero in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _nothing_bound_to_the_logs():
    """A request id bound by one test's request (it stays bound until the next request, as on a server thread) never
    reaches the next test."""
    import structlog

    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def log_lines():
    """The JSON lines every logger writes while the test runs, as the production formatter renders them (with what
    is bound to the work), parsed: call it for the list so far. A line that is not JSON fails the test."""
    import io
    import json
    import logging

    from django.conf import settings

    from video_saas.logs import StructuredFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter(log_format="json"))
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in settings.LOGGING["loggers"])]
    for each in loggers:
        each.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for each in loggers:
            each.removeHandler(handler)
