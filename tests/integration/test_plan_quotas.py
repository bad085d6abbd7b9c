"""A plan's quotas hold across API worker processes: its generate rate limit (counted in the shared Redis cache) and
its videos in progress at once (counted on the account row, under its lock in PostgreSQL). Beyond either, 429
naming the limit."""

import os
import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from billing.models import Plan, UserProfile
from video_generation.models import VideoJob

from .test_api_processes import BRIEF, api_server, token_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def on_plan(user, **limits) -> Plan:
    plan = Plan.objects.create(code=f"quota-{secrets.token_hex(3)}", name="Quota test", monthly_credits=None,
                               **limits)
    UserProfile.objects.filter(user=user).update(plan=plan)
    return plan


def burst_of_submits(tmp_path, user, count: int, **env) -> list[httpx.Response]:
    headers = {"Authorization": f"Token {token_for(user)}"}
    with api_server(tmp_path, workers=4, REDIS_URL=os.environ["REDIS_URL"], CELERY_BROKER_URL="memory://",
                    CACHE_KEY_PREFIX=f"test-{secrets.token_hex(4)}", **env) as url:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            with ThreadPoolExecutor(max_workers=count) as pool:
                return list(pool.map(lambda _: client.post("/api/video/generate/", json=BRIEF), range(count)))


def test_the_plans_rate_limit_overrides_the_default_and_holds_across_worker_processes(tmp_path, user):
    on_plan(user, generate_rate_limit="3/hour", max_jobs_in_flight=100)
    answers = burst_of_submits(tmp_path, user, 16, GENERATE_RATE_LIMIT="1000/hour")
    assert sorted(answer.status_code for answer in answers) == [202] * 3 + [429] * 13
    refused = [answer.json() for answer in answers if answer.status_code == 429]
    assert all(body["error"] == "Rate limit exceeded" and body["rate_limit"] == "3/hour" for body in refused)
    assert VideoJob.objects.filter(user=user).count() == 3


def test_the_plans_videos_in_progress_hold_across_worker_processes(tmp_path, user):
    on_plan(user, generate_rate_limit="", max_jobs_in_flight=2)
    answers = burst_of_submits(tmp_path, user, 16, GENERATE_RATE_LIMIT="1000/hour")
    assert sorted(answer.status_code for answer in answers) == [202] * 2 + [429] * 14
    refused = [answer.json() for answer in answers if answer.status_code == 429]
    assert all(body == {"error": "Too many videos in progress", "limit": 2} for body in refused)
    assert VideoJob.objects.filter(user=user).count() == 2
    assert UserProfile.objects.get(user=user).jobs_in_progress == 2
