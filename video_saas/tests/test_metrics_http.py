"""GET /metrics and the request-duration middleware (video_saas/metrics_http.py)."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from video_saas import metrics

pytestmark = pytest.mark.django_db

TOKEN = "m3tr1cs-t0ken-for-tests"


def scrape(client, **extra):
    return client.get("/metrics", **{"REMOTE_ADDR": "127.0.0.1", **extra})


def http_count(route: str, status: str) -> float:
    return metrics.FAMILIES.get_sample_value("video_saas_http_request_duration_seconds_count",
                                             {"route": route, "status": status}) or 0.0


def test_the_answer_is_prometheus_text_that_parses(client):
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"video_saas_jobs", "video_saas_queue_due_steps", "video_saas_webhook_deliveries_due"} <= names


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_loopback_reads_without_a_token(client, settings, address):
    settings.METRICS_TOKEN = TOKEN
    assert scrape(client, REMOTE_ADDR=address).status_code == 200


def test_elsewhere_without_a_configured_token_is_not_found(client, settings):
    settings.METRICS_TOKEN = ""
    response = scrape(client, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert b"video_saas" not in response.content


def test_elsewhere_with_the_token_reads(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = scrape(client, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"video_saas_jobs_total" in response.content


@pytest.mark.parametrize("header,status", [
    (None, 401), ("Token " + TOKEN, 401), ("Bearer ", 401), ("Bearer wrong-token", 403),
    ("Bearer " + TOKEN + "x", 403), ("Bearer " + TOKEN[:-1], 403),
])
def test_elsewhere_with_no_or_a_wrong_token_is_refused_without_saying_more(client, settings, header, status):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = scrape(client, REMOTE_ADDR="203.0.113.9", **extra)
    assert response.status_code == status
    assert b"video_saas" not in response.content and TOKEN.encode() not in response.content
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
def test_a_request_relayed_by_a_proxy_on_this_host_is_not_local(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    assert scrape(client, **{header: "127.0.0.1"}).status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **{header: "127.0.0.1"}).status_code == 200


def test_a_forwarded_for_header_never_makes_a_remote_peer_local(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert scrape(client, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 401


def test_loopback_can_be_made_to_need_the_token_too(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_OPEN_ON_LOOPBACK = False
    assert scrape(client).status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_are_answered_before_the_host_check_and_the_https_redirect(client, settings):
    settings.ALLOWED_HOSTS = ["video.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert scrape(client, HTTP_HOST="10.4.5.6:8000").status_code == 200


def test_only_reads_are_served(client):
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_requests_are_timed_by_their_route_template_never_their_path(client, api_client):
    route = "api/video/status/<str:job_id>/"
    before = http_count(route, "4xx")
    for _ in range(2):
        assert api_client.get("/api/video/status/00000000-0000-0000-0000-000000000001/").status_code == 404
    assert http_count(route, "4xx") == before + 2
    exported = scrape(client).content.decode()
    assert "00000000-0000-0000-0000-000000000001" not in exported


def test_paths_no_pattern_matches_collapse_into_one_label_value(client):
    before = http_count(metrics.UNMATCHED_ROUTE, "4xx")
    for path in ("/nothing-here", "/wp-login.php", "/api/video/nope/nope/"):
        client.get(path)
    assert http_count(metrics.UNMATCHED_ROUTE, "4xx") == before + 3
    assert "wp-login" not in scrape(client).content.decode()


def test_the_api_routes_are_exported_at_zero_before_any_request():
    assert metrics.FAMILIES.get_sample_value("video_saas_http_request_duration_seconds_count",
                                             {"route": "api/account/ledger/", "status": "5xx"}) is not None


def test_scrapes_are_timed_under_their_own_route(client):
    before = http_count(metrics.METRICS_ROUTE, "2xx")
    scrape(client)
    assert http_count(metrics.METRICS_ROUTE, "2xx") == before + 1
