"""The test suite's settings: the production settings module, with a random secret key for this run.

Tests run with DEBUG false, as production does, so the settings need a real key; processes the tests start inherit
it through the environment unless a test removes it on purpose.
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
# The test client speaks plain HTTP; the HTTPS redirect and secure cookies have tests of their own.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from video_saas.settings import *  # noqa: E402,F403

# In-process tests count rate limits in process memory; the shared Redis cache is tested with real processes.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Provider admission counts in process memory too; the Redis limiter has tests of its own (marked `services`).
ADMISSION_REDIS_URL = ""
