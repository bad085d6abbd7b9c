"""gunicorn's part in the metrics' multiprocess mode (gunicorn.conf.py at the root loads these hooks).

The master removes this host's files of processes that are gone when it starts, and drops a worker's live gauges
when the worker exits; the worker's counters and histograms stay, so the host's totals never go down."""

from __future__ import annotations

from . import metrics


def on_starting(server) -> None:
    metrics.remove_stale_files()


def child_exit(server, worker) -> None:
    metrics.process_exited(worker.pid)
