"""The API keeps every promise its OpenAPI schema makes: schemathesis, with all its default checks, against a live
server process, authenticated, with a fixed seed and 100 examples per operation.

The default checks include that every schema-valid request is accepted (so the schema may not promise more than
the server takes) and every schema-invalid one refused (nor less), that every status code and response body is
documented, that unauthenticated requests are refused, and that no request gets a 5xx.

Payments are on, against the sandbox's Stripe, so checkout and portal answer as in production. Stripe's webhook is
not in the schema (only Stripe can sign a request to it); billing/tests/test_stripe_webhook.py attacks it instead.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.stack import REPO, free_port, wait_for_http
from sandbox import SandboxProcess

SEED = "20261128"
EXAMPLES_PER_OPERATION = "100"
# Every default check stays on. One is told of documented answers it cannot foresee: the fuzzer repeats
# Idempotency-Key values across different bodies, and such a reuse is answered 422 (as the IETF Idempotency-Key
# draft prescribes) even though each request on its own is valid; and a valid brief is answered 402 when its
# `max_credits` is below its quote or the balance cannot cover it (the fuzzer's user is on the unlimited plan, so
# only the first happens, and no plan limit narrows what the schema allows).
# A schema-valid brief is refused 400 when its avatar_id or voice_id is not in HeyGen's catalogue (GET /api/catalog/),
# which changes with HeyGen and so cannot be an enum in the schema.
# A schema-valid key request is refused 400 when what it asks cannot be said in the schema: an `expires_at` that has
# passed, a user already at API_KEYS_MAX_PER_USER live keys (the fuzzer creates many).
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "402", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
include-operation-id = "video_generate"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "402", "403", "404", "409", "422",
                                                     "429", "5xx"]

[[operations]]
include-operation-id = "video_quote"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "402", "403", "404", "409", "422",
                                                     "429", "5xx"]

[[operations]]
include-operation-id = "keys_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429",
                                                     "5xx"]
"""


def server_env(tmp_path: Path, sandbox_env: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")}
    # Stripe answers checkout and portal; HeyGen answers the avatar and voice catalogue (nothing is rendered here:
    # the broker is in memory and no worker runs).
    stripe = {key: value for key, value in sandbox_env.items() if key.startswith(("STRIPE_", "HEYGEN_"))}
    return {**env, **stripe, "DJANGO_SETTINGS_MODULE": "video_saas.settings", "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64), "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CELERY_BROKER_URL": "memory://",
            "LOCAL_STORAGE_DIR": str(tmp_path / "media"), "GENERATE_RATE_LIMIT": "1000000/hour"}


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.timeout(1500)  # every operation fuzzed 100 times: minutes, longer than the suite's default limit
def test_the_api_keeps_every_promise_its_openapi_schema_makes(tmp_path):
    with SandboxProcess(data_dir=tmp_path / "sandbox") as sandbox:
        run_schemathesis(tmp_path, server_env(tmp_path, sandbox.env))


def run_schemathesis(tmp_path: Path, env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput")
    token = manage(env, "create_api_token", "fuzzer").strip().splitlines()[-1]
    # DELETE /api/keys/{id}/ is fuzzed too: the fuzzer's own key gets an id no generated one is likely to hit, so
    # the run does not revoke it halfway and test the rest unauthenticated.
    manage(env, "shell", "-c", "from api_keys.models import ApiKey; ApiKey.objects.update(id=7_000_000_000_001)")
    manage(env, "set_plan", "fuzzer", "enterprise")
    url = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "video_saas.wsgi:application", "--bind",
                                   url.removeprefix("http://"), "--workers", "2"], cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_http(f"{url}/api/video/list_jobs/", process=server, timeout=60)
            (tmp_path / "schemathesis.toml").write_text(CONFIG)
            run = subprocess.run(
                [sys.executable, "-m", "schemathesis.cli", "--config-file", str(tmp_path / "schemathesis.toml"),
                 "run", f"{url}/api/schema/?format=json",
                 "--seed", SEED, "--max-examples", EXAMPLES_PER_OPERATION,
                 "--header", f"Authorization: Token {token}", "--no-color"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected and tested and selected[1] == selected[2] == tested[1] != "0", "not every operation was tested"
    server_log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in server_log and "Internal Server Error" not in server_log
