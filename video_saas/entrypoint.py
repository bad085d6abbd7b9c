"""The container image's one entrypoint: `python -m video_saas.entrypoint ROLE [extra arguments]`.

Roles (deploy/k8s/README.md, "The image's contract"):

    api        gunicorn on 0.0.0.0:8000 (workers: WEB_CONCURRENCY; more options: GUNICORN_CMD_ARGS)
    worker     celery worker -Q celery           (orchestration: submits, polls, the sweepers)
    media      celery worker -Q $MEDIA_QUEUE     (joins and composes, concurrency = the container's cores)
    webhooks   celery worker -Q $WEBHOOK_QUEUE   (webhook deliveries)
    beat       celery beat, its schedule in /tmp (exactly one per deployment)
    migrate    manage.py migrate --noinput
    sandbox    the loopback providers (python -m sandbox serve), listening on every address of the container
    manage     manage.py with the remaining arguments (e.g. `manage create_api_token alice`)
    healthcheck [ROLE]  the container's health for its role (default: the role it was started with)

Before it starts, every role but `sandbox` waits for what it needs to answer: PostgreSQL (when DATABASE_URL names
it) with a real query, and Redis (when the broker or REDIS_URL is one) with PING; `api` and the Celery workers then
wait for the database schema to be migrated (the `migrate` role may still be running). Each wait retries until
SERVICE_WAIT_SECONDS (default 120) have passed, logging one line per dependency, then gives up with exit status 3.
Nothing relies on an orchestrator's health conditions (podman-compose ignores them). Extra arguments are appended to
the role's command; the process then replaces this one (exec), so signals reach gunicorn or celery directly.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROLES = ("api", "worker", "media", "webhooks", "beat", "migrate", "sandbox", "manage")
CELERY_WORKER_ROLES = ("worker", "media", "webhooks")
ROLE_FILE = "/tmp/video-saas-role"  # written at start, read by `healthcheck` (the image's HEALTHCHECK)
BEAT_SCHEDULE = "/tmp/celerybeat-schedule"
API_PORT = 8000
SANDBOX_PORT, SANDBOX_GCS_PORT = 8900, 9023
DEFAULT_WAIT_SECONDS = 120.0
WAIT_FAILED = 3


def log(message: str) -> None:
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


# --- what each role runs -----------------------------------------------------------------------------------------

def cpu_count(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """The CPUs this container may use: its cgroup v2 quota when one is set, else the CPUs it may run on."""
    try:
        quota, period = Path(cgroup_root, "cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, int(int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def command(role: str, extra: list[str], env: dict[str, str]) -> list[str]:
    """The argv a role execs."""
    python = sys.executable or "python3"
    celery = [python, "-m", "celery", "-A", "video_saas"]
    loglevel = f"--loglevel={env.get('LOG_LEVEL') or 'INFO'}"
    if role == "api":
        # Workers from WEB_CONCURRENCY (gunicorn's own default), anything else from GUNICORN_CMD_ARGS.
        return [python, "-m", "gunicorn", "video_saas.wsgi:application", "--bind", f"0.0.0.0:{API_PORT}",
                "--graceful-timeout", "30", "--access-logfile", "-", "--worker-tmp-dir", "/tmp", *extra]
    if role == "worker":
        return [*celery, "worker", "-Q", "celery", loglevel, "-n", "worker@%h", *extra]
    if role == "media":
        queue = env.get("MEDIA_QUEUE") or "media"
        return [*celery, "worker", "-Q", queue, f"--concurrency={cpu_count()}", loglevel, "-n", "media@%h", *extra]
    if role == "webhooks":
        queue = env.get("WEBHOOK_QUEUE") or "webhooks"
        return [*celery, "worker", "-Q", queue, loglevel, "-n", "webhooks@%h", *extra]
    if role == "beat":
        return [*celery, "beat", loglevel, "--schedule", BEAT_SCHEDULE, *extra]
    if role == "migrate":
        return [python, "manage.py", "migrate", "--noinput", *extra]
    if role == "manage":
        return [python, "manage.py", *extra]
    if role == "sandbox":
        return [python, "-m", "sandbox", "serve", "--host", "0.0.0.0", "--port", str(SANDBOX_PORT),
                "--gcs-port", str(SANDBOX_GCS_PORT), *extra]
    raise ValueError(f"unknown role {role!r}; one of: {', '.join(ROLES)}, healthcheck")


def sandbox_env(env: dict[str, str]) -> dict[str, str]:
    """The sandbox accepts the credentials the product was given (one env file configures both sides): its HeyGen
    key and Stripe keys default to the product's HEYGEN_API_KEY, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET."""
    out = dict(env)
    for sandbox_name, product_name in (("SANDBOX_HEYGEN_API_KEY", "HEYGEN_API_KEY"),
                                       ("SANDBOX_STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
                                       ("SANDBOX_STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET")):
        if not out.get(sandbox_name) and out.get(product_name):
            out[sandbox_name] = out[product_name]
    return out


# --- waiting for dependencies ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dependency:
    name: str  # "PostgreSQL at postgres:5432/video_saas": no credentials
    probe: Callable[[], None]  # returns when it answers, raises otherwise


def postgres_probe(url: str) -> Dependency:
    import environ

    config = environ.Env.db_url_config(url)
    where = f"{config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}/{config.get('NAME')}"

    def probe() -> None:
        import psycopg

        with psycopg.connect(host=config.get("HOST") or None, port=config.get("PORT") or None,
                             dbname=config.get("NAME") or None, user=config.get("USER") or None,
                             password=config.get("PASSWORD") or None, connect_timeout=3) as connection:
            connection.execute("SELECT 1")

    return Dependency(f"PostgreSQL at {where}", probe)


def redis_probe(url: str) -> Dependency:
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"

    def probe() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            client.ping()
        finally:
            client.close()

    return Dependency(f"Redis at {where}", probe)


def migrations_probe() -> Dependency:
    def probe() -> None:
        import django
        from django.core.exceptions import ImproperlyConfigured
        from django.db import connections

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")
        try:
            django.setup()
        except ImproperlyConfigured as exc:  # e.g. no SECRET_KEY: waiting will not fix it
            raise Fatal(str(exc)) from None
        from django.db.migrations.executor import MigrationExecutor

        try:
            executor = MigrationExecutor(connections["default"])
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            connections.close_all()
        if pending:
            raise RuntimeError(f"{len(pending)} migrations not applied yet (first: {pending[0][0]})")

    return Dependency("the database schema (migrations)", probe)


def dependencies(role: str, env: dict[str, str]) -> list[Dependency]:
    """What a role waits for before it starts: only services the settings actually name."""
    if role == "sandbox":
        return []
    deps = []
    database = env.get("DATABASE_URL", "")
    if database.split(":", 1)[0] in ("postgres", "postgresql", "pgsql", "psql"):
        deps.append(postgres_probe(database))
    broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL") or ""
    if broker.split(":", 1)[0] in ("redis", "rediss"):
        deps.append(redis_probe(broker))
    if role in ("api", *CELERY_WORKER_ROLES):
        deps.append(migrations_probe())
    return deps


def brief(exc: BaseException, limit: int = 160) -> str:
    """The error's type and the start of its first line (some servers explain themselves at length)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text if len(text) <= limit else text[:limit - 1] + '…'}"


class WaitTimeout(Exception):
    pass


class Fatal(Exception):
    """A probe's error that waiting cannot cure (bad settings): reported at once."""


def wait_for(dependency: Dependency, timeout: float, *, interval: float = 1.0,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
             say: Callable[[str], None] = log) -> float:
    """Probe until it answers; returns the seconds it took. One log line when it first fails, one every ~15 s
    after, one when it answers; WaitTimeout (naming the last error) once `timeout` seconds have passed."""
    started = clock()
    attempts, last_said = 0, None
    while True:
        attempts += 1
        try:
            dependency.probe()
        except Fatal:
            raise
        except Exception as exc:  # anything a client library raises means "not yet"
            error = brief(exc)
            waited = clock() - started
            if waited >= timeout:
                raise WaitTimeout(f"{dependency.name} did not answer within {timeout:.0f} s "
                                  f"({attempts} attempts; last: {error})") from None
            if last_said is None or clock() - last_said >= 15:
                say(f"waiting for {dependency.name} ({error}); retrying for up to {timeout - waited:.0f} s more")
                last_said = clock()
            sleep(min(interval, max(0.0, timeout - waited)))
            continue
        took = clock() - started
        say(f"{dependency.name} answered" + (f" after {took:.1f} s ({attempts} attempts)" if attempts > 1 else ""))
        return took


def wait_for_all(deps: list[Dependency], env: dict[str, str], **kwargs) -> None:
    timeout = float(env.get("SERVICE_WAIT_SECONDS") or DEFAULT_WAIT_SECONDS)
    for dependency in deps:
        wait_for(dependency, timeout, **kwargs)


# --- health ------------------------------------------------------------------------------------------------------

def healthcheck(role: str | None, env: dict[str, str]) -> tuple[int, str]:
    """0 and a verdict when the container is healthy for its role, 1 otherwise. Cheap: no Django."""
    if not role:
        try:
            role = Path(ROLE_FILE).read_text().strip()
        except OSError:
            return 1, f"no role recorded in {ROLE_FILE}: the entrypoint did not start"
    if role == "api":
        return http_ok(f"http://127.0.0.1:{API_PORT}/api/video/health/", host="localhost")
    if role == "sandbox":
        return http_ok(f"http://127.0.0.1:{SANDBOX_PORT}/_sandbox/health")
    if role in CELERY_WORKER_ROLES:
        from video_saas.heartbeat import check

        return check(env.get("WORKER_HEARTBEAT_FILE", ""), float(env.get("HEALTH_MAX_AGE_SECONDS") or 60))
    if role == "beat":
        # Beat saves its schedule file at least every 3 minutes while it ticks (the sweepers tick every 15 s).
        files = list(Path(BEAT_SCHEDULE).parent.glob(Path(BEAT_SCHEDULE).name + "*"))
        if not files:
            return 1, f"beat has not written {BEAT_SCHEDULE} yet"
        age = time.time() - max(f.stat().st_mtime for f in files)
        limit = float(env.get("BEAT_MAX_AGE_SECONDS") or 600)
        return (0, f"beat schedule saved {age:.0f}s ago") if age <= limit else \
            (1, f"beat schedule not saved for {age:.0f}s (more than {limit:.0f}s)")
    if role in ("migrate", "manage"):
        return 0, f"{role} is a one-off"
    return 1, f"unknown role {role!r}"


def http_ok(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return 0, f"{url}: HTTP {answer.status}"
    except Exception as exc:  # HTTPError (503 names the dependency that is down), refused, timeout
        return 1, f"{url}: {exc}"


# --- main --------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None, env: dict[str, str] | None = None,
         execvpe: Callable[..., None] = os.execvpe) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    role, extra = argv[0], argv[1:]
    if role == "healthcheck":
        code, verdict = healthcheck(extra[0] if extra else None, env)
        print(verdict, file=sys.stderr if code else sys.stdout)
        return code
    try:
        argv_to_run = command(role, extra, env)
    except ValueError as exc:
        log(str(exc))
        return 2
    if role == "sandbox":
        env = sandbox_env(env)
    try:
        wait_for_all(dependencies(role, env), env)
    except WaitTimeout as exc:
        log(f"giving up: {exc}")
        return WAIT_FAILED
    except Fatal as exc:
        log(f"cannot start {role}: {exc}")
        return 2
    try:
        Path(ROLE_FILE).write_text(role + "\n")
    except OSError:
        pass  # only the image's HEALTHCHECK reads it
    log(f"starting {role}: {' '.join(argv_to_run)}")
    execvpe(argv_to_run[0], argv_to_run, env)
    return 0  # only reached with a stand-in execvpe (tests)


if __name__ == "__main__":
    sys.exit(main())
