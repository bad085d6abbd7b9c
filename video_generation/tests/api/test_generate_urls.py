"""POST /api/video/generate/ refuses image and webhook URLs we must never request, in every spelling, with a 400
that names the field, and without a DNS lookup. The rule itself is tested in tests/services/test_safe_http.py."""

import socket

import pytest
from django.core.cache import cache

from video_generation.models import VideoJob
from video_generation.tests.url_spellings import ACCEPTED_AT_SUBMIT, REFUSED_AT_SUBMIT

pytestmark = pytest.mark.django_db
URL = "/api/video/generate/"
REFUSED_SPELLINGS = [
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://0/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[fe80::1%25eth0]/", "http://127.0.0.1./", "HTTP://LOCALHOST/", "http://127.0.0%2e1/",
    "http://１２７.０.０.１/", "http://169.254.169.254/", "http://metadata.google.internal/", "http://redis/",
    "http://api/", "http://app.localhost/", "http://db.internal/", "http://redis.default.svc/",
    "http://router.home.arpa/", "http://printer.local/", "http://user:pw@cdn.example.com/p.png",
    "http://cdn.example.com:8080/p.png", "http://10.0.0.1/", "http://100.64.0.1/", "http://[fd00::1]/",
]


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def no_dns(monkeypatch):
    """A lookup at submit would fail the request with a 500 and be caught here."""
    lookups = []

    def refuse(*args, **kwargs):
        lookups.append(args[0] if args else kwargs.get("host"))
        raise AssertionError("no DNS lookup may happen at submit")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert lookups == []


def brief(**overrides):
    return {"product_title": "Headphones", "image_url": "https://cdn.example.com/h.jpg", "avatar_id": "a1",
            "voice_id": "v1", "avatar_script": "Hello there.",
            "scenes": [{"visual_description": "desk", "camera_movement": "zoom in", "mood": "warm"}], **overrides}


def assert_refused(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation error"
    assert list(body["details"]) == [field]
    assert body["details"][field] and all(isinstance(message, str) for message in body["details"][field])
    assert VideoJob.objects.count() == 0


REFUSED = REFUSED_AT_SUBMIT


@pytest.mark.parametrize("url", REFUSED_SPELLINGS + REFUSED)
def test_a_dangerous_image_url_is_a_400_on_image_url(api_client, url):
    assert_refused(api_client.post(URL, brief(image_url=url), format="json"), "image_url")


@pytest.mark.parametrize("field", ["image_url", "webhook_url"])
@pytest.mark.parametrize("url", REFUSED_SPELLINGS)
def test_each_spelling_is_refused_by_our_rule_not_only_by_urlfield(api_client, url, field):
    response = api_client.post(URL, brief(**{field: url}), format="json")
    assert_refused(response, field)
    assert set(response.json()["details"][field]) - {"Enter a valid URL."}, "the SSRF rule did not run"


@pytest.mark.parametrize("url", [
    "https://cdn.example.com/p.jpg", "https://xn--bcher-kva.example/p.png",
    "https://cdn.example.com:443/p.jpg?size=large", "http://CDN.Example.COM/a%20b.png#top",
])
def test_a_public_url_is_accepted_for_both_fields(api_client, url):
    response = api_client.post(URL, brief(image_url=url, webhook_url=url), format="json")
    assert response.status_code == 202, response.content
    job = VideoJob.objects.get(id=response.json()["job_id"])
    assert (job.image_url, job.webhook_url) == (url, url)


@pytest.mark.parametrize("url", ACCEPTED_AT_SUBMIT)
def test_a_url_the_request_rule_accepts_is_accepted_or_refused_by_the_published_pattern_never_a_server_error(
        api_client, url):
    # The API publishes a stricter pattern than the request rule needs (host names only, ASCII): a 400 on the field.
    response = api_client.post(URL, brief(image_url=url), format="json")
    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        assert list(response.json()["details"]) == ["image_url"]


@pytest.mark.parametrize("url", ["http://93.184.216.34/x.png", "https://bücher.example/p.png",
                                 "http://[2606:2800:220:1:248:1893:25c8:1946]/x.png"])
def test_ip_addresses_and_unicode_host_names_are_refused_with_how_to_write_the_url(api_client, url):
    response = api_client.post(URL, brief(image_url=url), format="json")
    assert response.status_code == 400
    assert "public host name (not an IP address)" in response.json()["details"]["image_url"][0]


def test_a_loopback_image_on_a_high_port_is_accepted_when_private_urls_are_allowed(api_client, settings):
    settings.ALLOW_PRIVATE_URLS = True
    response = api_client.post(URL, brief(image_url="http://127.0.0.1:8123/assets/p.png"), format="json")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://metadata.google.internal/",
                                 "http://[::ffff:169.254.169.254]/", "http://user:pw@127.0.0.1:8123/p.png"])
def test_metadata_and_credentials_are_refused_even_when_private_urls_are_allowed(api_client, settings, url):
    settings.ALLOW_PRIVATE_URLS = True
    assert_refused(api_client.post(URL, brief(image_url=url), format="json"), "image_url")


def test_surrounding_whitespace_is_refused_not_silently_trimmed(api_client):
    response = api_client.post(URL, brief(image_url="\t https://cdn.example.com/h.jpg \n"), format="json")
    assert response.status_code == 400
    assert not VideoJob.objects.exists()
