"""Code trees served by gunicorn for the status and generate scenarios.

A tree is a checkout of the project: the working tree, or a git ref checked out into a temporary detached
`git worktree`. Each gets its own PostgreSQL database (created fresh, dropped after), is migrated, gets a user
`bench` with a token and one job in flight with its steps, and is served by gunicorn started from its own root with
the same interpreter (sys.executable), so only the code differs between trees.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .common import REPO, log, stop_process_group

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
READY_TIMEOUT_SECONDS = 60.0
GUNICORN_WORKERS = 2
# Settings the parent's environment could carry into a tree and make the two trees differ.
INHERITED_TO_DROP = ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")

# The job every client polls: mid-pipeline, a 3-scene chain half rendered and the presenter rendering. Only
# fields that exist in the trees being compared.
JOB_FIELDS = {
    "product_title": "Premium Wireless Headphones",
    "scenes_data": [
        {"visual_description": "Headphones on a marble desk, morning light", "camera_movement": "slow dolly in",
         "mood": "calm", "duration": 8},
        {"visual_description": "Close-up of the ear cushion's stitching", "camera_movement": "orbit",
         "mood": "premium", "duration": 8, "text_overlay": "All-day comfort"},
        {"visual_description": "A commuter wearing them on a train", "camera_movement": "handheld",
         "mood": "energetic", "duration": 8},
    ],
    "avatar_script": "Meet the headphones that disappear on your head and fill the room in your ears. "
                     "Forty hours of battery, active noise cancelling, and cushions you forget you are wearing.",
    "avatar_id": "Daisy-inskirt-20220818",
    "voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
    "image_url": "https://example.com/images/headphones.png",
    "status": "processing_veo",
    "progress": 40,
}
# The plan build_plan makes for 3 scenes of one chain in v3 mode (no join: a single chain).
JOB_STEPS = [  # key, kind, provider, state
    ("image", "fetch_image", "local", "succeeded"),
    ("veo:c0:s0", "veo_generate", "veo", "succeeded"),
    ("veo:c0:s1", "veo_extend", "veo", "submitted"),
    ("veo:c0:s2", "veo_extend", "veo", "pending"),
    ("heygen:render", "heygen_render", "heygen", "submitted"),
    ("compose", "compose", "local", "pending"),
]

CREATE_JOB_SCRIPT = """
import json
from django.contrib.auth import get_user_model
import video_saas
from video_generation.models import JobStep, VideoJob
User = get_user_model()
user = User.objects.get(**{{User.USERNAME_FIELD: "bench"}})
job = VideoJob.objects.create(user=user, **json.loads({fields!r}))
for key, kind, provider, state in json.loads({steps!r}):
    JobStep.objects.create(job=job, key=key, kind=kind, provider=provider, state=state)
print(video_saas.__file__)
print(job.id)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.rstrip()


@contextlib.contextmanager
def git_worktree(ref: str) -> Iterator[Path]:
    """`ref` checked out (detached) into a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-status-tree-"))
    try:
        git("worktree", "add", "--detach", str(folder), ref)
        log(f"checked out {ref} into {folder}")
        yield folder
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "remove", "--force", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "prune")


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new, empty database `name` (a leftover of an interrupted run is dropped first); yields its URL."""
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with contextlib.suppress(Exception):
            _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    """Production-like settings (DEBUG off, a real secret key) minus HTTPS, which loopback does not speak; then
    `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_TO_DROP}
    env.update({
        "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(48), "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0", "DATABASE_URL": database_url, "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING", "GENERATE_RATE_LIMIT": "100000/hour",
    })
    env.update(overrides)
    return env


@dataclass
class ServedTree:
    label: str  # "a": the --compare ref; "b": the working tree
    description: str
    root: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    token: str = ""
    job_id: str = ""
    port: int = 0
    process: subprocess.Popen | None = None
    logs: Path | None = None
    workers: int = GUNICORN_WORKERS
    ready_path: str | None = None  # a GET that answers 200 once the server is up; None: the job's status URL

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def status_url(self) -> str:
        return f"{self.base_url}/api/video/status/{self.job_id}/"

    @property
    def ready_url(self) -> str:
        return self.status_url if self.ready_path is None else f"{self.base_url}{self.ready_path}"

    def manage(self, *args: str) -> list[str]:
        """Run manage.py in this tree; its stdout's lines."""
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"tree {self.label}: manage.py {args[0]} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout.strip().splitlines()

    def prepare(self) -> None:
        """Migrate, create the user and token, create the job; check the code came from this tree."""
        self.env = server_env(self.database_url)
        self.manage("migrate", "--noinput")
        self.token = self.manage("create_api_token", "bench")[-1]
        script = CREATE_JOB_SCRIPT.format(fields=json.dumps(JOB_FIELDS), steps=json.dumps(JOB_STEPS))
        *_, package_file, self.job_id = self.manage("shell", "-c", script)
        if not Path(package_file).resolve().is_relative_to(self.root.resolve()):
            raise RuntimeError(f"tree {self.label} imported video_saas from {package_file}, not from {self.root}")
        log(f"tree {self.label} ({self.description}): migrated, job {self.job_id} with {len(JOB_STEPS)} steps")

    def start(self) -> None:
        self.port = free_port()
        self.logs = Path(tempfile.mkstemp(prefix=f"bench-status-gunicorn-{self.label}-", suffix=".log")[1])
        # Command-line flags win over any gunicorn.conf.py a tree may carry: both trees run the same server.
        cmd = [sys.executable, "-m", "gunicorn", "video_saas.wsgi:application", "--chdir", str(self.root),
               "--workers", str(self.workers), "--worker-class", "sync", "--threads", "1",
               "--bind", f"127.0.0.1:{self.port}"]
        with self.logs.open("wb") as out:
            self.process = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_until_ready()
        log(f"tree {self.label}: gunicorn (pid {self.process.pid}) answers on port {self.port}")

    def wait_until_ready(self) -> None:
        import httpx

        headers = {"Authorization": f"Token {self.token}"}
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        answer = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tree {self.label}: gunicorn exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(self.ready_url, headers=headers, timeout=5)
                if response.status_code == 200:
                    return
                answer = f"{response.status_code} {response.text[:300]}"
            time.sleep(0.2)
        raise RuntimeError(f"tree {self.label}: {self.ready_url} never answered 200 (last: {answer}):\n"
                           f"{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.logs.read_text(errors="replace")[-chars:] if self.logs and self.logs.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None
        if self.logs is not None:
            self.logs.unlink(missing_ok=True)


@contextlib.contextmanager
def serving(tree: ServedTree) -> Iterator[ServedTree]:
    try:
        tree.start()
        yield tree
    finally:
        tree.stop()


def open_trees(stack: contextlib.ExitStack, compare_ref: str | None) -> dict[str, ServedTree]:
    """{"a": the ref's tree (only with a ref), "b": the working tree}, each prepared and served; `stack` stops
    the servers, drops the databases and removes the temporary worktree, in that order."""
    roots = {}
    if compare_ref:
        roots["a"] = (stack.enter_context(git_worktree(compare_ref)), f"git {compare_ref}")
    roots["b"] = (REPO, "working tree")
    trees = {}
    for label, (root, description) in roots.items():
        database_url = stack.enter_context(fresh_database(f"bench_status_{label}"))
        tree = ServedTree(label=label, description=description, root=root, database_url=database_url)
        tree.prepare()
        trees[label] = stack.enter_context(serving(tree))
    return trees


def changed_files_since(commit: str) -> list[str]:
    """Tracked files whose working-tree content differs from `commit` (committed or not)."""
    return git("diff", "--name-only", commit).splitlines()


def describe(tree: ServedTree, ref: str | None) -> dict:
    """What code a tree ran: the ref as given, its commit, and (working tree) the files changed since HEAD."""
    info = {"label": tree.label, "description": tree.description, "ref": ref or "HEAD + working tree changes",
            "commit": git("rev-parse", "HEAD", cwd=tree.root),
            "commit_short": git("rev-parse", "--short", "HEAD", cwd=tree.root)}
    if ref is None:
        info["uncommitted_changes"] = git("status", "--porcelain", cwd=tree.root).splitlines()
    return info
