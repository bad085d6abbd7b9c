# gunicorn reads this file from its working directory (or `-c gunicorn.conf.py`): the hooks that keep the metrics'
# multiprocess files right, and gunicorn's own lines rendered like every other (video_saas/gunicorn_hooks.py).
# Flags on the command line still set everything else.
import os

from video_saas.gunicorn_hooks import child_exit, on_starting  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")  # the logger reads LOG_FORMAT from them
logger_class = "video_saas.gunicorn_hooks.StructuredLogger"
