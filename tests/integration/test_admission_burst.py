"""A burst of Veo steps against the sandbox's Veo enforcing Vertex's quota (50 requests a minute per project, region
and model): with admission control no request meets a 429; without it, the burst does. In one process (the limiter
in memory), and in two worker processes sharing the limiter in Redis and the steps in PostgreSQL.

Every request carries the sandbox's `safety` fault so that the sandbox answers at once and renders nothing: what is
measured is the submits."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection

from devstack.stack import REPO
from sandbox import SandboxProcess
from sandbox.tests.helpers import png_b64
from video_generation.models import JobStep, StepKind, StepState
from video_generation.pipeline import admission, dispatch, machine, providers
from video_generation.services import limiter
from video_generation.services.gcp_auth import GCPAuthManager
from video_generation.services.storage import get_storage
from video_generation.tests.factories import make_job

QUOTA = 50
BURST = 100
MODEL = "veo-3.1-fast-generate-001"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quota_sandbox():
    with SandboxProcess(veo_latency=1.0, heygen_latency=1.0,
                        extra_args=["--veo-requests-per-minute", str(QUOTA)]) as sbx:
        yield sbx


@pytest.fixture
def veo_on_sandbox(quota_sandbox, settings, monkeypatch):
    """The product's Veo client pointed at the sandbox, under a project of this test's own (so counts start at 0)."""
    env = quota_sandbox.env
    settings.VEO_API_BASE_URL = env["VEO_API_BASE_URL"]
    settings.GCP_SERVICE_ACCOUNT_FILE = env["GCP_SERVICE_ACCOUNT_FILE"]
    settings.GCP_TOKEN_URI = env["GCP_TOKEN_URI"]
    settings.GCP_PROJECT_ID = f"burst-{secrets.token_hex(4)}"
    settings.PIPELINE = {**settings.PIPELINE, "MAX_ATTEMPTS": 5}
    GCPAuthManager.reset()
    providers.veo.cache_clear()
    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)  # the rows are what we look at
    yield quota_sandbox
    providers.veo.cache_clear()
    GCPAuthManager.reset()


def veo_steps(user, count: int) -> list[int]:
    """`count` jobs, each with its image fetched and its first Veo step ready to go."""
    image = get_storage().upload_bytes(base64.b64decode(png_b64(size=(64, 64))), "burst/product.png", "image/png")
    ids = []
    for i in range(count):
        job = make_job(user)
        JobStep.objects.create(job=job, key="image", kind=StepKind.FETCH_IMAGE, provider="local",
                               state=StepState.SUCCEEDED, output_uri=image, result={"content_type": "image/png"})
        step = JobStep.objects.create(
            job=job, key="veo:c0:s0", kind=StepKind.VEO_GENERATE, provider="veo", depends_on=["image"],
            params={"prompt": f"Headphones {i} [[fault:safety]]", "duration_seconds": 4, "aspect_ratio": "9:16",
                    "model": MODEL, "generate_audio": False})
        ids.append(step.id)
    return ids


def quota_report(sbx) -> dict:
    return httpx.get(f"{sbx.url}/_sandbox/veo/quota", timeout=10).json()


def outcome(ids) -> dict[str, int]:
    steps = JobStep.objects.filter(id__in=ids)
    return {"submitted": steps.filter(state=StepState.SUBMITTED).count(),
            "waiting": steps.filter(state=StepState.PENDING, error_code=admission.WAITING_CODE).count(),
            "throttled": steps.filter(error_code="RESOURCE_EXHAUSTED").count()}


def test_a_burst_of_a_hundred_veo_steps_meets_no_429_from_a_veo_enforcing_its_quota(veo_on_sandbox, settings,
                                                                                    user):
    settings.ADMISSION_REDIS_URL = ""
    limiter.reset_memory()
    settings.VEO_REQUESTS_PER_MINUTE = QUOTA
    ids = veo_steps(user, BURST)
    for step_id in ids:
        machine.run_step(step_id)
    assert quota_report(veo_on_sandbox)["refused"] == 0
    assert outcome(ids) == {"submitted": QUOTA, "waiting": BURST - QUOTA, "throttled": 0}


def test_without_admission_control_the_same_burst_meets_429s(veo_on_sandbox, settings, user):
    settings.VEO_REQUESTS_PER_MINUTE = 0  # the limiter off: shows the test above can fail
    ids = veo_steps(user, BURST)
    for step_id in ids:
        machine.run_step(step_id)
    assert quota_report(veo_on_sandbox)["refused"] == BURST - QUOTA
    assert outcome(ids) == {"submitted": QUOTA, "waiting": 0, "throttled": BURST - QUOTA}


# --- two worker processes sharing Redis and PostgreSQL --------------------------------------------------------

WORKER = """
import sys
import django
django.setup()
from video_generation.pipeline import dispatch, machine
dispatch.publish = lambda *args, **kwargs: True
for step_id in sys.argv[1:]:
    machine.run_step(int(step_id))
"""


def database_url_of_test_db() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.mark.services
def test_two_worker_processes_sharing_the_limiter_in_redis_send_no_more_than_the_quota(veo_on_sandbox, settings,
                                                                                      user, tmp_path):
    ids = veo_steps(user, BURST)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "video_saas.settings", "DEBUG": "false",
           "SECRET_KEY": secrets.token_urlsafe(64), "SECURE_SSL_REDIRECT": "false",
           "DATABASE_URL": database_url_of_test_db(), "ADMISSION_REDIS_URL": os.environ["REDIS_URL"],
           "CELERY_BROKER_URL": "memory://", "LOCAL_STORAGE_DIR": str(settings.LOCAL_STORAGE_DIR), "GCS_BUCKET": "",
           "VEO_API_BASE_URL": settings.VEO_API_BASE_URL, "GCP_PROJECT_ID": settings.GCP_PROJECT_ID,
           "GCP_SERVICE_ACCOUNT_FILE": settings.GCP_SERVICE_ACCOUNT_FILE, "GCP_TOKEN_URI": settings.GCP_TOKEN_URI,
           "VEO_REQUESTS_PER_MINUTE": str(QUOTA), "PYTHONPATH": str(REPO)}
    halves = [ids[0::2], ids[1::2]]  # both processes start at once, each with half of the burst
    logs = [Path(tmp_path / f"worker{i}.log").open("wb") for i in range(2)]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, *map(str, half)], cwd=REPO, env=env,
                                stdout=log, stderr=subprocess.STDOUT) for half, log in zip(halves, logs, strict=True)]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.wait(timeout=300) == 0, (tmp_path / "worker0.log").read_text()[-3000:]
        log.close()
    assert quota_report(veo_on_sandbox)["refused"] == 0
    assert outcome(ids) == {"submitted": QUOTA, "waiting": BURST - QUOTA, "throttled": 0}
