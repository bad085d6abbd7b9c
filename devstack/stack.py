"""A whole local deployment in child processes: the sandbox providers, a Celery worker (with the sweeper's beat),
and the API server. Used by `make demo`, the end-to-end tests and the benchmark; product code never imports it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, process.args[:4]))} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    sandbox_url: str
    api_url: str = ""
    planned_api_url: str = ""  # the "api" server's address, known before it starts (Stripe's webhook URL)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    @property
    def mail_dir(self) -> Path:
        """Where the stack's processes write the e-mails they send (Django's file backend): sign-up links, resets."""
        return Path(self.env["EMAIL_FILE_PATH"])

    def spawn(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        handle = self.log(name).open("ab")
        process = subprocess.Popen(argv, cwd=REPO, env={**self.env, **env}, stdout=handle,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes[name] = process
        return process

    def manage(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True,
                                capture_output=True, text=True, input=input)
        return result.stdout

    def start_worker(self, name: str = "worker", *, concurrency: int = 2, beat: bool = True,
                     pool: str = "prefork", queues: tuple[str, ...] = (), nice: int = 0) -> subprocess.Popen:
        """A Celery worker consuming `queues` (all of them when empty), at CPU priority `nice`."""
        argv = [sys.executable, "-m", "celery", "-A", "video_saas", "worker", "--loglevel=INFO",
                f"--concurrency={concurrency}", f"--pool={pool}", "-n", f"{name}@%h", "--without-gossip",
                "--without-mingle"]
        if queues:
            argv += ["-Q", ",".join(queues)]
        if beat:
            argv += ["-B", "-s", str(self.workdir / f"beat-{name}")]
        if nice:
            argv = ["nice", "-n", str(nice), *argv]
        return self.spawn(name, argv)

    def start_api(self, name: str = "api", *, workers: int = 2, **env: str) -> str:
        """An API server with `env` on top of the stack's; the one named "api" is the stack's `api_url` (at
        `planned_api_url`, where the sandbox sends Stripe's events)."""
        url = self.planned_api_url if name == "api" and self.planned_api_url else f"http://127.0.0.1:{free_port()}"
        process = self.spawn(name, [sys.executable, "-m", "gunicorn", "video_saas.wsgi:application",
                                    "--bind", url.removeprefix("http://"), "--workers", str(workers),
                                    "--threads", "4", "--timeout", "60"], PUBLIC_BASE_URL=url, **env)
        wait_for_http(f"{url}/api/video/health/", process=process)
        if name == "api":
            self.api_url = url
        return url

    def kill(self, name: str, sig: int = signal.SIGKILL, *, grace: float = 20.0) -> None:
        """Signal the process group; whatever is still alive after `grace` seconds is killed outright."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        for signal_to_send in (sig, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal_to_send)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
                return

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def create_token(self, username: str = "demo", *, plan: str | None = None) -> str:
        """A user (on the free plan, or on `plan`) and their API token."""
        token = self.manage("create_api_token", username).strip().splitlines()[-1]
        if plan:
            self.manage("set_plan", username, plan)
        return token

    def create_web_user(self, username: str, password: str, *, email: str | None = None,
                        plan: str | None = None) -> None:
        """A user who can sign in to the web app at once with `password` (verified e-mail; the free plan's credits,
        or `plan`); an existing one (e.g. made by create_token) gets the password. The password goes through
        standard input, never the command line."""
        self.manage("create_web_user", username, "--email", email or f"{username}@example.com",
                    input=password + "\n")
        if plan:
            self.manage("set_plan", username, plan)


def pipeline_env(*, veo_seconds: float, heygen_seconds: float) -> dict[str, str]:
    """Pipeline timing matched to the sandbox's latencies, so polls land near the expected finish."""
    return {
        "VEO_EXPECTED_SECONDS": str(veo_seconds),
        "HEYGEN_EXPECTED_SECONDS": str(heygen_seconds),
        "POLL_MIN_SECONDS": str(min(1.0, max(0.2, veo_seconds / 10))),
        "POLL_INTERVAL_SECONDS": str(max(1.0, veo_seconds / 5)),
        "SWEEP_INTERVAL_SECONDS": "2",
        "REDRIVE_AFTER_SECONDS": "15",
        "STEP_LEASE_SECONDS": "15",  # renewed while a step runs; a killed worker's step is retaken quickly
        # Longer than the slowest sandbox render on a busy machine: a lost answer is adopted when its output
        # appears, and only re-sent once the whole window has passed without it.
        "AMBIGUOUS_RECONCILE_SECONDS": str(max(60.0, veo_seconds * 20)),
        "VEO_TIMEOUT_SECONDS": "5",
        "HEYGEN_TIMEOUT_SECONDS": "5",
    }


@contextlib.contextmanager
def local_stack(workdir: Path, *, veo_seconds: float = 2.0, heygen_seconds: float = 3.0,
                heygen_api_version: str = "v3", database_url: str | None = None,
                redis_url: str | None = None, sandbox_args: tuple[str, ...] = (),
                extra_env: dict[str, str] | None = None, api_port: int = 0) -> Iterator[Stack]:
    """Start the sandbox and wire the environment; the caller starts workers and the API as it needs. The sandbox's
    env file configures every provider, Stripe included (its key, webhook secret and the seeded price ids), and
    its Stripe events go to the "api" server's webhook endpoint (on `api_port`, or a free port when 0). The
    processes' e-mails are written to files under the workdir (Stack.mail_dir), never sent."""
    from sandbox import SandboxProcess

    workdir.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{api_port or free_port()}"
    webhook = ["--stripe-webhook-url", f"{api_url}/api/billing/stripe-webhook/"]
    sandbox = SandboxProcess(data_dir=workdir / "sandbox", veo_latency=veo_seconds, heygen_latency=heygen_seconds,
                             extra_args=webhook + list(sandbox_args))
    sandbox.start()
    try:
        env = {**os.environ, **sandbox.env, **pipeline_env(veo_seconds=veo_seconds, heygen_seconds=heygen_seconds)}
        env.update({
            "DJANGO_SETTINGS_MODULE": "video_saas.settings",
            # One key for every process of a deployment, the caller's when it has one (a test process that wrote
            # rows encrypted under it, video_saas/encryption.py); a fresh one otherwise.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64),
            "DEBUG": "false",
            # Production settings over plain HTTP on loopback: no HTTPS redirect, HSTS or secure-only cookies.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "GENERATE_RATE_LIMIT": "100000/hour",  # the end-to-end tests and benchmarks start hundreds of jobs
            # The sandbox enforces no provider quota unless asked (sandbox_args "--veo-requests-per-minute N"): a
            # stack that wants admission control to match one sets these in extra_env.
            "VEO_REQUESTS_PER_MINUTE": "0",
            "HEYGEN_MAX_RENDERS_IN_FLIGHT": "0",
            "ALLOW_PRIVATE_URLS": "true",  # the product image is served by the sandbox on loopback
            "HEYGEN_API_VERSION": heygen_api_version,
            "LOCAL_STORAGE_DIR": str(workdir / "media"),
            # Every process of the stack writes its metrics here; the API's /metrics sums them (README "Metrics").
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'db.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(workdir / "mail"),
        })
        if redis_url:
            env["REDIS_URL"] = env["CELERY_BROKER_URL"] = redis_url
        else:
            env.pop("REDIS_URL", None)
            env["CELERY_BROKER_URL"] = "filesystem://"
            env["CELERY_FILESYSTEM_QUEUE_DIR"] = str(workdir / "broker")
        env.update(extra_env or {})
        stack = Stack(workdir=workdir, env=env, sandbox_url=sandbox.env["SANDBOX_URL"], planned_api_url=api_url)
        stack.manage("migrate", "--noinput")
        yield stack
    finally:
        with contextlib.suppress(NameError):
            stack.stop()
        sandbox.stop()
