"""The API as it runs in production, in real gunicorn processes: limits that must hold across worker processes, and
a submit that must not hang on a broker that does not answer."""

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from api_keys.services import issue_key
from devstack.stack import REPO, free_port, wait_for_http
from video_generation.models import JobStatus, VideoJob

# Server processes share the test database, so it must be a real server (PostgreSQL), as in CI.
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

BRIEF = {
    "product_title": "Premium Wireless Headphones",
    "scenes": [{"visual_description": "Headphones on a desk", "camera_movement": "slow orbit", "mood": "calm"}],
    "image_url": "https://cdn.example.com/headphones.jpg",
    "avatar_id": "josh_lite3_20230714", "voice_id": "1bd001e7e50f421d891986aad5158bc8",
    "avatar_script": "Meet the headphones.",
}


def database_url() -> str:
    """The database the test runs on, as a URL the server processes can use."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@contextmanager
def api_server(tmp_path: Path, *, workers: int, **env: str):
    url = f"http://127.0.0.1:{free_port()}"
    process_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "video_saas.settings", "DEBUG": "false",
                   "SECRET_KEY": secrets.token_urlsafe(64), "SECURE_SSL_REDIRECT": "false",
                   "DATABASE_URL": database_url(), "LOCAL_STORAGE_DIR": str(tmp_path / "media"), **env}
    if "REDIS_URL" not in env:
        process_env.pop("REDIS_URL", None)
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "video_saas.wsgi:application", "--bind",
                                url.removeprefix("http://"), "--workers", str(workers), "--timeout", "30"],
                               cwd=REPO, env=process_env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_for_http(f"{url}/api/video/list_jobs/", process=process, timeout=60)  # 401: up (health needs a broker)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def token_for(user) -> str:
    return issue_key(user=user, name="integration").secret


def test_the_rate_limit_holds_across_four_worker_processes_and_simultaneous_requests(tmp_path, user):
    headers = {"Authorization": f"Token {token_for(user)}"}
    with api_server(tmp_path, workers=4, REDIS_URL=os.environ["REDIS_URL"], GENERATE_RATE_LIMIT="5/hour",
                    CACHE_KEY_PREFIX=f"test-{secrets.token_hex(4)}", CELERY_BROKER_URL="memory://") as url:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            def submit(_):
                return client.post("/api/video/generate/", json=BRIEF)

            with ThreadPoolExecutor(max_workers=20) as pool:
                answers = list(pool.map(submit, range(20)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 5 + [429] * 15
    refused = [answer for answer in answers if answer.status_code == 429]
    assert all(int(answer.headers["Retry-After"]) > 0 for answer in refused)
    assert all(answer.json()["error"] == "Rate limit exceeded" for answer in refused)
    assert VideoJob.objects.filter(user=user).count() == 5


@contextmanager
def silent_broker():
    """A TCP server that accepts connections and never says a word, like a wedged Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_a_broker_that_never_answers_costs_a_submit_about_a_second_and_the_job_is_kept(tmp_path, user):
    headers = {"Authorization": f"Token {token_for(user)}"}
    with silent_broker() as broker_url, api_server(tmp_path, workers=1, CELERY_BROKER_URL=broker_url) as url:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            timings, answers = [], []
            for _ in range(3):
                started = time.monotonic()
                answers.append(client.post("/api/video/generate/", json=BRIEF))
                timings.append(time.monotonic() - started)

    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert max(timings) < 1.8, timings  # the publish gives up after 1 s; before, every submit took 5 s
    jobs = VideoJob.objects.filter(user=user)
    assert jobs.count() == 3 and all(job.status == JobStatus.PENDING for job in jobs)  # the sweeper starts them
