"""video_saas/metrics.py: the families, their zero series from start-up, and multiprocess mode across processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing.plans import SEED_PLANS
from video_generation.models import StepKind
from video_saas import metrics

REPO = Path(__file__).resolve().parents[2]
FAMILIES = {
    "video_saas_jobs": "counter",
    "video_saas_job_duration_seconds": "histogram",
    "video_saas_step_duration_seconds": "histogram",
    "video_saas_provider_requests": "counter",
    "video_saas_http_request_duration_seconds": "histogram",
    "video_saas_credits_consumed": "counter",
    "video_saas_provider_cost_usd": "counter",
}


def exported(*collectors) -> dict:
    text, _ = metrics.exposition(*collectors)
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def samples(family, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == name}


def test_every_family_is_exported_with_its_type_from_start_up():
    families = exported()
    for name, kind in FAMILIES.items():
        assert families[name].type == kind, name


def test_every_final_status_and_failure_stage_has_a_series_before_any_job_ends():
    jobs = samples(exported()["video_saas_jobs"], "video_saas_jobs_total")
    keys = {dict(labels)["status"] + "/" + dict(labels)["failure_stage"] for labels in jobs}
    assert {"completed/none", "cancelled/none", "failed/other"} <= keys
    assert {f"failed/{kind}" for kind in StepKind.values} <= keys


def test_known_label_values_of_the_other_families_are_there_too():
    families = exported()
    plans = {dict(labels)["plan"] for labels in samples(families["video_saas_credits_consumed"],
                                                          "video_saas_credits_consumed_total")}
    assert set(SEED_PLANS) <= plans
    requests = {(dict(k)["provider"], dict(k)["operation"], dict(k)["outcome"])
                for k in samples(families["video_saas_provider_requests"], "video_saas_provider_requests_total")}
    assert ("veo", "generate", "rate_limited") in requests and ("heygen", "poll_batch", "success") in requests
    steps = {(dict(k)["kind"], dict(k)["provider"])
             for k in samples(families["video_saas_step_duration_seconds"], "video_saas_step_duration_seconds_count")}
    assert ("veo_extend", "veo") in steps and ("compose", "local") in steps
    aspects = {(dict(k)["aspect"], dict(k)["scenes"])
               for k in samples(families["video_saas_job_duration_seconds"], "video_saas_job_duration_seconds_count")}
    assert {("9:16", "2-3"), ("16:9", "11+")} <= aspects


@pytest.mark.parametrize("scenes,bucket", [(1, "1"), (2, "2-3"), (3, "2-3"), (5, "4-5"), (10, "6-10"), (20, "11+")])
def test_scene_counts_fall_into_a_handful_of_buckets(scenes, bucket):
    assert metrics.scenes_bucket(scenes) == bucket


def test_a_process_is_named_by_its_host_and_pid_so_containers_sharing_a_volume_never_share_a_file():
    identifier = metrics.process_identifier()
    assert identifier == f"{metrics.HOST}-{os.getpid()}"
    assert "_" not in identifier  # prometheus_client splits file names on "_"


def test_only_this_hosts_files_of_dead_processes_are_removed(tmp_path):
    dead = 2 ** 22 + 12345  # above pid_max's default: no such process
    for name in (f"counter_{metrics.HOST}-{dead}.db", f"histogram_{metrics.HOST}-{dead}.db",
                 f"counter_{metrics.HOST}-{os.getpid()}.db", f"counter_another-host-{dead}.db",
                 f"counter_{metrics.HOST}x-{dead}.db"):
        (tmp_path / name).write_bytes(b"")
    removed = metrics.remove_stale_files(str(tmp_path))
    assert sorted(removed) == [f"counter_{metrics.HOST}-{dead}.db", f"histogram_{metrics.HOST}-{dead}.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        f"counter_{metrics.HOST}-{os.getpid()}.db", f"counter_{metrics.HOST}x-{dead}.db",
        f"counter_another-host-{dead}.db"])


RECORD = """
import django, sys
django.setup()
from video_saas import metrics
metrics.count_job("completed")
metrics.count_job("failed", "veo_generate")
metrics.observe_job_duration("9:16", 3, float(sys.argv[1]))
metrics.count_provider_request("heygen", "render", "success")
print(metrics.process_identifier())
"""


def record_in_a_process(directory: Path, seconds: float) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", RECORD, str(seconds)], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout.strip().splitlines()[-1]


SCRAPE = """
import django, json
django.setup()
from prometheus_client.parser import text_string_to_metric_families
from video_saas import metrics
text, _ = metrics.exposition()
out = {}
for family in text_string_to_metric_families(text.decode()):
    for s in family.samples:
        out[s.name + json.dumps(s.labels, sort_keys=True)] = s.value
print(json.dumps(out))
"""


def test_multiprocess_mode_sums_every_process_on_the_host(tmp_path):
    first, second = record_in_a_process(tmp_path, 50.0), record_in_a_process(tmp_path, 70.0)
    assert first != second
    assert {p.name for p in tmp_path.iterdir()} >= {f"counter_{first}.db", f"counter_{second}.db"}
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DATABASE_URL", None)
    scraped = json.loads(subprocess.run([sys.executable, "-c", SCRAPE], cwd=REPO, env=env, capture_output=True,
                                        text=True, timeout=120, check=True).stdout.strip().splitlines()[-1])

    def value(name: str, **labels) -> float:
        return scraped[name + json.dumps(labels, sort_keys=True)]

    assert value("video_saas_jobs_total", status="completed", failure_stage="none") == 2
    assert value("video_saas_jobs_total", status="failed", failure_stage="veo_generate") == 2
    assert value("video_saas_jobs_total", status="cancelled", failure_stage="none") == 0
    assert value("video_saas_job_duration_seconds_count", aspect="9:16", scenes="2-3") == 2
    assert value("video_saas_job_duration_seconds_sum", aspect="9:16", scenes="2-3") == 120.0
    assert value("video_saas_job_duration_seconds_bucket", aspect="9:16", scenes="2-3", le="60.0") == 1
    assert value("video_saas_provider_requests_total", provider="heygen", operation="render", outcome="success") == 2
