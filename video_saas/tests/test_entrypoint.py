"""The image's entrypoint: each role runs what the Kubernetes manifests and docker-compose.yml expect, after waiting
(bounded) for the services its settings name; the health check fits the role."""

import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from video_saas import entrypoint
from video_saas.entrypoint import Dependency, Fatal, WaitTimeout

REPO = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://video_saas:s3cret-pw@postgres:5432/video_saas"
REDIS = "redis://redis:6379/0"


def tail(argv: list[str], start: str) -> list[str]:
    return argv[argv.index(start):]


# --- roles ---------------------------------------------------------------------------------------------------------

def test_api_runs_gunicorn_on_port_8000_of_every_address():
    argv = entrypoint.command("api", [], {})
    assert tail(argv, "gunicorn")[:4] == ["gunicorn", "video_saas.wsgi:application", "--bind", "0.0.0.0:8000"]
    assert argv[argv.index("--graceful-timeout") + 1] == "30"  # k8s: terminationGracePeriodSeconds 45
    assert "--workers" not in argv  # WEB_CONCURRENCY decides


def test_each_celery_role_consumes_its_own_queue():
    worker = entrypoint.command("worker", [], {})
    assert tail(worker, "celery")[:4] == ["celery", "-A", "video_saas", "worker"]
    assert worker[worker.index("-Q") + 1] == "celery"
    media = entrypoint.command("media", [], {"MEDIA_QUEUE": "composes"})
    assert media[media.index("-Q") + 1] == "composes"
    assert f"--concurrency={entrypoint.cpu_count()}" in media
    webhooks = entrypoint.command("webhooks", [], {})
    assert webhooks[webhooks.index("-Q") + 1] == "webhooks"
    assert entrypoint.command("media", [], {})[media.index("-Q") + 1] == "media"


def test_beat_keeps_its_schedule_in_tmp_because_the_root_filesystem_is_read_only():
    argv = entrypoint.command("beat", [], {})
    assert tail(argv, "celery")[:4] == ["celery", "-A", "video_saas", "beat"]
    assert argv[argv.index("--schedule") + 1] == "/tmp/celerybeat-schedule"


def test_migrate_manage_and_sandbox():
    assert tail(entrypoint.command("migrate", [], {}), "manage.py") == ["manage.py", "migrate", "--noinput"]
    assert tail(entrypoint.command("manage", ["create_api_token", "alice"], {}), "manage.py") == \
        ["manage.py", "create_api_token", "alice"]
    sandbox = entrypoint.command("sandbox", [], {})
    assert tail(sandbox, "sandbox")[:2] == ["sandbox", "serve"]
    assert sandbox[sandbox.index("--host") + 1] == "0.0.0.0"


def test_extra_arguments_are_appended():
    assert entrypoint.command("worker", ["--concurrency=8"], {})[-1] == "--concurrency=8"


def test_every_role_the_kubernetes_manifests_and_compose_file_name_exists():
    named = set()
    for manifest in (REPO / "deploy" / "k8s" / "base").glob("*.yaml"):
        for document in yaml.safe_load_all(manifest.read_text()):
            template = (document or {}).get("spec", {}).get("template", {}) or \
                (document or {}).get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {})
            for container in template.get("spec", {}).get("containers", []):
                named.update(container.get("args", [])[:1])
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    named_in_compose = {service["command"][0] for service in compose["services"].values()
                        if str(service.get("image", "")).startswith("${VIDEO_SAAS_IMAGE")}
    assert {"api", "worker", "media", "webhooks", "beat", "migrate"} <= named
    assert named_in_compose == {"api", "worker", "media", "webhooks", "beat", "migrate", "sandbox"}
    for role in named | named_in_compose:
        entrypoint.command(role, [], {})  # raises for a role the image does not have


def test_an_unknown_role_is_refused_without_running_anything(capsys):
    ran = []
    assert entrypoint.main(["webserver"], env={}, execvpe=lambda *a: ran.append(a)) == 2
    assert ran == []
    assert "unknown role 'webserver'" in capsys.readouterr().err


def test_main_waits_then_execs_the_role_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setattr(entrypoint, "ROLE_FILE", str(tmp_path / "role"))
    order = []
    monkeypatch.setattr(entrypoint, "wait_for_all", lambda deps, env: order.append(("wait", [d.name for d in deps])))
    ran = []
    code = entrypoint.main(["beat", "--max-interval=5"], env={"REDIS_URL": REDIS},
                           execvpe=lambda file, argv, env: (order.append(("exec", argv[-1])), ran.append(env)))
    assert code == 0
    assert order == [("wait", ["Redis at redis:6379/0"]), ("exec", "--max-interval=5")]
    assert (tmp_path / "role").read_text().strip() == "beat"


def test_main_gives_up_with_status_3_when_a_dependency_never_answers(monkeypatch, capsys):
    def never(deps, env):
        raise WaitTimeout("Redis at redis:6379/0 did not answer within 1 s")

    monkeypatch.setattr(entrypoint, "wait_for_all", never)
    ran = []
    assert entrypoint.main(["worker"], env={"REDIS_URL": REDIS}, execvpe=lambda *a: ran.append(a)) == 3
    assert ran == []
    assert "giving up: Redis at redis:6379/0 did not answer" in capsys.readouterr().err


def test_the_sandbox_accepts_the_keys_the_product_was_given():
    env = entrypoint.sandbox_env({"HEYGEN_API_KEY": "hg", "STRIPE_SECRET_KEY": "sk_test_x",
                                  "STRIPE_WEBHOOK_SECRET": "whsec_y", "SANDBOX_HEYGEN_API_KEY": "explicit"})
    assert env["SANDBOX_HEYGEN_API_KEY"] == "explicit"
    assert env["SANDBOX_STRIPE_SECRET_KEY"] == "sk_test_x" and env["SANDBOX_STRIPE_WEBHOOK_SECRET"] == "whsec_y"


@pytest.mark.parametrize("cpu_max,expected", [("300000 100000\n", 3), ("150000 100000\n", 1), ("50000 100000", 1)])
def test_media_concurrency_follows_the_containers_cpu_quota(tmp_path, cpu_max, expected):
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert entrypoint.cpu_count(str(tmp_path)) == expected


def test_without_a_quota_it_is_the_cpus_the_process_may_run_on(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert entrypoint.cpu_count(str(tmp_path)) == len(os.sched_getaffinity(0))
    assert entrypoint.cpu_count(str(tmp_path / "missing")) == len(os.sched_getaffinity(0))


# --- dependencies -------------------------------------------------------------------------------------------------

def names(deps):
    return [d.name for d in deps]


def test_roles_wait_for_the_services_their_settings_name_and_never_log_a_password():
    env = {"DATABASE_URL": POSTGRES, "REDIS_URL": REDIS}
    for role in ("api", "worker", "media", "webhooks"):
        assert names(entrypoint.dependencies(role, env)) == [
            "PostgreSQL at postgres:5432/video_saas", "Redis at redis:6379/0", "the database schema (migrations)"]
    assert names(entrypoint.dependencies("migrate", env)) == ["PostgreSQL at postgres:5432/video_saas",
                                                              "Redis at redis:6379/0"]
    assert names(entrypoint.dependencies("beat", env))[-1] == "Redis at redis:6379/0"
    assert entrypoint.dependencies("sandbox", env) == []
    assert not any("s3cret" in name for role in entrypoint.ROLES for name in names(entrypoint.dependencies(role, env)))


def test_a_local_sqlite_and_in_memory_broker_need_no_waiting():
    assert names(entrypoint.dependencies("beat", {"DATABASE_URL": "sqlite:////tmp/db.sqlite3"})) == []
    assert names(entrypoint.dependencies("migrate", {"CELERY_BROKER_URL": "memory://", "REDIS_URL": REDIS})) == []


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_for_retries_until_the_dependency_answers():
    clock, said, calls = FakeClock(), [], []

    def probe():
        calls.append(clock.now)
        if len(calls) < 4:
            raise ConnectionRefusedError("[Errno 111] Connection refused")

    took = entrypoint.wait_for(Dependency("Redis at redis:6379/0", probe), 60, interval=1.0, clock=clock,
                               sleep=clock.sleep, say=said.append)
    assert calls == [0.0, 1.0, 2.0, 3.0] and took == 3.0
    assert said[0].startswith("waiting for Redis at redis:6379/0 (ConnectionRefusedError: [Errno 111] Connection "
                              "refused); retrying for up to 60 s more")
    assert said[-1] == "Redis at redis:6379/0 answered after 3.0 s (4 attempts)"


def test_wait_for_gives_up_after_the_timeout_naming_the_last_error():
    clock = FakeClock()

    def probe():
        raise OSError(f"refused at {clock.now:.0f}")

    with pytest.raises(WaitTimeout, match=r"PostgreSQL at db:5432/x did not answer within 10 s \(11 attempts; "
                                          r"last: OSError: refused at 10\)"):
        entrypoint.wait_for(Dependency("PostgreSQL at db:5432/x", probe), 10, clock=clock, sleep=clock.sleep,
                            say=lambda line: None)
    assert clock.now == 10


def test_a_fatal_error_is_not_waited_for():
    clock = FakeClock()

    def probe():
        raise Fatal("SECRET_KEY must be set")

    with pytest.raises(Fatal):
        entrypoint.wait_for(Dependency("the database schema (migrations)", probe), 60, clock=clock,
                            sleep=clock.sleep, say=lambda line: None)
    assert clock.now == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_real_probes_time_out_against_a_port_nobody_listens_on():
    port = free_port()
    for dependency in (entrypoint.redis_probe(f"redis://127.0.0.1:{port}/0"),
                       entrypoint.postgres_probe(f"postgres://u:p@127.0.0.1:{port}/db")):
        started = time.monotonic()
        with pytest.raises(WaitTimeout, match=f"127.0.0.1:{port}"):
            entrypoint.wait_for(dependency, 1.0, interval=0.2, say=lambda line: None)
        assert time.monotonic() - started < 8


def test_the_redis_probe_pings_with_short_timeouts_and_closes(monkeypatch):
    import redis

    calls = []

    class Client:
        def ping(self):
            calls.append("ping")
            return True

        def close(self):
            calls.append("close")

    def from_url(url, **options):
        calls.append((url, options))
        return Client()

    monkeypatch.setattr(redis.Redis, "from_url", staticmethod(from_url))
    took = entrypoint.wait_for(entrypoint.redis_probe("redis://:pw@redis:6379/2"), 5, say=lambda line: None)
    assert took < 5
    assert calls == [("redis://:pw@redis:6379/2", {"socket_connect_timeout": 3, "socket_timeout": 3}), "ping",
                     "close"]


# --- health -------------------------------------------------------------------------------------------------------

class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        type(self).seen_host = self.headers.get("Host")  # before answering: the client asserts once it has the answer
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_api_health_check_sends_host_localhost_and_fails_on_503(health_server):
    url = f"http://127.0.0.1:{health_server.server_address[1]}/api/video/health/"
    Health.status = 200
    assert entrypoint.http_ok(url, host="localhost")[0] == 0
    assert Health.seen_host == "localhost"
    Health.status = 503
    code, verdict = entrypoint.http_ok(url, host="localhost")
    assert code == 1 and "503" in verdict
    assert entrypoint.http_ok(f"http://127.0.0.1:{free_port()}/")[0] == 1


def test_worker_health_is_its_heartbeat_file(tmp_path):
    beat = tmp_path / "heartbeat"
    assert entrypoint.healthcheck("media", {"WORKER_HEARTBEAT_FILE": str(beat)})[0] == 1
    beat.touch()
    assert entrypoint.healthcheck("media", {"WORKER_HEARTBEAT_FILE": str(beat)})[0] == 0
    os.utime(beat, (time.time() - 120, time.time() - 120))
    assert entrypoint.healthcheck("worker", {"WORKER_HEARTBEAT_FILE": str(beat)})[0] == 1


def test_beat_health_is_a_recently_saved_schedule(tmp_path, monkeypatch):
    monkeypatch.setattr(entrypoint, "BEAT_SCHEDULE", str(tmp_path / "celerybeat-schedule"))
    assert entrypoint.healthcheck("beat", {})[0] == 1
    saved = tmp_path / "celerybeat-schedule.db"
    saved.touch()
    assert entrypoint.healthcheck("beat", {})[0] == 0
    os.utime(saved, (time.time() - 900, time.time() - 900))
    assert entrypoint.healthcheck("beat", {})[0] == 1


def test_without_a_role_the_check_uses_the_one_the_container_started_with(tmp_path, monkeypatch):
    monkeypatch.setattr(entrypoint, "ROLE_FILE", str(tmp_path / "role"))
    assert entrypoint.main(["healthcheck"], env={}) == 1  # the entrypoint never started
    (tmp_path / "role").write_text("migrate\n")
    assert entrypoint.main(["healthcheck"], env={}) == 0
    (tmp_path / "role").write_text("worker\n")
    assert entrypoint.main(["healthcheck"], env={"WORKER_HEARTBEAT_FILE": str(tmp_path / "none")}) == 1


def test_a_long_winded_error_is_cut_to_one_short_line():
    error = RuntimeError("DENIED Redis is running in protected mode " + "because " * 100 + "\nsecond line")
    line = entrypoint.brief(error)
    assert line.startswith("RuntimeError: DENIED Redis is running in protected mode")
    assert len(line) <= len("RuntimeError: ") + 160 and "second line" not in line
    assert entrypoint.brief(OSError()) == "OSError: "
