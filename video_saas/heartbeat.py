"""Worker liveness from a heartbeat file, not `celery inspect ping` (which needs the broker and a reply).

The worker touches WORKER_HEARTBEAT_FILE every WORKER_HEARTBEAT_INTERVAL_SECONDS from its own event loop (a bootstep
on the worker's timer), so a worker whose loop is stuck or stopped stops touching it. Empty setting = off.

A liveness probe runs the check without loading Django (a probe must be cheap):

    python -m video_saas.heartbeat check --max-age 60 [--file PATH]

It exits 0 when the file was touched within --max-age seconds, 1 when it is stale or missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from celery import bootsteps

logger = logging.getLogger(__name__)

FILE_ENV = "WORKER_HEARTBEAT_FILE"
FRESH, STALE = 0, 1


def touch(path: str) -> None:
    """Create the file or move its modification time to now; a failure is logged, never raised into the worker."""
    try:
        Path(path).touch()
    except OSError as exc:
        logger.warning("could not touch the heartbeat file %s (%s)", path, type(exc).__name__)


class HeartbeatStep(bootsteps.StartStopStep):
    """Touches the heartbeat file at start and then on the worker's timer until the worker stops."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker) -> None:
        from django.conf import settings

        path = settings.WORKER_HEARTBEAT_FILE
        if not path:
            return
        touch(path)
        self.timer_entry = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_INTERVAL_SECONDS, touch, (path,))

    def stop(self, worker) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop


def age_seconds(path: str, now: float | None = None) -> float | None:
    """Seconds since the file was last touched; None when it does not exist."""
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return None
    return (time.time() if now is None else now) - modified


def check(path: str, max_age: float) -> tuple[int, str]:
    if not path:
        return STALE, f"no heartbeat file: pass --file or set {FILE_ENV}"
    age = age_seconds(path)
    if age is None:
        return STALE, f"heartbeat file {path} is missing"
    if age > max_age:
        return STALE, f"heartbeat file {path} is {age:.0f}s old (more than {max_age:.0f}s)"
    return FRESH, f"heartbeat {age:.0f}s old"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m video_saas.heartbeat", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="exit 0 when the heartbeat is fresh, 1 when stale or missing")
    check_parser.add_argument("--max-age", type=float, default=60.0, help="seconds (default 60)")
    check_parser.add_argument("--file", default=os.environ.get(FILE_ENV, ""), help=f"default: ${FILE_ENV}")
    args = parser.parse_args(argv)
    code, message = check(args.file, args.max_age)
    print(message, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
