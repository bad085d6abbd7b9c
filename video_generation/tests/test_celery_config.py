"""The reliability settings (acks late, one message at a time, JSON only, countdowns far below the visibility
timeout), asserted so that nobody loosens them by accident."""

from django.conf import settings

from video_generation import tasks
from video_saas.celery import app


def test_tasks_are_acked_late_and_requeued_when_a_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_a_worker_takes_one_message_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_only_json_crosses_the_broker():
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"


def test_the_longest_countdown_plus_the_time_limit_stays_far_below_the_visibility_timeout():
    longest_countdown = settings.PIPELINE["MAX_COUNTDOWN_SECONDS"]
    assert longest_countdown + app.conf.task_time_limit < app.conf.broker_transport_options["visibility_timeout"] / 2


def test_a_lease_outlasts_several_poll_intervals_and_fits_within_the_task_time_limit():
    assert settings.PIPELINE["LEASE_SECONDS"] >= 3 * settings.PIPELINE["POLL_MIN_SECONDS"]
    assert settings.PIPELINE["LEASE_SECONDS"] <= app.conf.task_time_limit


def test_the_sweeper_runs_on_a_beat_schedule_and_a_late_sweep_expires():
    app.finalize()  # as worker and beat do when they start
    entry = app.conf.beat_schedule["sweep-video-jobs"]
    assert entry["task"] == tasks.sweep.name
    assert entry["schedule"] == settings.SWEEP_INTERVAL_SECONDS <= 30
    assert entry["options"]["expires"] == entry["schedule"]


def test_tasks_take_only_ids():
    import inspect

    for task in (tasks.process_video_job, tasks.run_step, tasks.poll_step):
        params = list(inspect.signature(task.run).parameters.values())
        assert [p.annotation for p in params] in ([str], ["str"]), task.name


def test_a_worker_started_without_a_queue_list_consumes_orchestration_media_and_webhooks():
    assert set(app.amqp.queues) == {"celery", settings.MEDIA_QUEUE, settings.WEBHOOK_QUEUE}
    assert app.conf.task_default_queue == "celery"


def test_workers_keep_their_database_connection_between_tasks_and_check_it_before_use():
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] >= 60  # not a new connection (and server process) for every short task
    assert database["CONN_HEALTH_CHECKS"] is True
