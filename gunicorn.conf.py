# gunicorn reads this file from its working directory (or `-c gunicorn.conf.py`): the hooks that keep the metrics'
# multiprocess files right (video_saas/gunicorn_hooks.py). Flags on the command line still set everything else.
from video_saas.gunicorn_hooks import child_exit, on_starting  # noqa: F401
