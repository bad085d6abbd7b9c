"""/metrics after a job through the real stack (API server, Celery worker, sandbox providers), every process writing
to the stack's PROMETHEUS_MULTIPROC_DIR: the API's scrape shows the job in video_saas_jobs_total, its duration in the
histogram, its steps and the provider calls the worker made."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

SHORT_SCRIPT = "Premium sound, all day comfort. Order yours today."


def scrape(e2e) -> dict[tuple, float]:
    response = e2e.http.get(f"{e2e.api_urls['v3']}/metrics")  # from loopback: open
    assert response.status_code == 200, response.text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.timeout(600)
def test_a_finished_job_shows_in_the_api_scrape_with_its_duration_and_provider_calls(e2e):
    before = scrape(e2e)
    brief = e2e.brief(scenes=1, script=SHORT_SCRIPT)
    brief["scenes"][0]["duration"] = 4
    job = e2e.wait(e2e.submit(brief, interval=1.0), timeout=400)
    assert job["status"] == "completed", (job["status"], job.get("error_message"))
    after = scrape(e2e)

    def added(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "video_saas_jobs_total", status="completed", failure_stage="none") >= 1
    assert added("video_saas_jobs_total", status="completed", failure_stage="none") >= 1
    assert added("video_saas_job_duration_seconds_count", aspect="9:16", scenes="1") >= 1
    assert added("video_saas_job_duration_seconds_sum", aspect="9:16", scenes="1") > 0
    assert added("video_saas_step_duration_seconds_count", kind="compose", provider="local") >= 1
    for provider, operation in (("veo", "generate"), ("veo", "poll"), ("heygen", "render")):
        assert added("video_saas_provider_requests_total", provider=provider, operation=operation,
                     outcome="success") >= 1, (provider, operation)
    assert added("video_saas_provider_cost_usd_total", plan="enterprise") > 0
    assert value(after, "video_saas_queue_due_steps", queue="media") >= 0  # read from the stack's database
