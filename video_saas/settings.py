"""Django settings. Every value comes from the environment; `.env.example` documents them all.

With nothing set, the project runs locally: SQLite, an in-process Celery broker, files on local disk.
"""

import hashlib
import logging
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from . import logs
from .security import secret_keys_problem

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])  # old keys: links they signed still work
if DEBUG and not SECRET_KEY:
    # Stable for this checkout (processes of one local run must agree), random-looking (so redacting it from logs
    # does not eat ordinary words), and flagged by `check --deploy`; never accepted without DEBUG.
    SECRET_KEY = "django-insecure-" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()
elif not DEBUG and (_key_problem := secret_keys_problem(SECRET_KEY, SECRET_KEY_FALLBACKS)):
    raise ImproperlyConfigured(_key_problem)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files: no CDN, works offline
    "corsheaders",
    "django_structlog",  # the request id in Celery tasks' headers (DJANGO_STRUCTLOG_CELERY_ENABLED)
    "video_generation",
    "billing",
    "api_keys",
    "webhooks",
    "accounts",  # the customer's data: erasure and export
    "webapp",  # the server-rendered web app at / (Django templates + htmx), on the same services as the API
    "devstack",  # local stack: the sandbox-backed demo; no product code depends on it
]

MIDDLEWARE = [
    "video_saas.metrics_http.MetricsMiddleware",  # first: times every request, answers GET /metrics
    "video_saas.middleware.RequestIdMiddleware",  # before all that logs: every line (a 413 too) has the id
    "video_saas.middleware.RequestBodyLimitMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx for the web app's partial page updates
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "video_saas.urls"
WSGI_APPLICATION = "video_saas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: a worker runs thousands of short tasks, and a new PostgreSQL connection for each costs
# both sides more CPU than the task's own queries. Health checks drop a connection the server has closed.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements are prepared only where the code asks (billing/sql.py: a submit's hold, planned once per
    # connection): Django's own cursors bind values on the client and never prepare, and psycopg's automatic
    # preparation (Django turns it off with None, which also refuses explicit requests) is left out of reach.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker, API server and sweeper share one file in local runs: wait for the write lock, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# WhiteNoise serves static files from the app directories when they were not collected (local runs, tests);
# a container image collects them at build time (`manage.py collectstatic`).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
warnings.filterwarnings("ignore", message=r"No directory at: .*")  # WhiteNoise: not collected; finders serve
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api_keys.authentication.ApiKeyAuthentication",  # Authorization: Bearer|Token <key>
        "rest_framework.authentication.SessionAuthentication",  # the admin's browser
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api_keys.permissions.KeyHasScope"],
    "DEFAULT_PARSER_CLASSES": ["video_generation.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "video_saas.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=20),
    "DEFAULT_SCHEMA_CLASS": "video_generation.schema.VideoSaasAutoSchema",
    "EXCEPTION_HANDLER": "video_generation.api_errors.exception_handler",
}
# --- API keys (api_keys/) ---------------------------------------------------------------------------------
# A new key's lifetime when its creator names none; empty: keys never expire unless asked to.
API_KEY_DEFAULT_LIFETIME_DAYS = env.int("API_KEY_DEFAULT_LIFETIME_DAYS", default=365) if env(
    "API_KEY_DEFAULT_LIFETIME_DAYS", default="365") else None
API_KEYS_MAX_PER_USER = env.int("API_KEYS_MAX_PER_USER", default=20)  # live (not revoked, not expired) keys
API_KEY_TOUCH_SECONDS = env.int("API_KEY_TOUCH_SECONDS", default=60)  # last_used_at is written at most this often
# New videos a user may start: "N/second|minute|hour|day", counted in the shared cache (see CACHES).
GENERATE_RATE_LIMIT = env("GENERATE_RATE_LIMIT", default="10/hour")

SPECTACULAR_SETTINGS = {
    "TITLE": "video_saas API",
    "DESCRIPTION": "Turn a product brief into a finished product video: Veo B-roll with a HeyGen presenter.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a `status` field with their own choices: each enum gets its own name.
    "ENUM_NAME_OVERRIDES": {"StatusEnum": "video_generation.models.JobStatus",
                            "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus"},
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- Cache --------------------------------------------------------------------------------------------
# Shared by every process whenever Redis is configured (rate limits must hold across API workers); process memory
# only for single-process local runs. A cache that does not answer within half a second is treated as
# unavailable (rate limits then let requests through).
CACHE_URL = env("CACHE_URL", default="")
if CACHE_URL or env("REDIS_URL", default=""):
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL or env("REDIS_URL"),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="video_saas"),
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------------------
# Every task is one short step, acked late, never waiting on a provider (README, "Never paying twice"); the
# settings follow Celery's own advice on acks_late, prefetch and the Redis visibility timeout.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10
# Two queues: "celery" carries the orchestration (submits, polls, the sweeper, webhooks: short, mostly waiting on
# the network), "media" the CPU-bound local steps (B-roll join, compose: seconds of ffmpeg each). A worker started
# without -Q consumes both; at scale, run `-Q celery` workers for orchestration and `-Q media` workers sized to
# the CPUs, so a burst of composes never delays a provider poll.
CELERY_TASK_DEFAULT_QUEUE = "celery"
MEDIA_QUEUE = env("MEDIA_QUEUE", default="media")
# A third, "webhooks", carries customer webhook deliveries (a slow receiver holds up only other deliveries).
WEBHOOK_QUEUE = env("WEBHOOK_QUEUE", default="webhooks")
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(MEDIA_QUEUE), Queue(WEBHOOK_QUEUE))
CELERY_TASK_ROUTES = {"webhooks.tasks.*": {"queue": WEBHOOK_QUEUE}}
# Worker liveness (video_saas/heartbeat.py): the worker touches this file on its timer; empty = off.
WORKER_HEARTBEAT_FILE = env("WORKER_HEARTBEAT_FILE", default="")
WORKER_HEARTBEAT_INTERVAL_SECONDS = env.float("WORKER_HEARTBEAT_INTERVAL_SECONDS", default=10.0)
# Metrics (video_saas/metrics.py; README "Metrics"). GET /metrics is open to loopback, otherwise it needs
# `Authorization: Bearer <METRICS_TOKEN>` (unset: 404). PROMETHEUS_MULTIPROC_DIR (read by prometheus_client and
# metrics.py, not here) turns on multiprocess mode. WORKER_METRICS_PORT: the Celery worker's own metrics server
# (Kubernetes, where workers share no volume with the API); unset = off.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_OPEN_ON_LOOPBACK = env.bool("METRICS_OPEN_ON_LOOPBACK", default=True)
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=None)
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=15.0)  # beat's schedule: video_saas/celery.py
# Publishing to a dead broker must fail fast in the API (the job is saved; the sweeper starts it later).
CELERY_BROKER_TRANSPORT_OPTIONS.update({"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                        "socket_connect_timeout": 2, "socket_timeout": 5})
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                    "interval_max": 0.5}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = Path(env("CELERY_FILESYSTEM_QUEUE_DIR", default=str(BASE_DIR / "var" / "broker")))
    for _sub in ("in", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {"data_folder_in": str(_queue_dir / "in"), "data_folder_out": str(_queue_dir / "in"),
         "processed_folder": str(_queue_dir / "processed"), "control_folder": str(_queue_dir / "control"),
         "store_processed": False}
    )

# --- Pipeline timing ----------------------------------------------------------------------------------
PIPELINE = {
    # Expected provider latencies: the first poll is scheduled near the expected finish.
    "VEO_EXPECTED_SECONDS": env.float("VEO_EXPECTED_SECONDS", default=75.0),
    "HEYGEN_EXPECTED_SECONDS": env.float("HEYGEN_EXPECTED_SECONDS", default=150.0),
    "POLL_INTERVAL_SECONDS": env.float("POLL_INTERVAL_SECONDS", default=10.0),
    "POLL_MIN_SECONDS": env.float("POLL_MIN_SECONDS", default=1.0),
    "MAX_COUNTDOWN_SECONDS": env.float("MAX_COUNTDOWN_SECONDS", default=300.0),
    # A claimed step's lease, renewed every third of it while the step runs: a dead worker is noticed this fast.
    "LEASE_SECONDS": env.float("STEP_LEASE_SECONDS", default=60.0),
    "MAX_ATTEMPTS": env.int("STEP_MAX_ATTEMPTS", default=5),
    "MAX_POLL_ERRORS": env.int("STEP_MAX_POLL_ERRORS", default=10),
    "STEP_DEADLINE_SECONDS": env.float("STEP_DEADLINE_SECONDS", default=3600.0),
    # A Veo submit whose answer was lost: wait this long for its output to appear before re-submitting.
    "AMBIGUOUS_RECONCILE_SECONDS": env.float("AMBIGUOUS_RECONCILE_SECONDS", default=900.0),
    "REDRIVE_AFTER_SECONDS": env.float("REDRIVE_AFTER_SECONDS", default=30.0),
    "CROSSFADE_SECONDS": env.float("CHAIN_CROSSFADE_SECONDS", default=0.5),
}

# --- Google Cloud: Vertex AI Veo + Cloud Storage -------------------------------------------------------
GCP_PROJECT_ID = env("GCP_PROJECT_ID", default="")
GCP_SERVICE_ACCOUNT_FILE = env("GCP_SERVICE_ACCOUNT_FILE", default="")
GCS_BUCKET = env("GCS_BUCKET", default="")
GCS_PREFIX = env("GCS_PREFIX", default="video-saas")
VEO_MODEL_ID = env("VEO_MODEL_ID", default="veo-3.1-generate-001")
VEO_LOCATION = env("VEO_LOCATION", default="us-central1")
VEO_API_BASE_URL = env("VEO_API_BASE_URL", default="")  # default: https://{VEO_LOCATION}-aiplatform.googleapis.com
VEO_RESOLUTION = env("VEO_RESOLUTION", default="720p")
VEO_RESIZE_MODE = env("VEO_RESIZE_MODE", default="crop")
VEO_TIMEOUT_SECONDS = env.float("VEO_TIMEOUT_SECONDS", default=60.0)
# The two `quality` choices of generate and quote: `standard` and `fast` (Vertex's GA Veo 3.1 models).
VEO_MODELS = {"standard": VEO_MODEL_ID,
              "fast": env("VEO_FAST_MODEL_ID", default="veo-3.1-fast-generate-001")}
GCP_TOKEN_URI = env("GCP_TOKEN_URI", default="")  # override the service-account file's token_uri

# --- HeyGen -------------------------------------------------------------------------------------------
HEYGEN_API_KEY = env("HEYGEN_API_KEY", default="")
HEYGEN_API_VERSION = env("HEYGEN_API_VERSION", default="v3")  # "v3" (default) or "v2" (legacy flow)
HEYGEN_API_BASE_URL = env("HEYGEN_API_BASE_URL", default="https://api.heygen.com")
HEYGEN_UPLOAD_BASE_URL = env("HEYGEN_UPLOAD_BASE_URL", default="https://upload.heygen.com")
HEYGEN_TIMEOUT_SECONDS = env.float("HEYGEN_TIMEOUT_SECONDS", default=60.0)
HEYGEN_RESOLUTION = env("HEYGEN_RESOLUTION", default="720p")
HEYGEN_KEY_COLOR = env("HEYGEN_KEY_COLOR", default="#00FF00")
HEYGEN_MAX_SCRIPT_CHARS = env.int("HEYGEN_MAX_SCRIPT_CHARS", default=5000)
# v2 asset upload (raw bytes): HeyGen's upload guidance is 10 MB; a larger B-roll is re-encoded to fit first.
HEYGEN_UPLOAD_MAX_BYTES = env.int("HEYGEN_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
# The avatar and voice catalogue (video_generation/catalog.py): read from HeyGen, kept in the cache (CACHES, shared
# by every process when REDIS_URL is set) this long; a HeyGen that cannot answer is asked again after the retry time.
HEYGEN_CATALOG_TTL_SECONDS = env.int("HEYGEN_CATALOG_TTL_SECONDS", default=3600)
HEYGEN_CATALOG_RETRY_SECONDS = env.int("HEYGEN_CATALOG_RETRY_SECONDS", default=30)
HEYGEN_CATALOG_TIMEOUT_SECONDS = env.float("HEYGEN_CATALOG_TIMEOUT_SECONDS", default=10.0)  # a whole catalogue
HEYGEN_CATALOG_MAX_PAGES = env.int("HEYGEN_CATALOG_MAX_PAGES", default=40)
# generate and quote refuse an avatar_id or voice_id the catalogue does not list (never when it cannot be read).
HEYGEN_CATALOG_VALIDATION = env.bool("HEYGEN_CATALOG_VALIDATION", default=True)

# --- Provider admission control (video_generation/pipeline/admission.py; README "Admission control and quotas") --
# Counted in Redis so that every worker process and machine shares the same budget; empty: this process's memory
# (single-process runs and the in-process tests). 0 switches a limit off.
ADMISSION_REDIS_URL = env("ADMISSION_REDIS_URL", default=env("REDIS_URL", default=""))
# Vertex's quota for Veo 3.1: 50 predictLongRunning requests a minute per project, region and base model.
VEO_REQUESTS_PER_MINUTE = env.int("VEO_REQUESTS_PER_MINUTE", default=50)
# HeyGen's concurrent renders (Free 1, Pro 3, Scale 6, pay-as-you-go 10: set it to the account's plan).
HEYGEN_MAX_RENDERS_IN_FLIGHT = env.int("HEYGEN_MAX_RENDERS_IN_FLIGHT", default=10)
# A render's slot is renewed on every poll; a slot nobody renews (a dead fleet) frees itself after this long.
HEYGEN_RENDER_SLOT_LEASE_SECONDS = env.float("HEYGEN_RENDER_SLOT_LEASE_SECONDS", default=900.0)

# --- Prices ---------------------------------------------------------------------------------------------
# What the providers charge us, in USD (video_generation/pipeline/pricing.py applies them). Vertex prices Veo per
# second of output, silent output at about half of output with audio (reference/veo-vertex.md, pricing; check
# cloud.google.com/vertex-ai/generative-ai/pricing before relying on them). HeyGen's pay-as-you-go API bills the
# presenter per second of output: a studio avatar (Avatar IV) is $0.0667 a second, $4.00 a minute
# (developers.heygen.com/docs/pricing).
PROVIDER_PRICES = {
    "veo_per_second": {
        VEO_MODELS["standard"]: {"audio": env("VEO_STANDARD_AUDIO_USD_PER_SECOND", default="0.40"),
                                 "silent": env("VEO_STANDARD_SILENT_USD_PER_SECOND", default="0.20")},
        VEO_MODELS["fast"]: {"audio": env("VEO_FAST_AUDIO_USD_PER_SECOND", default="0.15"),
                             "silent": env("VEO_FAST_SILENT_USD_PER_SECOND", default="0.10")},
    },
    "heygen_per_minute": env("HEYGEN_USD_PER_MINUTE", default="4.00"),
}
# The quote's estimate of the narration: the script's words at this speaking rate (a presenter reads about 150 a
# minute; the real length comes from the render).
NARRATION_WORDS_PER_MINUTE = env.int("NARRATION_WORDS_PER_MINUTE", default=150)

# --- Billing ------------------------------------------------------------------------------------------
BILLING_ROLLOVER_INTERVAL_SECONDS = env.float("BILLING_ROLLOVER_INTERVAL_SECONDS", default=300.0)
# A change that takes the available credits below this sends billing.signals.credits_low (the credits.low webhook);
# 0 turns it off.
CREDITS_LOW_THRESHOLD = env.int("CREDITS_LOW_THRESHOLD", default=10)

# --- Storage ------------------------------------------------------------------------------------------
LOCAL_STORAGE_DIR = Path(env("LOCAL_STORAGE_DIR", default=str(BASE_DIR / "var" / "media")))
SIGNED_URL_TTL_SECONDS = env.int("SIGNED_URL_TTL_SECONDS", default=7 * 24 * 3600)
DOWNLOAD_URL_TTL_SECONDS = env.int("DOWNLOAD_URL_TTL_SECONDS", default=300)  # GET /api/video/{id}/download/

# Retention (video_generation/retention.py; README "Deletion, export and retention"): a job's intermediate files go
# this many days after it ended, its finished video after VIDEO_RETENTION_DAYS (or its plan's) from delivery.
INTERMEDIATE_RETENTION_DAYS = env.int("INTERMEDIATE_RETENTION_DAYS", default=7)
VIDEO_RETENTION_DAYS = env.int("VIDEO_RETENTION_DAYS", default=90)
RETENTION_INTERVAL_SECONDS = env.float("RETENTION_INTERVAL_SECONDS", default=3600.0)  # beat: video_saas/celery.py
RETENTION_BATCH = env.int("RETENTION_BATCH", default=200)  # jobs marked per run of the task
# A purge looks again this long after an erasure, for a file a step that was still running wrote after it.
PURGE_RECHECK_SECONDS = env.float("PURGE_RECHECK_SECONDS", default=600.0)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Outbound fetches (product images, webhooks) ----------------------------------------------------------
# Off in production: user-supplied URLs may not reach loopback or private networks (SSRF).
ALLOW_PRIVATE_URLS = env.bool("ALLOW_PRIVATE_URLS", default=False)
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
WEBHOOK_SECRET = env("WEBHOOK_SECRET", default="")  # signs deliveries to a job's own webhook_url (if set)

# --- Webhooks (webhooks/) ---------------------------------------------------------------------------------
# Deliveries are rows; a message on their own queue only says "send this one now", and the sweeper re-sends what
# a lost message left behind (webhooks/delivery.py), on WEBHOOK_QUEUE (above). Endpoints must be https unless
# WEBHOOK_REQUIRE_HTTPS is off (local runs).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=15.0)
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG and not ALLOW_PRIVATE_URLS)
WEBHOOK_MAX_ENDPOINTS_PER_USER = env.int("WEBHOOK_MAX_ENDPOINTS_PER_USER", default=20)

# --- Payments: Stripe ------------------------------------------------------------------------------
# billing/stripe_service.py; payments are on when STRIPE_SECRET_KEY is set. The redirect URLs are your
# app's pages; Stripe replaces {CHECKOUT_SESSION_ID} in the success URL with the session's id.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
STRIPE_SUCCESS_URL = env("STRIPE_SUCCESS_URL",
                         default=PUBLIC_BASE_URL + "/?checkout=success&session_id={CHECKOUT_SESSION_ID}")
STRIPE_CANCEL_URL = env("STRIPE_CANCEL_URL", default=PUBLIC_BASE_URL + "/?checkout=cancelled")
STRIPE_PORTAL_RETURN_URL = env("STRIPE_PORTAL_RETURN_URL", default=PUBLIC_BASE_URL + "/")
# Price ids for the seeded plans and packs, used when the row's own stripe_price_id (set in the admin) is empty.
STRIPE_PRICES = {
    "plan:pro": env("STRIPE_PRICE_PRO", default=""),
    "plan:enterprise": env("STRIPE_PRICE_ENTERPRISE", default=""),
    "pack:credits-50": env("STRIPE_PRICE_CREDITS_50", default=""),
    "pack:credits-200": env("STRIPE_PRICE_CREDITS_200", default=""),
}

# --- Security -----------------------------------------------------------------------------------------
# Production defaults whenever DEBUG is false; each can be turned off from the environment (a plain-HTTP loopback
# stack sets SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE to false and SECURE_HSTS_SECONDS=0).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/video/health/$"]  # load balancers and probes check health over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# How many proxies (load balancer, ingress) stand in front of the app and append to X-Forwarded-For: per-address
# limits read the client's address from there (video_saas/client_address.py). 0: the TCP peer is the client.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
if env.bool("TRUST_X_FORWARDED_PROTO", default=True):  # behind a TLS-terminating proxy that sets the header
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Asking browsers to hard-code HTTPS for the whole domain (HSTS preload) is the operator's decision, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Web app (webapp/): sign-in, e-mail ---------------------------------------------------------------
LOGIN_URL = "webapp:login"
LOGIN_REDIRECT_URL = "webapp:home"
LOGOUT_REDIRECT_URL = "webapp:home"
# Failed web sign-ins allowed per username and per client address ("N/second|minute|hour|day", clock-aligned
# windows counted in the shared cache like GENERATE_RATE_LIMIT); empty: unlimited.
LOGIN_FAILURES_PER_USERNAME = env("LOGIN_FAILURES_PER_USERNAME", default="5/hour")
LOGIN_FAILURES_PER_IP = env("LOGIN_FAILURES_PER_IP", default="20/hour")
# Verification e-mails one account may ask for again ("send the link again").
VERIFICATION_EMAILS_PER_USER = env("VERIFICATION_EMAILS_PER_USER", default="3/hour")
# How long a verification or password-reset link works (Django's token generator reads this).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# Mail goes through Django's backends: printed on the console in local runs, SMTP otherwise.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend" if DEBUG
                    else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)  # an SMTP server that does not answer fails the send
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="video_saas <noreply@localhost>")
# Where django.core.mail.backends.filebased.EmailBackend writes each message (a local stack's processes: devstack).
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))

# --- Request limits -----------------------------------------------------------------------------------
# A generate body is a few kB (20 scenes and a 5000-character script are about 40 kB); anything over the cap is
# answered 413 before it is read, and JSON nested deeper than the depth is answered 400.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=1024 * 1024)
REQUEST_MAX_JSON_DEPTH = env.int("REQUEST_MAX_JSON_DEPTH", default=16)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES

# --- Logs (video_saas/logs.py; README "Logs") ---------------------------------------------------------------
# One JSON object per line (LOG_FORMAT=json, the default with DEBUG off) or readable text (the default with DEBUG on),
# on stdout and, when LOG_FILE is set, appended to that file too. Every line, tracebacks and bound values included,
# goes through the one redaction rule (video_generation/services/redact.py): no token, key or signed URL reaches a
# log. Celery's own loggers write through the same handlers (video_saas/celery.py).
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FILE = env("LOG_FILE", default="")
logs.configure()
LOGGING = logs.logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL, log_file=LOG_FILE)
# django-structlog carries the request id (and the job id) from whoever enqueues a task into the task's log lines,
# through the message's headers (video_saas/celery.py). Its lines for a task's enqueueing, start and success are
# DEBUG (Celery already logs every task received and finished, with the same bound fields); failures stay ERROR.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_CELERY_TASK_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_CELERY_TASK_SUCCESS_LOG_LEVEL = logging.DEBUG
CORS_EXPOSE_HEADERS = ["X-Request-ID"]
