"""The Celery worker's side of the metrics (video_saas/metrics.py).

At start the worker's main process removes this host's files of processes that are gone; a pool process that exits
drops its live gauges. With WORKER_METRICS_PORT set, the main process also serves GET /metrics on that port (all
addresses), summing its pool's files: in Kubernetes each worker pod has its own PROMETHEUS_MULTIPROC_DIR (an
emptyDir) and is scraped on its own. Access as for the API (metrics_http.denial: loopback, or the bearer token).
"""

from __future__ import annotations

import logging
import os
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import bootsteps, signals

from . import metrics

logger = logging.getLogger(__name__)

STATUS_LINES = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found",
                405: "405 Method Not Allowed"}


def metrics_app(environ, start_response):
    """WSGI: GET /metrics, for the readers metrics_http.denial lets in."""
    from .metrics_http import NOT_FOUND, PATH, denial

    refused = NOT_FOUND if environ.get("PATH_INFO") != PATH else denial(environ)
    if refused is not None:
        start_response(STATUS_LINES[refused.status], [("Content-Type", "text/plain; charset=utf-8"),
                                                      *refused.headers])
        return [refused.body.encode()]
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response(STATUS_LINES[405], [("Allow", "GET, HEAD")])
        return [b""]
    body, content_type = metrics.exposition()
    start_response(STATUS_LINES[200], [("Content-Type", content_type), ("Cache-Control", "no-store")])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002  (every scrape would be a log line)
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(port: int, host: str = "0.0.0.0") -> WSGIServer:
    """Serve metrics_app on `port` from a daemon thread; returns the server (its .shutdown() stops it)."""
    server = make_server(host, port, metrics_app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server


class MetricsStep(bootsteps.StartStopStep):
    """In the worker's main process: clean up after dead processes, then serve the metrics if a port is set."""

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.server = None

    def start(self, worker) -> None:
        from django.conf import settings

        removed = metrics.remove_stale_files()
        if removed:
            logger.info("metrics: removed %d files of processes that are gone", len(removed))
        port = settings.WORKER_METRICS_PORT
        if port is None:
            return
        if not metrics.multiproc_dir():
            logger.warning("metrics: WORKER_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR serves only the main "
                           "process's values, not its pool's")
        self.server = serve(port)
        logger.info("metrics: serving /metrics on port %d", port)

    def stop(self, worker) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    shutdown = stop


@signals.worker_process_shutdown.connect
def pool_process_exited(**kwargs) -> None:
    metrics.process_exited(os.getpid())
