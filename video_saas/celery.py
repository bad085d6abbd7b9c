import logging
import os

from celery import Celery, signals
from django.dispatch import receiver
from django_structlog.celery.signals import modify_context_before_task_publish
from django_structlog.celery.steps import DjangoStructLogInitStep
from kombu.transport import TRANSPORT_ALIASES

# `filesystem://` (the broker of local runs without Redis) uses our atomic-write variant; see broker.py.
TRANSPORT_ALIASES["filesystem"] = "video_saas.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")

app = Celery("video_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker liveness: a heartbeat file touched from the worker's timer (video_saas/heartbeat.py). Named, not imported:
# the liveness probe runs `python -m video_saas.heartbeat`, which must not be imported already by the package.
app.steps["worker"].add("video_saas.heartbeat:HeartbeatStep")
# Each task's log lines carry the request id (and job) its headers brought (settings: DJANGO_STRUCTLOG_CELERY_ENABLED).
app.steps["worker"].add(DjangoStructLogInitStep)
# Metrics: stale multiprocess files removed at start, and the worker's own /metrics on WORKER_METRICS_PORT.
app.steps["worker"].add("video_saas.worker_metrics:MetricsStep")


@app.on_after_finalize.connect
def schedule_periodic_tasks(sender: Celery, **kwargs) -> None:
    """Beat runs the sweeper every SWEEP_INTERVAL_SECONDS, the credit periods' rollover every
    BILLING_ROLLOVER_INTERVAL_SECONDS, the webhook sweeper every WEBHOOK_SWEEP_INTERVAL_SECONDS and retention every
    RETENTION_INTERVAL_SECONDS. A run that waited longer than its interval in a busy queue is dropped: the next one
    covers it."""
    from django.conf import settings

    from billing.tasks import roll_over_periods
    from video_generation.tasks import expire_stored_files, sweep
    from webhooks.tasks import sweep as sweep_webhooks

    interval = settings.SWEEP_INTERVAL_SECONDS
    sender.add_periodic_task(interval, sweep.s(), name="sweep-video-jobs", expires=interval)
    # Monthly grants and expiries: each account's period ends at its own time, so look every few minutes.
    rollover = settings.BILLING_ROLLOVER_INTERVAL_SECONDS
    sender.add_periodic_task(rollover, roll_over_periods.s(), name="roll-over-credit-periods", expires=rollover)
    # Webhook deliveries that are due: retries whose time has come, and any whose bell was never rung.
    hooks = settings.WEBHOOK_SWEEP_INTERVAL_SECONDS
    sender.add_periodic_task(hooks, sweep_webhooks.s(), name="sweep-webhook-deliveries", expires=hooks)
    # Retention: expired files and pending purges (video_generation/retention.py).
    retention = settings.RETENTION_INTERVAL_SECONDS
    sender.add_periodic_task(retention, expire_stored_files.s(), name="expire-stored-files", expires=retention)


@signals.setup_logging.connect
def keep_django_logging(loglevel=None, **kwargs) -> None:
    """Celery leaves logging alone when this signal has a receiver: a worker and beat log through the handlers
    Django's LOGGING configured (video_saas/logs.py: JSON or text, redacted, LOG_FILE), like every other process.
    `--loglevel` still sets the level of Celery's own loggers."""
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


@signals.celeryd_init.connect
def quiet_banner_for_json(instance=None, **kwargs) -> None:
    """The worker's start-up banner is printed, not logged: with JSON logs it would be the only line that is not
    JSON, so it is left out (the same facts are in the worker's "ready" line and its configuration)."""
    from django.conf import settings

    if instance is not None and settings.LOG_FORMAT == "json":
        instance.quiet = True


@receiver(modify_context_before_task_publish)
def carry_only_the_request_and_job(context: dict, **kwargs) -> None:
    """django-structlog sends the publisher's whole bound context in the task's headers. Only the request id and
    the job go along: the step, provider and task of the publisher are not those of the task it sends."""
    for key in [key for key in context if key not in ("request_id", "job_id")]:
        del context[key]
