"""Due steps per queue: the one definition of "work waiting for a queue's workers", read from the rows.

KEDA scales the workers on it (deploy/k8s/base/keda.yaml holds `keda_query(queue)` verbatim; tests/deploy checks
they are equal) and /metrics exports it (video_saas_queue_due_steps). A step counts when its job is active and it is
being worked on (running, submitting), or is a poll whose time has come (submitted, unknown: orchestration only), or
is pending, past its retry time and with every step it depends on succeeded (as machine.is_ready). Queues as the
pipeline routes them (handlers.queue_for): the cpu_bound kinds go to the media queue, the rest to the default one.

PostgreSQL is the production database and KEDA's; SQLite (local runs, tests) reads the same query with its own JSON
function and the current time passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ..models import StepState
from .handlers import MEDIA_KINDS
from .states import ACTIVE_STATUSES

S = StepState
ORCHESTRATION, MEDIA = "orchestration", "media"  # which steps a query counts


def _quoted(values) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))


def _query(queue: str, *, select: str, now: str, dependencies: str, dependency_key: str) -> str:
    kinds = "IN" if queue == MEDIA else "NOT IN"
    polls = "" if queue == MEDIA else f"OR (s.state IN ('{S.SUBMITTED}', '{S.UNKNOWN}') AND s.next_check_at <= {now})\n"
    return (
        f"SELECT {select} FROM video_generation_jobstep s\n"
        f"JOIN video_generation_videojob j ON j.id = s.job_id\n"
        f"WHERE j.status IN ({', '.join(repr(str(status)) for status in ACTIVE_STATUSES)})\n"
        f"AND s.kind {kinds} ({_quoted(MEDIA_KINDS)})\n"
        f"AND (s.state IN ('{S.RUNNING}', '{S.SUBMITTING}')\n"
        f"{polls}"
        f"OR (s.state = '{S.PENDING}' AND (s.next_check_at IS NULL OR s.next_check_at <= {now})\n"
        f"AND NOT EXISTS (SELECT 1 FROM {dependencies}\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM video_generation_jobstep t\n"
        f"WHERE t.job_id = s.job_id AND t.key = {dependency_key} AND t.state = '{S.SUCCEEDED}'))))"
    )


def keda_query(queue: str) -> str:
    """The PostgreSQL query KEDA runs for `queue`: how many steps are due."""
    return _query(queue, select="COUNT(*)", now="now()",
                  dependencies="jsonb_array_elements_text(s.depends_on) AS d(key)", dependency_key="d.key")


# Since when the oldest due step that nobody works on has waited: its due time, or when it was last rung.
WAITING_SINCE = (f"MIN(CASE WHEN s.state NOT IN ('{S.RUNNING}', '{S.SUBMITTING}') "
                 f"THEN COALESCE(s.next_check_at, s.last_enqueued_at, j.created_at) END)")


def _backlog_query(queue: str) -> tuple[str, list]:
    select = f"COUNT(*), {WAITING_SINCE}"
    if connection.vendor == "postgresql":
        return _query(queue, select=select, now="now()", dependencies="jsonb_array_elements_text(s.depends_on) AS "
                      "d(key)", dependency_key="d.key"), []
    now = timezone.now()
    sql = _query(queue, select=select, now="%s", dependencies="json_each(s.depends_on) AS d",
                 dependency_key="d.value")
    return sql, [now] * sql.count("%s")


@dataclass(frozen=True)
class Backlog:
    due: int
    oldest_seconds: float  # 0 when nothing due is waiting


def queue_names() -> dict[str, str]:
    """{which steps: their Celery queue}."""
    return {ORCHESTRATION: settings.CELERY_TASK_DEFAULT_QUEUE, MEDIA: settings.MEDIA_QUEUE}


def backlog() -> dict[str, Backlog]:
    """{Celery queue: its due steps, with the age of the oldest one waiting}."""
    out = {}
    now = timezone.now()
    with connection.cursor() as cursor:
        for steps, queue in queue_names().items():
            sql, params = _backlog_query(steps)
            cursor.execute(sql, params)
            count, since = cursor.fetchone()
            out[queue] = Backlog(due=count, oldest_seconds=age_seconds(since, now))
    return out


def age_seconds(since, now: datetime) -> float:
    """Seconds from `since` (a datetime, or SQLite's text) to `now`; 0 for none or the future."""
    if since is None:
        return 0.0
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    if timezone.is_naive(since):
        since = since.replace(tzinfo=UTC)
    return max(0.0, (now - since).total_seconds())
