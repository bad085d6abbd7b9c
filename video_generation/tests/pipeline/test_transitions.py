"""Status and progress only ever move forward, whatever order updates arrive in."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from video_generation.models import JobStatus, VideoJob
from video_generation.pipeline import pricing, transitions

pytestmark = pytest.mark.django_db

RUNNING = [JobStatus.PENDING, JobStatus.PROCESSING_VEO, JobStatus.PROCESSING_HEYGEN, JobStatus.COMPOSING]
events = st.lists(st.one_of(st.tuples(st.just("status"), st.sampled_from(RUNNING)),
                            st.tuples(st.just("progress"), st.integers(0, 100)),
                            st.tuples(st.just("fail"), st.just(""))), max_size=30)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(events)
def test_status_and_progress_never_go_backwards(user, sequence):
    job = VideoJob.objects.create(user=user, product_title="P", scenes_data=[], avatar_script="s", avatar_id="a",
                                  voice_id="v", image_url="https://example.com/p.png")
    seen = [(JobStatus.rank(job.status), job.progress)]
    for kind, value in sequence:
        if kind == "status":
            transitions.advance_status(job.id, value)
        elif kind == "progress":
            transitions.raise_progress(job.id, value)
        else:
            transitions.fail_job(job.id, "boom")
        job.refresh_from_db()
        seen.append((JobStatus.rank(job.status), job.progress))
    ranks = [rank for rank, _ in seen]
    assert ranks == sorted(ranks)
    assert [p for _, p in seen] == sorted(p for _, p in seen)


def test_a_finished_job_is_never_moved_again(user):
    job = VideoJob.objects.create(user=user, product_title="P", scenes_data=[], avatar_script="s", avatar_id="a",
                                  voice_id="v", image_url="https://example.com/p.png", status=JobStatus.CANCELLED)
    assert not transitions.advance_status(job.id, JobStatus.COMPOSING)
    assert not transitions.fail_job(job.id, "late failure")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.error_message is None


def test_credits_are_one_per_started_eight_seconds():
    assert [pricing.credits_for(s) for s in (1, 8, 8.1, 22, 43.5)] == [1, 1, 2, 3, 6]
