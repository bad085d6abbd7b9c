"""Settings of the `metrics` scenario's uninstrumented server: the product's, less the metrics middleware. Only the
benchmark's gunicorn uses them (DJANGO_SETTINGS_MODULE=bench.metrics_settings)."""

from video_saas.settings import *  # noqa: F403
from video_saas.settings import MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if name != "video_saas.metrics_http.MetricsMiddleware"]
