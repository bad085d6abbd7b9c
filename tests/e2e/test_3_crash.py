"""Crash safety through real processes: kill -9 the worker (its whole process group: the Celery main process, its
pool children and the embedded beat) at random moments while 20+ jobs run, restart it each time, and check that
every job completes and every paid provider operation was bought exactly once."""

from __future__ import annotations

import random
import threading
import time

import pytest

from .conftest import assert_unique_paid_calls

pytestmark = pytest.mark.e2e

JOBS = 20
SHORT_SCRIPT = "Premium sound, all day comfort."
KILLS = 5


class Killer(threading.Thread):
    """kill -9 the worker every 3-8 s (until `kills` is reached or stopped), restarting it right away."""

    def __init__(self, e2e, kills: int, seed: int):
        super().__init__(daemon=True, name="worker-killer")
        self.e2e, self.kills, self.rng = e2e, kills, random.Random(seed)
        self.stop_event = threading.Event()
        self.done: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        stack = self.e2e.stack
        try:
            while len(self.done) < self.kills and not self.stop_event.wait(self.rng.uniform(3.0, 8.0)):
                stack.kill("worker")  # SIGKILL to the process group, then wait for it
                self.done.append(time.monotonic())
                stack.start_worker("worker", concurrency=3)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


@pytest.mark.timeout(600)
def test_kill_9_the_worker_at_random_moments(e2e):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    start = len(e2e.ledger())
    scenes = {}
    killer = Killer(e2e, KILLS, seed)
    killer.start()
    try:
        for i in range(JOBS):
            n = rng.choice((1, 2))
            brief = e2e.brief(scenes=n, script=SHORT_SCRIPT)
            brief["product_title"] = f"Premium Wireless Headphones #{i}"
            for scene in brief["scenes"]:
                scene["duration"] = 4
            scenes[e2e.submit(brief, interval=1.0)] = n
            time.sleep(rng.uniform(0.0, 0.6))
        finals = e2e.wait_all(scenes, timeout=420)
    finally:
        killer.stop_event.set()
        killer.join(60)
        if "worker" not in e2e.stack.processes or e2e.stack.processes["worker"].poll() is not None:
            e2e.stack.start_worker("worker", concurrency=3)  # leave the session's stack usable
    assert killer.error is None, killer.error
    assert len(killer.done) >= 3, f"only {len(killer.done)} kills happened (seed {seed})"

    bad = {j: (f["status"], f["error_message"]) for j, f in finals.items() if f["status"] != "completed"}
    assert not bad, f"jobs that did not complete (seed {seed}): {bad}"

    time.sleep(3)  # anything still in flight would show up now
    entries = e2e.ledger()[start:]
    assert_unique_paid_calls(entries)
    # Veo: one rendered operation per scene for every job, none for any step twice, and nothing else paid.
    for job_id, n in scenes.items():
        outputs = e2e.veo_outputs_by_step(job_id)
        assert sum(outputs.values()) == n and set(outputs.values()) == {1}, (job_id, outputs, seed)
    veo = [e for e in entries if e["kind"].startswith("veo.")]
    assert len(veo) == sum(scenes.values()), (len(veo), sum(scenes.values()), seed)
    # HeyGen: one render per job.
    owners = sorted(e2e.heygen_job_of(e) for e in entries if e["kind"].startswith("heygen."))
    assert owners == sorted(scenes), seed
