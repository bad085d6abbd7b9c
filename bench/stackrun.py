"""Running jobs on a devstack.local_stack and reading back what happened, for the v3v2 and concurrency scenarios.

The bench process never imports Django: it submits through the real HTTP API (video_generation.client.VideoApi)
and reads the job and step rows straight from the database (sqlite3 or psycopg), so the numbers come from the
same timestamps the pipeline writes (VideoJob.created_at/completed_at, JobStep.started_at/submitted_at/
finished_at/poll_count).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from video_generation.client import TERMINAL

from .common import has_exited, log

VEO_BASE = 75.0
HEYGEN_BASE = 150.0
PROVIDER_KINDS = ("veo_generate", "veo_extend", "heygen_render")
MEDIA_KINDS = ("join_broll", "compose")  # the steps routed to the media queue


# --- services: our own Postgres database and Redis DB number, or SQLite + the filesystem broker ------------

@contextlib.contextmanager
def services(workdir: Path):
    """Yields (database_url, redis_url, description). Creates and drops its own Postgres database when
    DATABASE_URL is set, uses (and flushes) its own Redis DB number (BENCH_REDIS_DB, default 13) when
    REDIS_URL is set; otherwise SQLite in workdir and kombu's filesystem transport."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    created_db = None
    admin_url = None
    private_redis = None
    desc = {}
    try:
        if database_url.startswith(("postgres://", "postgresql://")):
            import psycopg

            parts = urllib.parse.urlsplit(database_url)
            created_db = f"bench_{secrets.token_hex(4)}"
            admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{created_db}"')
            database_url = urllib.parse.urlunsplit(parts._replace(path=f"/{created_db}"))
            desc["database"] = f"PostgreSQL (own database {created_db}, dropped after)"
        else:
            database_url = f"sqlite:///{workdir / 'db.sqlite3'}"
            desc["database"] = "SQLite (limits concurrency: one writer at a time)"
        if not redis_url and shutil.which("redis-server") and os.environ.get("BENCH_BROKER") != "filesystem":
            # Measure on the broker production uses: a private, throw-away Redis when one is installed.
            from devstack.stack import free_port

            port = free_port()
            private_redis = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL, start_new_session=True)
            redis_url = f"redis://127.0.0.1:{port}/0"
            _wait_redis(redis_url)
            desc["broker"] = "Redis (private redis-server started by the bench)"
        elif redis_url:
            parts = urllib.parse.urlsplit(redis_url)
            redis_url = urllib.parse.urlunsplit(parts._replace(path=f"/{os.environ.get('BENCH_REDIS_DB', '13')}"))
            _flush_redis(redis_url)
            desc["broker"] = f"Redis DB {os.environ.get('BENCH_REDIS_DB', '13')}"
        else:
            redis_url = None
            desc["broker"] = "kombu filesystem transport"
        yield database_url, redis_url, desc
    finally:
        if private_redis is not None:
            private_redis.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                private_redis.wait(10)
            if private_redis.poll() is None:
                private_redis.kill()
                private_redis.wait()
        elif redis_url:
            with contextlib.suppress(Exception):
                _flush_redis(redis_url)
        if created_db:
            import psycopg

            with contextlib.suppress(Exception), psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')


def _wait_redis(url: str, timeout: float = 15.0) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while True:
        try:
            client = redis.Redis.from_url(url)
            client.ping()
            client.close()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# The sandbox renders each distinct request once; identical jobs then cost it no CPU (concurrency scenario).
REUSE_RENDERS: tuple[str, ...] = ("--reuse-renders",)
BENCH_ENV = {"GENERATE_RATE_LIMIT": "100000/hour"}  # one benchmark user submits hundreds of jobs at once


# --- reading rows ------------------------------------------------------------------------------------------

def _epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


class Rows:
    """Read-only access to the jobs and steps tables of the stack's database."""

    JOB_SQL = ("SELECT id, status, created_at, completed_at, error_message, heygen_mode "
               "FROM video_generation_videojob")
    STEP_SQL = ("SELECT job_id, key, kind, provider, state, poll_count, attempts, depends_on, started_at, "
                "submitted_at, finished_at FROM video_generation_jobstep")

    def __init__(self, database_url: str):
        self.url = database_url

    def _query(self, sql: str) -> list[tuple]:
        if self.url.startswith("sqlite:///"):
            path = self.url[len("sqlite:///"):]
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    @staticmethod
    def _id(value) -> str:
        return str(value).replace("-", "")

    def statuses(self) -> dict[str, str]:
        rows = self._query("SELECT id, status FROM video_generation_videojob")
        return {self._id(jid): status for jid, status in rows}

    def jobs(self) -> dict[str, dict]:
        import json

        jobs = {}
        for jid, status, created, completed, error, mode in self._query(self.JOB_SQL):
            jobs[self._id(jid)] = {"id": self._id(jid), "status": status, "created": _epoch(created),
                                   "completed": _epoch(completed), "error": error, "mode": mode, "steps": []}
        for (jid, key, kind, provider, state, polls, attempts, deps, started, submitted,
             finished) in self._query(self.STEP_SQL):
            job = jobs.get(self._id(jid))
            if job is None:
                continue
            if isinstance(deps, str):
                deps = json.loads(deps)
            job["steps"].append({"key": key, "kind": kind, "provider": provider, "state": state,
                                 "poll_count": polls, "attempts": attempts, "depends_on": deps or [],
                                 "started": _epoch(started), "submitted": _epoch(submitted),
                                 "finished": _epoch(finished)})
        return jobs


# --- per-job analysis --------------------------------------------------------------------------------------

def step_seconds(step: dict) -> float | None:
    if step["started"] is None or step["finished"] is None:
        return None
    return step["finished"] - step["started"]


def critical_path(job: dict, *, veo_seconds: float, heygen_seconds: float) -> float | None:
    """Longest path through the job's step DAG: provider renders at their configured latency, every other
    step (image fetch, B-roll join, v2 upload, compose) at the time it actually took in this job."""
    steps = {s["key"]: s for s in job["steps"]}
    memo: dict[str, float] = {}

    def length(key: str) -> float:
        if key in memo:
            return memo[key]
        s = steps[key]
        if s["kind"] in ("veo_generate", "veo_extend"):
            own = veo_seconds
        elif s["kind"] == "heygen_render":
            own = heygen_seconds
        else:
            own = step_seconds(s)
            if own is None:
                raise ValueError(f"step {key} has no timing")
        memo[key] = own + max((length(d) for d in s["depends_on"]), default=0.0)
        return memo[key]

    try:
        return max(length(k) for k in steps) if steps else None
    except ValueError:
        return None


def media_slot_waits(jobs: list[dict], slots: int, *, per_task_extra: float = 0.0) -> dict[tuple[str, str], float]:
    """How long each media step (join, compose) of the batch would have waited for a free media slot under an
    ideal dispatcher: `slots` slots, steps taken first come first served from the moment their last input
    finished, each holding its slot for the time the step took plus `per_task_extra` (the media worker's own
    per-task time outside the step: claiming it, then completing the job). That wait is capacity (CPUs), not
    pipeline overhead."""
    ready_steps = []
    for job in jobs:
        finished = {s["key"]: s["finished"] for s in job["steps"]}
        for s in job["steps"]:
            inputs = [finished.get(d) for d in s["depends_on"]]
            if s["kind"] in MEDIA_KINDS and step_seconds(s) is not None and None not in inputs:
                ready_steps.append((max(inputs, default=job["created"]), step_seconds(s), job["id"], s["key"]))
    free_at = [float("-inf")] * max(1, slots)
    waits = {}
    for ready, duration, job_id, key in sorted(ready_steps):
        start = max(ready, heapq.heappop(free_at))
        waits[(job_id, key)] = start - ready
        heapq.heappush(free_at, start + duration + per_task_extra)
    return waits


TASK_DONE = re.compile(r"Task video_generation\.tasks\.run_step\[[^\]]+\] succeeded in ([0-9.]+)s")


def media_task_seconds(log: Path) -> list[float]:
    """Durations of every run_step task a worker finished, from its Celery log."""
    if not log.exists():
        return []
    return [float(m.group(1)) for m in TASK_DONE.finditer(log.read_text(errors="replace"))]


def per_task_extra_seconds(task_seconds: list[float], all_jobs: dict[str, dict]) -> float:
    """The media worker's mean time per task outside the media steps themselves: (Σ task durations − Σ media step
    durations) / tasks, over every job it served (the warm-up's included)."""
    steps = [step_seconds(s) for j in all_jobs.values() for s in j["steps"] if s["kind"] in MEDIA_KINDS]
    steps = [d for d in steps if d is not None]
    if not task_seconds or not steps:
        return 0.0
    return max(0.0, (sum(task_seconds) - sum(steps)) / len(task_seconds))


def analyse(job: dict, *, veo_seconds: float, heygen_seconds: float,
            slot_waits: dict[tuple[str, str], float] | None = None) -> dict:
    """`overhead` is makespan − the job's own critical path; `pipeline_overhead` is that minus the time its media
    steps had to wait for a free media slot (from media_slot_waits): what the orchestration itself added."""
    makespan = (job["completed"] - job["created"]) if job["completed"] and job["status"] == "completed" else None
    ideal = critical_path(job, veo_seconds=veo_seconds, heygen_seconds=heygen_seconds) if makespan else None
    overhead = (makespan - ideal) if makespan is not None and ideal is not None else None
    slot_wait = sum((slot_waits or {}).get((job["id"], s["key"]), 0.0) for s in job["steps"])
    by_kind = lambda *kinds: [s for s in job["steps"] if s["kind"] in kinds]  # noqa: E731
    observed = lambda s: (s["finished"] - s["submitted"]) if s["finished"] and s["submitted"] else None  # noqa: E731
    return {
        "id": job["id"], "status": job["status"], "error": job["error"], "makespan": makespan, "ideal": ideal,
        "overhead": overhead, "media_slot_wait": slot_wait if overhead is not None else None,
        "pipeline_overhead": (overhead - slot_wait) if overhead is not None else None,
        "polls": [s["poll_count"] for s in by_kind(*PROVIDER_KINDS) if s["state"] == "succeeded"],
        "veo_observed": [observed(s) for s in by_kind("veo_generate", "veo_extend")],
        "heygen_observed": [observed(s) for s in by_kind("heygen_render")],
        "compose": [step_seconds(s) for s in by_kind("compose")],
        "local": {s["key"]: step_seconds(s) for s in job["steps"] if s["provider"] == "local"
                  or s["kind"] == "heygen_upload"},
    }


# --- submitting and waiting --------------------------------------------------------------------------------

def submit_all(api, briefs: list[dict], threads: int = 8, *, spread_seconds: float = 0.0) -> list[str]:
    """Submit every brief through the API: all at once, or the i-th at i × spread_seconds / N."""
    start = time.monotonic()
    gap = spread_seconds / len(briefs) if briefs else 0.0

    def one(indexed):
        index, brief = indexed
        time.sleep(max(0.0, start + index * gap - time.monotonic()))
        return api.submit(brief)["job_id"]

    with ThreadPoolExecutor(max_workers=min(threads, len(briefs))) as pool:
        return [Rows._id(j) for j in pool.map(one, enumerate(briefs))]


def peak_in_flight(jobs: list[dict]) -> int:
    """The most jobs that were created and not yet finished at one moment."""
    events = []
    for job in jobs:
        events.append((job["created"], 1))
        if job["completed"] is not None:
            events.append((job["completed"], -1))
    peak = current = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):  # a finish before a start at the same instant
        current += change
        peak = max(peak, current)
    return peak


def wait_for(rows: Rows, job_ids: list[str], timeout: float, *, every: float = 1.0, label: str = "",
             worker=None) -> bool:
    wanted = set(job_ids)
    deadline = time.monotonic() + timeout
    last_note = 0.0
    while time.monotonic() < deadline:
        statuses = rows.statuses()
        done = sum(1 for j in wanted if statuses.get(j) in TERMINAL)  # only these: not a warm-up job
        if done >= len(wanted):
            return True
        if worker is not None and has_exited(worker):
            log(f"{label}the worker exited on its own ({done}/{len(wanted)} jobs finished); see its log")
            return False
        if time.monotonic() - last_note > 15:
            log(f"{label}{done}/{len(wanted)} jobs finished")
            last_note = time.monotonic()
        time.sleep(every)
    return False


def image_url(stack) -> str:
    return f"{stack.sandbox_url}/assets/headphones.png"


def workdir(name: str) -> Path:
    """A scratch folder outside the repo (logs, SQLite, broker, sandbox files); kept only if the run failed."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"bench-{name}-{time.strftime('%H%M%S')}-"))


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def hard_stop(stack) -> None:
    """Stop every process the stack started at once: SIGTERM to every group, then SIGKILL whatever is left after
    30 s in all (Stack.stop stops them one after another, up to 20 s each)."""
    import signal

    procs = list(stack.processes.values())
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)
    stack.processes.clear()


# --- one job at a time on a fresh stack (v3v2, transitions) ------------------------------------------------------

def time_single_jobs(label: str, *, scale: float, repeats: int, scenes: int, heygen_api_version: str = "v3",
                     brief_overrides: dict | None = None) -> dict:
    """Run the brief's headphones example (`scenes` scenes, with `brief_overrides`) `repeats` times, one job at a
    time through the real API, on a fresh local stack (sandbox at Veo 75 s / HeyGen 150 s × `scale`, one Celery worker
    with beat, API); each job's wall time is VideoJob.completed_at − created_at. Returns the runs (analyse(), plus
    the critical path at unscaled latencies) and their summaries."""
    from devstack.briefs import headphones_brief
    from devstack.stack import local_stack
    from video_generation.client import VideoApi

    from .common import summary

    veo, heygen = VEO_BASE * scale, HEYGEN_BASE * scale
    folder = workdir(label)
    ok = False
    try:
        with services(folder) as (database_url, redis_url, desc), \
                local_stack(folder, veo_seconds=veo, heygen_seconds=heygen, heygen_api_version=heygen_api_version,
                            database_url=database_url, redis_url=redis_url,
                            extra_env=BENCH_ENV) as stack:
          try:
            stack.start_worker("worker", concurrency=4, beat=True)
            api = VideoApi(stack.start_api(), stack.create_token("bench", plan="enterprise"))
            rows = Rows(stack.env["DATABASE_URL"])
            results = []
            for i in range(repeats):
                brief = {**headphones_brief(image_url(stack), scenes=scenes), **(brief_overrides or {})}
                [job_id] = submit_all(api, [brief])
                if not wait_for(rows, [job_id], timeout=max(300.0, 10 * (scenes * veo + heygen)),
                                label=f"{label} run {i + 1}: ", worker=stack.processes.get("worker")):
                    raise RuntimeError(f"{label} job {job_id} did not finish in time; logs in {folder}")
                job = rows.jobs()[job_id]
                a = analyse(job, veo_seconds=veo, heygen_seconds=heygen)
                a["ideal_unscaled"] = critical_path(job, veo_seconds=VEO_BASE, heygen_seconds=HEYGEN_BASE)
                results.append(a)
                local = {k: round(v or 0, 2) for k, v in a["local"].items()}
                log(f"{label} run {i + 1}/{repeats}: {a['status']}, wall {a['makespan'] or 0:.2f} s, "
                    f"ideal {a['ideal'] or 0:.2f} s, local steps {local}")
                if a["status"] != "completed":
                    raise RuntimeError(f"{label} job failed: {a['error']}; logs in {folder}")
          finally:
            hard_stop(stack)
        ok = True
    finally:
        if ok:
            discard(folder)
        else:
            log(f"kept {folder} for its logs")
    walls = [r["makespan"] for r in results]
    projected = [r["makespan"] + r["ideal_unscaled"] - r["ideal"] for r in results]
    return {"veo_seconds": veo, "heygen_seconds": heygen, **desc, "runs": results,
            "wall_seconds": summary(walls), "ideal_seconds": summary(r["ideal"] for r in results),
            "overhead_seconds": summary(r["overhead"] for r in results),
            "projected_unscaled_seconds": summary(projected),
            "local_steps_seconds": {k: summary(r["local"].get(k) for r in results) for k in results[0]["local"]}}
