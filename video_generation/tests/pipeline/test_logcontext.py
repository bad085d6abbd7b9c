"""Every log line and every message about a job carries its job id and the request id it was submitted with: from
the submit, through the steps that later steps enqueue, to whatever the sweeper re-sends minutes later."""

import pytest
from structlog.contextvars import bound_contextvars, get_contextvars

from video_generation.models import JobStatus, JobStep, VideoJob
from video_generation.pipeline import dispatch, jobs

from .conftest import brief

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(driver, monkeypatch):
    """(task name, args, bound context) of every message, as dispatch publishes it."""
    seen = []

    def publish(task, *args, **kwargs):
        seen.append((task.name, args, dict(get_contextvars())))
        return driver.publish(task, *args, **kwargs)

    monkeypatch.setattr(dispatch, "publish", publish)
    return seen


def job_of(task_name: str, args: tuple) -> str:
    """The job a pipeline message is about: its argument is the job's id, or one of its steps' ids."""
    if task_name == "video_generation.tasks.process_video_job":
        return args[0]
    return str(JobStep.objects.get(id=int(args[0])).job_id)


def submitted_in_request(user, request_id: str, data: dict | None = None) -> VideoJob:
    with bound_contextvars(request_id=request_id):  # as RequestIdMiddleware binds it
        return jobs.create_job(user=user, data=data or brief(2))


def assert_lines_carry_their_jobs_request_id(lines, request_ids: dict) -> list:
    about_jobs = [line for line in lines if "job_id" in line]
    assert about_jobs, "no line about any job was logged"
    for line in about_jobs:
        assert line.get("request_id") == request_ids[line["job_id"]], line
    return about_jobs


def test_the_job_keeps_the_request_id_of_its_submit(user):
    job = submitted_in_request(user, "req-submit-0001")

    assert VideoJob.objects.get(id=job.id).request_id == "req-submit-0001"


def test_a_job_submitted_outside_a_request_gets_a_request_id_of_its_own(user):
    first, second = jobs.create_job(user=user, data=brief(1)), jobs.create_job(user=user, data=brief(1))

    assert first.request_id and second.request_id and first.request_id != second.request_id


def test_every_message_and_line_of_a_job_carries_its_request_id_to_the_end(driver, published, user, log_lines):
    job = submitted_in_request(user, "req-submit-0001")

    driver.run()

    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
    assert len(published) > 5
    for task_name, args, context in published:
        assert job_of(task_name, args) == str(job.id)
        assert (context.get("request_id"), context.get("job_id")) == ("req-submit-0001", str(job.id)), task_name
    lines = assert_lines_carry_their_jobs_request_id(log_lines(), {str(job.id): "req-submit-0001"})
    succeeded = {line["step"] for line in lines if "succeeded" in line["event"]}
    assert succeeded == {"image", "veo:c0:s0", "veo:c0:s1", "heygen:render", "compose"}
    assert {line.get("provider") for line in lines if line.get("step", "").startswith("veo:")} == {"veo"}


def test_steps_the_sweeper_re_sends_carry_the_jobs_request_id(driver, published, user, log_lines):
    driver.drop.add("video_generation.tasks.poll_step")  # every poll message is lost
    job = submitted_in_request(user, "req-submit-0002")
    driver.run()
    driver.drop.clear()
    published.clear()

    for _ in range(10):  # the sweeper runs as beat runs it: with nothing bound
        driver.advance(30)
        driver.sweep()
        driver.run()

    assert VideoJob.objects.get(id=job.id).status == JobStatus.COMPLETED
    redriven = [(args, context) for name, args, context in published if name == "video_generation.tasks.poll_step"]
    assert redriven and all(context.get("request_id") == "req-submit-0002" for _, context in redriven)
    assert_lines_carry_their_jobs_request_id(log_lines(), {str(job.id): "req-submit-0002"})


def test_jobs_worked_on_together_keep_their_own_request_ids(driver, published, user, log_lines):
    first = submitted_in_request(user, "req-first-0001", brief(1))
    second = submitted_in_request(user, "req-second-0002", brief(1))

    driver.run()

    request_ids = {str(first.id): "req-first-0001", str(second.id): "req-second-0002"}
    assert {VideoJob.objects.get(id=job_id).status for job_id in request_ids} == {JobStatus.COMPLETED}
    for task_name, args, context in published:  # companions' polls included: several jobs' renders, one call
        job_id = job_of(task_name, args)
        assert (context["job_id"], context["request_id"]) == (job_id, request_ids[job_id]), task_name
    assert_lines_carry_their_jobs_request_id(log_lines(), request_ids)
