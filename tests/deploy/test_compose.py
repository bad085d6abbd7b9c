"""docker-compose.yml, the Dockerfile and the env files, checked without a container engine (make compose-check runs
them for real): every service and its health check, one shared env file, only the API published, and every setting
the code reads documented in .env.example."""

from __future__ import annotations

import ast
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

import compose_check  # noqa: E402  (deploy/ is not a package)
import runtime_requirements  # noqa: E402

from video_saas import entrypoint  # noqa: E402

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ["migrate", "api", "worker", "media", "webhooks", "beat", "sandbox"]
PRODUCT_PACKAGES = ["video_saas", "video_generation", "billing", "webhooks", "accounts", "api_keys"]
ENV_READERS = {"env", "bool", "int", "float", "list", "db", "str", "json", "url", "path", "dict", "tuple"}


# --- the settings the code reads ---------------------------------------------------------------------------------

def setting_names(source: str) -> set[str]:
    """Names read through django-environ (`env("X")`, `env.int("X")`, ...), `os.environ.get("X")`,
    `os.environ["X"]`, `os.getenv("X")`, and the entrypoint's `env.get("X")`."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            dotted = ast.unparse(func)
            if dotted == "env" or (isinstance(func, ast.Attribute) and ast.unparse(func.value) == "env"
                                   and func.attr in ENV_READERS | {"get"}) \
                    or dotted in ("os.environ.get", "os.getenv"):
                names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" \
                and isinstance(node.slice, ast.Constant):
            names.add(node.slice.value)
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def code_settings() -> set[str]:
    names = setting_names((REPO / "video_saas" / "settings.py").read_text())
    for package in PRODUCT_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "tests" not in path.relative_to(REPO).parts and "migrations" not in path.parts:
                names |= setting_names(path.read_text())
    return names - {"DJANGO_SETTINGS_MODULE"}


def documented(env_file: Path) -> set[str]:
    """KEY=... lines, commented out or not (an optional setting is documented as `# KEY=`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_file.read_text(), re.MULTILINE))


def test_the_parser_finds_every_way_a_setting_is_read():
    source = """
import os
X = env("PLAIN", default=1)
Y = env.bool("A_BOOL", default=False)
Z = env.db("A_DB_URL")
W = os.environ.get("FROM_OS", "")
V = os.environ["SUBSCRIPT"]
U = os.getenv("GETENV")
T = env.get("ENTRYPOINT_STYLE")
S = other("NOT_A_SETTING")
"""
    assert setting_names(source) == {"PLAIN", "A_BOOL", "A_DB_URL", "FROM_OS", "SUBSCRIPT", "GETENV",
                                     "ENTRYPOINT_STYLE"}


def test_the_settings_file_is_parsed_for_real():
    names = setting_names((REPO / "video_saas" / "settings.py").read_text())
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "VEO_API_BASE_URL", "STRIPE_PRICE_PRO"} <= names
    assert len(names) > 100


def test_env_example_documents_every_setting_the_code_reads():
    missing = sorted(code_settings() - documented(REPO / ".env.example"))
    assert not missing, f".env.example does not document: {', '.join(missing)}"


def test_env_example_documents_what_the_stack_and_the_entrypoint_read():
    names = documented(REPO / ".env.example")
    for name in ("SERVICE_WAIT_SECONDS", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR", "METRICS_TOKEN",
                 "POSTGRES_PASSWORD", "WORKER_HEARTBEAT_FILE", "SANDBOX_PUBLIC_URL"):
        assert name in names, name


def test_the_sandbox_env_file_sets_only_documented_settings_and_leaves_no_secret_in_the_repo():
    template = REPO / "deploy" / "compose" / "sandbox.env"
    undocumented = sorted(documented(template) - documented(REPO / ".env.example"))
    assert not undocumented, undocumented
    for line in template.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#") and re.search(r"(SECRET|PASSWORD|TOKEN|_KEY)$", key):
            assert compose_check.GENERATE.match(value), f"{key} must be <generate>d, not committed"
    # The providers point at the sandbox service by its compose name.
    values = dict(line.split("=", 1) for line in template.read_text().splitlines() if "=" in line and
                  not line.startswith("#"))
    for key in ("VEO_API_BASE_URL", "HEYGEN_API_BASE_URL", "STORAGE_EMULATOR_HOST", "STRIPE_API_BASE",
                "GCP_TOKEN_URI", "SANDBOX_PUBLIC_URL"):
        assert values[key].startswith("http://sandbox:"), (key, values[key])
    mount = [v for v in SERVICES["sandbox"]["volumes"] if v.startswith("sandbox:")][0].split(":")[1]
    assert values["GCP_SERVICE_ACCOUNT_FILE"].startswith(mount + "/")


def test_the_compose_check_fills_in_fresh_secrets(tmp_path):
    template = tmp_path / "t.env"
    template.write_text("# comment=not a setting\nA=<generate>\nB=sk_test_<generate>\nC=plain\n")
    first = compose_check.render_env_file(template, tmp_path / "one.env")
    second = compose_check.render_env_file(template, tmp_path / "two.env")
    assert first["C"] == "plain" and first["B"].startswith("sk_test_") and len(first["A"]) == 64
    assert first["A"] != second["A"] and "<generate" not in (tmp_path / "one.env").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "one.env").st_mode) == 0o600


# --- docker-compose.yml ------------------------------------------------------------------------------------------

def test_the_stack_has_every_service():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api", "worker", "media", "webhooks", "beat", "sandbox"}


def test_the_sandbox_is_behind_its_profile_and_nothing_else_is():
    assert SERVICES["sandbox"]["profiles"] == ["sandbox"]
    assert [name for name, service in SERVICES.items() if service.get("profiles")] == ["sandbox"]


def test_every_long_running_service_has_a_healthcheck():
    for name, service in SERVICES.items():
        if name == "migrate":  # a one-off: its exit status is its health
            assert service["healthcheck"] == {"disable": True} and service["restart"] == "no"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert SERVICES["api"]["healthcheck"]["test"][-2:] == ["healthcheck", "api"]
    for name in ("worker", "media", "webhooks"):
        assert "video_saas.heartbeat" in SERVICES[name]["healthcheck"]["test"]


def test_every_app_service_runs_a_role_of_the_image_with_the_shared_env_file():
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["image"] == "${VIDEO_SAAS_IMAGE:-video-saas:latest}", name
        assert service["env_file"] == "${VIDEO_SAAS_ENV_FILE:-.env}", name
        assert service["command"][0] in entrypoint.ROLES, name
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
    assert {name: SERVICES[name]["command"] for name in APP_SERVICES} == {
        "migrate": ["migrate"], "api": ["api"], "worker": ["worker"], "media": ["media"],
        "webhooks": ["webhooks"], "beat": ["beat"], "sandbox": ["sandbox"]}


def test_the_database_and_broker_are_the_stacks_own():
    environment = SERVICES["api"]["environment"]
    assert re.fullmatch(r"postgres://video_saas:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/video_saas",
                        environment["DATABASE_URL"])
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_only_the_api_is_published_and_only_on_loopback():
    published = {name: service["ports"] for name, service in SERVICES.items() if service.get("ports")}
    assert list(published) == ["api"]
    (port,) = published["api"]
    match = re.fullmatch(r"127\.0\.0\.1:\$\{API_PORT:-(\d+)\}:8000", port)
    assert match, port
    assert match.group(1) not in ("5432", "6379", "8000")


def test_every_process_writes_metrics_to_the_shared_volume():
    for name in ("api", "worker", "media", "webhooks", "beat"):
        service = SERVICES[name]
        directory = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"metrics:{directory}" in service["volumes"], name
    assert "metrics" in COMPOSE["volumes"]


def test_exactly_one_beat_and_workers_outlive_their_task_time_limit():
    assert "deploy" not in SERVICES["beat"] and "scale" not in SERVICES["beat"]
    limit = int(re.search(r"^CELERY_TASK_TIME_LIMIT=(\d+)", (REPO / ".env.example").read_text(), re.M).group(1))
    for name in ("worker", "media"):
        assert int(SERVICES[name]["stop_grace_period"].rstrip("s")) > limit


# --- the Dockerfile ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["Dockerfile", "deploy/compose/services.Containerfile"])
def test_every_stage_starts_from_the_base_image_argument(path):
    lines = [line.strip() for line in (REPO / path).read_text().splitlines() if line.strip() and
             not line.lstrip().startswith("#")]
    first_from = next(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    assert any(line.startswith("ARG BASE_IMAGE=") for line in lines[:first_from])
    for line in lines:
        if line.upper().startswith("FROM "):
            assert line.split()[1] == "${BASE_IMAGE}", line


def test_the_image_runs_as_10001_with_the_entrypoint_and_a_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text
    assert re.search(r"^USER 10001(:10001)?$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["python", "-m", "video_saas.entrypoint"\]$', text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*video_saas.entrypoint\", \"healthcheck\"", text, re.M)
    assert "collectstatic" in text and "requirements.lock" in text
    assert not re.search(r"apt-get install[^\n]*\bffmpeg\b", text)  # imageio-ffmpeg's binary only


def test_secrets_and_local_state_stay_out_of_the_build_context():
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".venv", "var", "db.sqlite3"):
        assert entry in ignored


def test_the_image_installs_the_runtime_and_sandbox_dependencies_and_no_dev_tools():
    requirements = runtime_requirements.runtime_requirements(REPO / "pyproject.toml", ["sandbox"])
    names = {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}
    assert {"django", "celery", "gunicorn", "imageio-ffmpeg", "gcp-storage-emulator", "hibari-tts"} <= names
    assert not names & {"pytest", "ruff", "schemathesis", "podman-compose"}
    locked = {line.split("==")[0].lower() for line in (REPO / "requirements.lock").read_text().splitlines()
              if "==" in line}
    assert names <= locked, names - locked
    constraints = runtime_requirements.lock_constraints((REPO / "requirements.lock").read_text())
    assert not [line for line in constraints.splitlines() if line.startswith("-")]
    assert "django==" in constraints.lower()


# --- the compose check's own logic -------------------------------------------------------------------------------

def test_completed_jobs_are_read_from_prometheus_text():
    text = """# HELP video_saas_jobs_total Jobs by final status
# TYPE video_saas_jobs_total counter
video_saas_jobs_total{status="completed",failure_stage=""} 2.0
video_saas_jobs_total{failure_stage="compose",status="failed"} 1.0
video_saas_jobs_total{status="completed",failure_stage="x"} 1.0
video_saas_jobs_created{status="completed"} 1.7e9
"""
    assert compose_check.completed_jobs(text) == 3.0
    assert compose_check.completed_jobs("video_saas_jobs_total 5\n") == 0.0
