import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# `filesystem://` (the broker of local runs without Redis) uses our atomic-write variant; see broker.py.
TRANSPORT_ALIASES["filesystem"] = "video_saas.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")

app = Celery("video_saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
