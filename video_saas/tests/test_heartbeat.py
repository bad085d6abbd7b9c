"""The worker's heartbeat file and the liveness check that reads it (video_saas/heartbeat.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from celery.utils.timer2 import Timer
from kombu.utils.imports import symbol_by_name

from video_saas import heartbeat
from video_saas.celery import app

REPO = Path(__file__).resolve().parents[2]


class FakeWorker:
    def __init__(self):
        self.timer = Timer()


def run_check(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != heartbeat.FILE_ENV}
    return subprocess.run([sys.executable, "-m", "video_saas.heartbeat", "check", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_worker_runs_the_heartbeat_step():
    assert heartbeat.HeartbeatStep in {symbol_by_name(step) for step in app.steps["worker"]}


def test_a_started_worker_touches_the_file_again_and_again_until_it_stops(tmp_path, settings):
    path = tmp_path / "beat"
    settings.WORKER_HEARTBEAT_FILE = str(path)
    settings.WORKER_HEARTBEAT_INTERVAL_SECONDS = 0.05
    worker = FakeWorker()
    step = heartbeat.HeartbeatStep(worker)
    try:
        step.start(worker)
        assert path.exists()
        os.utime(path, (0, 0))
        assert wait_for(lambda: path.stat().st_mtime > 0), "the timer never touched the file again"
        step.stop(worker)
        time.sleep(0.1)  # a touch already running when stop was called may still land
        os.utime(path, (0, 0))
        time.sleep(0.3)
        assert path.stat().st_mtime == 0, "the file was still touched after the worker stopped"
    finally:
        step.stop(worker)
        worker.timer.stop()


def test_without_a_configured_file_the_step_does_nothing(tmp_path, settings):
    settings.WORKER_HEARTBEAT_FILE = ""
    worker = FakeWorker()
    step = heartbeat.HeartbeatStep(worker)
    try:
        step.start(worker)
        assert step.timer_entry is None
        assert list(tmp_path.iterdir()) == []
    finally:
        worker.timer.stop()


def test_a_fresh_file_passes_the_check(tmp_path):
    path = tmp_path / "beat"
    path.touch()
    result = run_check("--max-age", "60", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing but the verdict: a probe's output lands in the pod's events


def test_a_stale_file_fails_the_check(tmp_path):
    path = tmp_path / "beat"
    path.touch()
    old = time.time() - 120
    os.utime(path, (old, old))
    result = run_check("--max-age", "60", "--file", str(path))
    assert result.returncode == 1
    assert "old" in result.stderr


def test_a_missing_file_fails_the_check(tmp_path):
    result = run_check("--max-age", "60", "--file", str(tmp_path / "never-written"))
    assert result.returncode == 1
    assert "missing" in result.stderr


def test_no_configured_file_fails_the_check():
    assert run_check("--max-age", "60").returncode == 1


def test_the_check_reads_the_file_from_the_environment(tmp_path):
    path = tmp_path / "beat"
    path.touch()
    env = {**os.environ, heartbeat.FILE_ENV: str(path)}
    result = subprocess.run([sys.executable, "-m", "video_saas.heartbeat", "check", "--max-age", "60"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_real_worker_is_healthy_while_it_runs_and_unhealthy_once_frozen(tmp_path):
    """A Celery worker process touches the file; frozen (SIGSTOP, as a stuck event loop), it goes stale."""
    import signal

    path = tmp_path / "beat"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "video_saas.settings", "DEBUG": "true",
           "CELERY_BROKER_URL": "memory://", heartbeat.FILE_ENV: str(path),
           "WORKER_HEARTBEAT_INTERVAL_SECONDS": "0.5"}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "video_saas", "worker", "-P", "solo",
                               "--loglevel=WARNING"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(path.exists, seconds=60), "the worker never wrote its heartbeat"
        assert run_check("--max-age", "3", "--file", str(path)).returncode == 0
        worker.send_signal(signal.SIGSTOP)
        time.sleep(4)
        assert run_check("--max-age", "3", "--file", str(path)).returncode == 1
    finally:
        worker.send_signal(signal.SIGCONT)
        worker.terminate()
        worker.wait(timeout=30)
