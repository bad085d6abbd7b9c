"""The service's Prometheus metrics: every family, defined once here, and how they are recorded and exported.

Families (all exported from start-up with their known label values at zero, so no series is ever missing):

- video_saas_jobs_total{status, failure_stage}: jobs that reached a final state (status completed, failed or
  cancelled; failure_stage is the kind of the step that failed a job, "other" for a failure outside any step, and
  "none" for completed and cancelled jobs). Counted once per final transition, after its commit.
- video_saas_job_duration_seconds{aspect, scenes}: submit to delivery of completed jobs; scenes is a bucket.
- video_saas_step_duration_seconds{kind, provider}: claim to success of each step.
- video_saas_provider_requests_total{provider, operation, outcome}: every HTTP exchange with Veo or HeyGen
  (services/http.py), outcome success, rate_limited, retryable, permanent or ambiguous.
- video_saas_http_request_duration_seconds{route, status}: the API's requests, by URL pattern (never the raw path;
  unmatched paths are one value) and status class (2xx, 3xx, 4xx, 5xx).
- video_saas_credits_consumed_total{plan}, video_saas_provider_cost_usd_total{plan}: captured credits and
  provider cost of finished jobs (billing's settlement); no per-user label.
- video_saas_queue_due_steps{queue}, video_saas_queue_oldest_due_seconds{queue},
  video_saas_webhook_deliveries_due, video_saas_webhook_oldest_due_seconds: read from the database at scrape time
  (metrics_db.py), not stored.

Processes. With PROMETHEUS_MULTIPROC_DIR set, every process writes its values to files there (prometheus_client's
multiprocess mode) named by a process identifier that includes the host name, so containers sharing one volume
(whose pids collide) never share a file, and a scrape of any process on the host sums them all. Without it, each
process exports only its own values (tests, a single dev process).
"""

from __future__ import annotations

import functools
import os
import re
import socket
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, values
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format every Prometheus server reads (what generate_latest writes by default).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A host name as it may stand in a file name that prometheus_client splits on "_".
HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def multiproc_dir() -> str:
    return os.environ.get(MULTIPROC_ENV, "")


def process_identifier(pid: int | None = None) -> str:
    """This process's name in the multiprocess files: unique across containers sharing the directory."""
    return f"{HOST}-{os.getpid() if pid is None else pid}"


disable_created_metrics()  # no *_created series: they double the output and multiprocess mode has none
# Chosen before the first family is made: every value then lives in this process's file.
if multiproc_dir():
    os.makedirs(multiproc_dir(), exist_ok=True)  # e.g. a folder on a pod's /tmp emptyDir
    values.ValueClass = values.MultiProcessValue(process_identifier)

FAMILIES = CollectorRegistry(auto_describe=True)  # this process's own families (single-process mode)

JOBS = Counter("video_saas_jobs", "Jobs that reached a final state.", ["status", "failure_stage"],
               registry=FAMILIES)
JOB_DURATION = Histogram(
    "video_saas_job_duration_seconds", "Seconds from submit to delivery of completed jobs.", ["aspect", "scenes"],
    buckets=(30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600), registry=FAMILIES)
STEP_DURATION = Histogram(
    "video_saas_step_duration_seconds", "Seconds from claim to success of a pipeline step.", ["kind", "provider"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600), registry=FAMILIES)
PROVIDER_REQUESTS = Counter("video_saas_provider_requests", "HTTP exchanges with a provider, by outcome.",
                            ["provider", "operation", "outcome"], registry=FAMILIES)
HTTP_DURATION = Histogram(
    "video_saas_http_request_duration_seconds", "Seconds to answer an API request.", ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=FAMILIES)
CREDITS = Counter("video_saas_credits_consumed", "Credits captured for delivered videos.", ["plan"],
                  registry=FAMILIES)
PROVIDER_COST = Counter("video_saas_provider_cost_usd", "Provider cost of finished jobs, in US dollars.", ["plan"],
                        registry=FAMILIES)

# --- Known label values -------------------------------------------------------------------------------------------

NONE = "none"
OTHER = "other"
UNMATCHED_ROUTE = "unmatched"
METRICS_ROUTE = "metrics"
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
ASPECTS = ("9:16", "16:9")
SCENE_BUCKETS = ((1, "1"), (3, "2-3"), (5, "4-5"), (10, "6-10"))  # (at most, label); more: "11+"
MANY_SCENES = "11+"
OUTCOMES = ("success", "rate_limited", "retryable", "permanent", "ambiguous")
# Every operation each provider client sends (services/veo_service.py, services/heygen_service.py).
OPERATIONS = {
    "veo": ("generate", "extend", "poll"),
    "heygen": ("render", "poll", "poll_batch", "upload", "render_v2", "poll_v2", "avatars", "voices"),
}


def scenes_bucket(scenes: int) -> str:
    for most, label in SCENE_BUCKETS:
        if scenes <= most:
            return label
    return MANY_SCENES


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


def export_known_series(*, failure_stages, step_kinds, plans) -> None:
    """Create every known series at zero, so dashboards and alerts find them from start-up. Called once per process
    when Django is ready (video_generation.apps), with the label values that live in the apps."""
    for status in ("completed", "cancelled"):
        JOBS.labels(status, NONE)
    for stage in (*failure_stages, OTHER):
        JOBS.labels("failed", stage)
    for aspect in ASPECTS:
        for _, scenes in (*SCENE_BUCKETS, (None, MANY_SCENES)):
            JOB_DURATION.labels(aspect, scenes)
    for kind, provider in step_kinds:
        STEP_DURATION.labels(kind, provider)
    for provider, operations in OPERATIONS.items():
        for operation in operations:
            for outcome in OUTCOMES:
                PROVIDER_REQUESTS.labels(provider, operation, outcome)
    for plan in plans:
        CREDITS.labels(plan)
        PROVIDER_COST.labels(plan)


def export_route_series(routes) -> None:
    """The API's routes at zero (by the request middleware, when a web process loads it)."""
    for route in (*routes, METRICS_ROUTE, UNMATCHED_ROUTE):
        for status in STATUS_CLASSES:
            HTTP_DURATION.labels(route, status)


# --- Recording (label children cached: the hot path does one dict look-up) -----------------------------------------

@functools.cache
def _child(family, *labels: str):
    return family.labels(*labels)


def count_job(status: str, failure_stage: str = NONE) -> None:
    _child(JOBS, status, failure_stage).inc()


def observe_job_duration(aspect: str, scenes: int, seconds: float) -> None:
    _child(JOB_DURATION, aspect, scenes_bucket(scenes)).observe(seconds)


def observe_step(kind: str, provider: str, seconds: float) -> None:
    _child(STEP_DURATION, kind, provider).observe(seconds)


def count_provider_request(provider: str, operation: str, outcome: str) -> None:
    _child(PROVIDER_REQUESTS, provider, operation, outcome).inc()


def observe_http(route: str, status_code: int, seconds: float) -> None:
    _child(HTTP_DURATION, route, status_class(status_code)).observe(seconds)


def count_credits(plan: str, credits: int) -> None:
    _child(CREDITS, plan).inc(credits)


def count_provider_cost(plan: str, usd: float) -> None:
    _child(PROVIDER_COST, plan).inc(usd)


# --- Export ---------------------------------------------------------------------------------------------------------

class _OwnFamilies:
    """This process's families, as a collector another registry can hold."""

    def collect(self):
        return FAMILIES.collect()


def registry(*extra_collectors) -> CollectorRegistry:
    """What a scrape exports: every process's values on this host (multiprocess mode) or this process's own, plus
    `extra_collectors` (read at scrape time)."""
    exported = CollectorRegistry(auto_describe=False)
    if multiproc_dir():
        MultiProcessCollector(exported, path=multiproc_dir())
    else:
        exported.register(_OwnFamilies())
    for collector in extra_collectors:
        exported.register(collector)
    return exported


def exposition(*extra_collectors) -> tuple[bytes, str]:
    """The Prometheus text and its content type."""
    return generate_latest(registry(*extra_collectors)), CONTENT_TYPE


# --- Process lifecycle (multiprocess mode) --------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_files(path: str | None = None) -> list[str]:
    """Delete this host's files of processes that are no longer running (a restart's leftovers), never another
    host's (containers sharing the directory) nor a live process's. Run when a process tree starts (the gunicorn
    master, the Celery worker's main process). Returns the names removed."""
    path = path if path is not None else multiproc_dir()
    if not path:
        return []
    pattern = re.compile(rf"_{re.escape(HOST)}-(\d+)\.db$")
    removed = []
    for file in Path(path).glob("*.db"):
        match = pattern.search(file.name)
        if match and not pid_alive(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed.append(file.name)
    return removed


def process_exited(pid: int) -> None:
    """A child process of ours exited (a gunicorn worker, a Celery pool process): drop its live gauges. Its counters
    and histograms stay, so the host's totals never go down."""
    if multiproc_dir():
        mark_process_dead(process_identifier(pid), multiproc_dir())
