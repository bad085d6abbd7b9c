import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# `filesystem://` (the broker of local runs without Redis) uses our atomic-write variant; see broker.py.
TRANSPORT_ALIASES["filesystem"] = "video_saas.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")

app = Celery("video_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_the_sweeper(sender: Celery, **kwargs) -> None:
    """Beat runs the sweeper every SWEEP_INTERVAL_SECONDS. A sweep that waited longer than one interval in a busy
    queue is dropped: the next one covers it."""
    from django.conf import settings

    from video_generation.tasks import sweep

    interval = settings.SWEEP_INTERVAL_SECONDS
    sender.add_periodic_task(interval, sweep.s(), name="sweep-video-jobs", expires=interval)
