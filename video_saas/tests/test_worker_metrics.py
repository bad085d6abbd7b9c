"""The worker's metrics server (video_saas/worker_metrics.py) and gunicorn's hooks (video_saas/gunicorn_hooks.py)."""

import socket
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from video_saas import gunicorn_hooks, metrics, worker_metrics

TOKEN = "worker-metrics-token"


def call(environ: dict) -> tuple[str, dict, bytes]:
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(worker_metrics.metrics_app({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", **environ},
                                               start_response))
    return seen["status"], seen["headers"], body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_loopback_reads_the_families(settings):
    status, headers, body = call({"REMOTE_ADDR": "127.0.0.1"})
    assert status == "200 OK" and headers["Content-Type"] == metrics.CONTENT_TYPE
    assert "video_saas_jobs" in {f.name for f in text_string_to_metric_families(body.decode())}


@pytest.mark.parametrize("token,header,expected", [
    ("", f"Bearer {TOKEN}", "404 Not Found"), (TOKEN, None, "401 Unauthorized"),
    (TOKEN, "Bearer nope", "403 Forbidden"), (TOKEN, f"Bearer {TOKEN}", "200 OK"),
])
def test_the_pod_network_needs_the_token_as_the_api_does(settings, token, header, expected):
    settings.METRICS_TOKEN = token
    environ = {"REMOTE_ADDR": "10.2.3.4", **({"HTTP_AUTHORIZATION": header} if header else {})}
    status, _, body = call(environ)
    assert status == expected
    assert (b"video_saas" in body) == (expected == "200 OK")


def test_other_paths_are_not_found():
    assert call({"REMOTE_ADDR": "127.0.0.1", "PATH_INFO": "/"})[0] == "404 Not Found"


def test_the_bootstep_serves_on_the_configured_port_until_the_worker_stops(settings):
    settings.WORKER_METRICS_PORT = free_port()
    step = worker_metrics.MetricsStep(SimpleNamespace())
    step.start(SimpleNamespace())
    try:
        response = httpx.get(f"http://127.0.0.1:{settings.WORKER_METRICS_PORT}/metrics", timeout=10)
        assert response.status_code == 200 and "video_saas_provider_requests_total" in response.text
    finally:
        step.stop(SimpleNamespace())
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{settings.WORKER_METRICS_PORT}/metrics", timeout=2)


def test_the_bootstep_serves_nothing_without_a_port(settings):
    settings.WORKER_METRICS_PORT = None
    step = worker_metrics.MetricsStep(SimpleNamespace())
    step.start(SimpleNamespace())
    assert step.server is None


def test_a_gunicorn_worker_that_exits_has_its_live_gauges_dropped_and_its_counters_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    identifier = metrics.process_identifier(4242)
    for name in (f"gauge_livesum_{identifier}.db", f"counter_{identifier}.db", "gauge_livesum_elsewhere-4242.db"):
        (tmp_path / name).write_bytes(b"")
    gunicorn_hooks.child_exit(None, SimpleNamespace(pid=4242))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{identifier}.db",
                                                                 "gauge_livesum_elsewhere-4242.db"])
