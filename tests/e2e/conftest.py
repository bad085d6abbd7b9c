"""End-to-end fixtures: one real deployment (sandbox providers + storage emulator, a Celery worker with beat, the
API server) per test session, driven only over HTTP.

Databases: with DATABASE_URL (PostgreSQL) set, the session creates its own database ``e2e_<random>`` on that
server and drops it at the end (pytest-django's test database is never used). With REDIS_URL set, the session
uses the next Redis DB number and flushes it. Otherwise: a SQLite file and kombu's filesystem broker in a tmp dir.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack.briefs import headphones_brief
from devstack.stack import Stack, local_stack
from tests.stacks import scratch_database, scratch_redis

VEO_SECONDS = 1.5
HEYGEN_SECONDS = 2.5
HANG_SECONDS = 8  # longer than the product's VEO/HEYGEN_TIMEOUT_SECONDS (5), so a hung submit times out
WORKER_CONCURRENCY = 3
TERMINAL = {"completed", "failed", "cancelled"}
STATUS_ORDER = ["pending", "processing_veo", "processing_heygen", "composing", "completed"]

pytestmark = pytest.mark.e2e


# ------------------------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def e2e_database_url():
    """A fresh PostgreSQL database for the processes (None = SQLite in the stack's workdir)."""
    with scratch_database(os.environ.get("DATABASE_URL", ""), prefix="e2e") as url:
        yield url


@pytest.fixture(scope="session")
def e2e_redis_url():
    """REDIS_URL with the DB number moved up by one (flushed), or None for the filesystem broker."""
    with scratch_redis(os.environ.get("REDIS_URL", "")) as url:
        yield url


# ------------------------------------------------------------------------------------------- the harness


@dataclass
class Observed:
    """Everything one job showed while it was watched."""

    job_id: str
    statuses: list[str] = field(default_factory=list)  # every status seen, in order (with repeats)
    progress: list[int] = field(default_factory=list)
    final: dict | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def distinct_statuses(self) -> list[str]:
        out: list[str] = []
        for status in self.statuses:
            if not out or out[-1] != status:
                out.append(status)
        return out


class E2E:
    """Talks to one running stack over HTTP: submit briefs, watch jobs, read the sandbox ledger and storage."""

    def __init__(self, stack: Stack, token: str, api_urls: dict[str, str]):
        self.stack = stack
        self.token = token
        self.api_urls = api_urls  # {"v3": url, "v2": url}
        self.http = httpx.Client(timeout=30.0, trust_env=False)
        self._watchers: dict[str, threading.Thread] = {}
        self.observed: dict[str, Observed] = {}
        self.image_url = f"{stack.sandbox_url}/assets/headphones.png"
        self._heygen_owners: dict[str, str] = {}  # ledger entry id -> job id; never changes once known

    # -- API -------------------------------------------------------------------------------------------
    def _headers(self) -> dict:
        return {"Authorization": f"Token {self.token}"}

    def brief(self, **kwargs) -> dict:
        return headphones_brief(self.image_url, **kwargs)

    def submit(self, brief: dict, *, mode: str = "v3", interval: float = 0.3) -> str:
        """POST the brief; start a watcher thread that records every status/progress it sees."""
        response = self.http.post(f"{self.api_urls[mode]}/api/video/generate/", json=brief, headers=self._headers())
        assert response.status_code in (200, 201, 202), response.text
        body = response.json()
        job_id = str(body.get("job_id") or body.get("id"))
        obs = self.observed[job_id] = Observed(job_id)
        if "status" in body:
            obs.statuses.append(body["status"])
        thread = threading.Thread(target=self._watch, args=(obs, interval), daemon=True, name=f"watch-{job_id}")
        self._watchers[job_id] = thread
        thread.start()
        return job_id

    def status(self, job_id: str) -> dict:
        response = self.http.get(f"{self.api_urls['v3']}/api/video/status/{job_id}/", headers=self._headers())
        assert response.status_code == 200, response.text
        return response.json()

    def _watch(self, obs: Observed, interval: float, ceiling: float = 900.0) -> None:
        deadline = time.monotonic() + ceiling
        while time.monotonic() < deadline:
            try:
                job = self.status(obs.job_id)
            except Exception as exc:  # the API is up for the whole session; note and keep going
                obs.error = repr(exc)
                time.sleep(interval)
                continue
            obs.statuses.append(job["status"])
            obs.progress.append(job["progress"])
            if job["status"] in TERMINAL:
                obs.final, obs.finished = job, time.monotonic()
                return
            time.sleep(interval)

    def wait(self, job_id: str, timeout: float = 300.0) -> dict:
        """The job's final body; the observations stay in ``self.observed[job_id]``."""
        self._watchers[job_id].join(timeout)
        obs = self.observed[job_id]
        if obs.final is None:
            last = self.status(job_id)
            pytest.fail(f"job {job_id} did not finish within {timeout:.0f} s: status {last['status']} "
                        f"progress {last['progress']} steps {[(s['key'], s['state']) for s in last['steps']]}")
        return obs.final

    def wait_all(self, job_ids, timeout: float) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        return {j: self.wait(j, max(1.0, deadline - time.monotonic())) for j in job_ids}

    def download(self, job: dict, dest: Path) -> Path:
        assert job.get("final_video_url"), job
        with self.http.stream("GET", job["final_video_url"], follow_redirects=True) as response:
            assert response.status_code == 200, response.status_code
            with dest.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    handle.write(chunk)
        return dest

    # -- sandbox ---------------------------------------------------------------------------------------
    def ledger(self) -> list[dict]:
        response = self.http.get(f"{self.stack.sandbox_url}/_sandbox/ledger")
        assert response.status_code == 200
        return response.json()["entries"]

    def heygen_video(self, video_id: str, mode: str = "v3") -> dict:
        base, key = self.stack.env["HEYGEN_API_BASE_URL"], self.stack.env["HEYGEN_API_KEY"]
        if mode == "v3":
            r = self.http.get(f"{base}/v3/videos/{video_id}", headers={"X-Api-Key": key})
        else:
            r = self.http.get(f"{base}/v1/video_status.get", params={"video_id": video_id},
                              headers={"X-Api-Key": key})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def heygen_job_of(self, entry: dict) -> str:
        """Which of our jobs a HeyGen ledger entry belongs to: the product sends callback_id = the job id (and, in
        v3, the title 'video_saas <job id>')."""
        if entry["id"] not in self._heygen_owners:
            mode = "v3" if entry["kind"] == "heygen.v3.create" else "v2"
            data = self.heygen_video(entry["id"], mode)
            self._heygen_owners[entry["id"]] = str(
                data.get("callback_id") or (data.get("title") or "").removeprefix("video_saas ")).strip()
        return self._heygen_owners[entry["id"]]

    def heygen_renders(self, job_id: str, entries: list[dict] | None = None) -> list[dict]:
        """The HeyGen ledger entries (paid renders) made for one job, from `entries` or the whole ledger."""
        return [e for e in (self.ledger() if entries is None else entries)
                if e["kind"].startswith("heygen.") and self.heygen_job_of(e) == job_id]

    def storage_objects(self, prefix: str) -> list[str]:
        """Object names in the storage emulator's bucket under `prefix` (Veo writes its outputs there)."""
        host, bucket = self.stack.env["STORAGE_EMULATOR_HOST"].rstrip("/"), self.stack.env["GCS_BUCKET"]
        names, token = [], None
        while True:
            params = {"prefix": prefix}
            if token:
                params["pageToken"] = token
            r = self.http.get(f"{host}/storage/v1/b/{bucket}/o", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            names += [item["name"] for item in body.get("items", [])]
            token = body.get("nextPageToken")
            if not token:
                return names

    def veo_outputs_by_step(self, job_id: str) -> Counter:
        """{step slug: number of distinct Veo operations whose output landed under it} for one job.

        Veo writes each operation's samples to <storageUri><random folder>/sample_N.mp4, and the product's
        storageUri is jobs/<job>/<step>/attempt-<n>/, so one folder = one paid, rendered operation.
        """
        folders = set()
        root = self.stack.env.get("GCS_PREFIX", "video-saas").strip("/")
        for name in self.storage_objects(f"{root}/jobs/{job_id}/veo-" if root else f"jobs/{job_id}/veo-"):
            parts = name.split("/")[1:] if root else name.split("/")
            # [<GCS_PREFIX>/]jobs/<id>/<step>/attempt-<n>/<folder>/sample_0.mp4
            if len(parts) >= 6 and parts[3].startswith("attempt-") and parts[-1].startswith("sample_"):
                folders.add((parts[2], parts[3], parts[4]))
        return Counter(step for step, _, _ in folders)


def assert_forward_only(obs: Observed) -> None:
    """Status never moves backwards through the brief's order; progress never decreases."""
    ranks = [STATUS_ORDER.index(s) for s in obs.statuses if s in STATUS_ORDER]
    assert ranks == sorted(ranks), f"status went backwards: {obs.distinct_statuses()}"
    assert obs.progress == sorted(obs.progress), f"progress went down: {obs.progress}"


def assert_unique_paid_calls(entries: list[dict]) -> None:
    dupes = {k: n for k, n in Counter((e["kind"], e["fingerprint"]) for e in entries).items() if n > 1}
    assert not dupes, f"paid operations made more than once: {dupes}"


# ------------------------------------------------------------------------------------------- the stack


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory, e2e_database_url, e2e_redis_url):
    workdir = tmp_path_factory.mktemp("e2e-stack")
    with local_stack(workdir, veo_seconds=VEO_SECONDS, heygen_seconds=HEYGEN_SECONDS,
                     database_url=e2e_database_url, redis_url=e2e_redis_url,
                     sandbox_args=("--hang-seconds", str(HANG_SECONDS), "--render-workers", "2"),
                     extra_env={"COMPOSE_FFMPEG_THREADS": "2"}) as stack:
        stack.start_worker(concurrency=WORKER_CONCURRENCY)
        stack.start_api(workers=2)
        yield stack


@pytest.fixture(scope="session")
def e2e(e2e_stack):
    """The harness. Jobs made through api_urls['v2'] are created in HeyGen's legacy v2 mode (the API process
    records HEYGEN_API_VERSION on the job; the shared worker follows the job's mode)."""
    stack = e2e_stack
    token = stack.create_token("e2e", plan="enterprise")  # many videos at once; billing has its own tests
    v2_url = stack.start_api("api-v2", workers=1, HEYGEN_API_VERSION="v2")
    harness = E2E(stack, token, {"v3": stack.api_url, "v2": v2_url})
    yield harness
    harness.http.close()
