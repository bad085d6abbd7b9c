"""Settings of the `keys` scenario's server: the product's, with the benchmark's URLconf (bench/keys_urls.py).
Only the benchmark's gunicorn uses them (DJANGO_SETTINGS_MODULE=bench.keys_settings)."""

from video_saas.settings import *  # noqa: F403

ROOT_URLCONF = "bench.keys_urls"
