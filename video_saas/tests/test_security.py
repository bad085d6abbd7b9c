"""Production safety: no known or missing SECRET_KEY with DEBUG off, and secure defaults that `check --deploy`
accepts. The start-up refusal is checked through the real entry points: manage.py, gunicorn and the Celery worker.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from video_saas.security import secret_key_problem, secret_keys_problem

REPO = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(64)
OLD_FALLBACK = "insecure-local-development-key-" + "x" * 32  # what an unset key used to become


def clean_env(**values: str) -> dict[str, str]:
    """Only what a fresh production host would have: no SECRET_KEY, DEBUG or other settings from the tests."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(REPO),
           "DJANGO_SETTINGS_MODULE": "video_saas.settings"}
    env.update(values)
    return env


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "manage.py", *args], clean_env(**env))


def test_a_random_key_of_fifty_characters_is_fit_to_sign():
    assert secret_key_problem(STRONG_KEY) is None
    assert secret_key_problem(secrets.token_hex(25)) is None


@pytest.mark.parametrize(("key", "why"), [
    ("", "not set"),
    (secrets.token_urlsafe(30), "too short"),
    ("ab" * 40, "not random"),
    (OLD_FALLBACK, "placeholder"),
    ("django-insecure-" + secrets.token_urlsafe(48), "placeholder"),
    ("change-me-to-a-long-random-string-" + secrets.token_urlsafe(24), "placeholder"),
])
def test_a_missing_short_repetitive_or_placeholder_key_is_refused(key, why):
    problem = secret_key_problem(key)
    assert problem is not None and why in problem
    assert "SECRET_KEY" in problem
    assert not key or key not in problem  # the message never shows the key


def test_an_old_key_kept_for_rotation_must_be_strong_too():
    assert "SECRET_KEY_FALLBACKS[1]" in secret_keys_problem(STRONG_KEY, [secrets.token_urlsafe(64), "short"])
    assert secret_keys_problem(STRONG_KEY, [secrets.token_urlsafe(64)]) is None


@pytest.mark.parametrize("key", [None, OLD_FALLBACK, "too-short"])
def test_manage_py_refuses_to_start_without_a_strong_key_when_debug_is_off(key):
    env = {"DEBUG": "false"} | ({"SECRET_KEY": key} if key else {})
    result = manage("check", **env)
    assert result.returncode != 0
    assert "video_saas refuses to start: SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_local_run_with_debug_on_works_without_a_key():
    result = manage("check", DEBUG="true")
    assert result.returncode == 0, result.stderr


def test_gunicorn_refuses_to_start_without_a_key():
    result = run([sys.executable, "-m", "gunicorn", "video_saas.wsgi:application", "--bind", "127.0.0.1:0"],
                 clean_env(DEBUG="false"))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stdout + result.stderr


def test_the_celery_worker_refuses_to_start_without_a_key():
    result = run([sys.executable, "-m", "celery", "-A", "video_saas", "worker", "--pool=solo"],
                 clean_env(DEBUG="false", CELERY_BROKER_URL="memory://"))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stdout + result.stderr


def test_deploy_checks_pass_with_only_debug_off_a_strong_key_and_allowed_hosts():
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    DEBUG="false", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="api.example.com")
    assert result.returncode == 0, result.stdout + result.stderr


SECURITY_SETTINGS = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")


def security_settings(**env: str) -> dict[str, str]:
    script = "from django.conf import settings as s; " + "; ".join(
        f"print('{name}', getattr(s, '{name}'))" for name in SECURITY_SETTINGS)
    result = manage("shell", "-c", script, **env)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(SECURITY_SETTINGS))


def test_debug_off_means_https_redirect_hsts_and_secure_cookies():
    values = security_settings(DEBUG="false", SECRET_KEY=STRONG_KEY)
    assert values == {"SECURE_SSL_REDIRECT": "True", "SECURE_HSTS_SECONDS": "31536000",
                      "SESSION_COOKIE_SECURE": "True", "CSRF_COOKIE_SECURE": "True"}


def test_each_secure_default_can_be_turned_off_for_a_plain_http_loopback_stack():
    values = security_settings(DEBUG="false", SECRET_KEY=STRONG_KEY, SECURE_SSL_REDIRECT="false",
                               SECURE_HSTS_SECONDS="0", SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
    assert values == {"SECURE_SSL_REDIRECT": "False", "SECURE_HSTS_SECONDS": "0",
                      "SESSION_COOKIE_SECURE": "False", "CSRF_COOKIE_SECURE": "False"}


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_but_health_stays_reachable_for_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/video/status/x/").status_code == 301
    assert client.get("/api/video/status/x/")["Location"].startswith("https://")
    assert client.get("/api/video/health/").status_code == 200
