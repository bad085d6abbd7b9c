"""gunicorn's part in the metrics' multiprocess mode and in the logs (gunicorn.conf.py at the root loads these).

The master removes this host's files of processes that are gone when it starts, and drops a worker's live gauges
when the worker exits; the worker's counters and histograms stay, so the host's totals never go down. gunicorn's own
lines (its start, worker boots and exits, timeouts; access lines when --access-logfile is set) are rendered like
every other line (video_saas/logs.py)."""

from __future__ import annotations

from gunicorn.glogging import Logger

from . import metrics


class StructuredLogger(Logger):
    """gunicorn's logger with its handlers' lines rendered by the project's formatter (JSON or text, redacted)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        from django.conf import settings

        from .logs import StructuredFormatter

        formatter = StructuredFormatter(log_format=settings.LOG_FORMAT)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)


def on_starting(server) -> None:
    metrics.remove_stale_files()


def child_exit(server, worker) -> None:
    metrics.process_exited(worker.pid)
