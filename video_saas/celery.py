import logging
import os

from celery import Celery, signals
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


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def redact_celery_logs(logger, **kwargs) -> None:
    """Celery installs its own handlers in a worker: their lines go through the one redaction rule too."""
    from video_generation.services.redact import RedactingFormatter

    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(inner=handler.formatter or logging.Formatter()))
