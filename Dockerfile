# One image for every role of video_saas: api, worker, media, webhooks, beat, migrate and the offline sandbox
# (video_saas/entrypoint.py; deploy/k8s/README.md, "The image's contract").
#
#   docker build -t video-saas .                                   # from python:3.11-slim-bookworm
#   podman build --build-arg BASE_IMAGE=localhost/debian-py311:bookworm -t video-saas .
#
# BASE_IMAGE is the only image named: every stage starts from it, so a machine without a registry builds from a base
# it made itself (make compose-check makes one from Debian's packages with debootstrap). It must be Debian bookworm
# (or slim) with Python 3.11 as `python3` on PATH, python3-venv, and CA certificates that reach PyPI.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the locked runtime dependencies, the source, and the static files --------------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml requirements.lock ./
COPY deploy/runtime_requirements.py deploy/
# The runtime dependencies and the `sandbox` extra (gcp-storage-emulator, hibari-tts with its voice inside the
# wheel), every version pinned by requirements.lock; not the dev tools. ffmpeg comes with imageio-ffmpeg's wheel.
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 deploy/runtime_requirements.py --extra sandbox > /tmp/requirements.txt \
    && python3 deploy/runtime_requirements.py --constraints-from requirements.lock > /tmp/constraints.txt \
    && /opt/venv/bin/pip install --no-warn-script-location -c /tmp/constraints.txt -r /tmp/requirements.txt \
    && /opt/venv/bin/pip check
COPY . /app
WORKDIR /app
# Static files (admin, API docs) collected once, here; the settings need a key to load, so a throwaway one that
# lives only in this command (DEBUG stays off: the production settings are the ones checked).
RUN SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')" DEBUG=false \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
    && /opt/venv/bin/python -m compileall -q -j 0 /app >/dev/null

# --- runtime ------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# The sandbox draws each scene's text with DejaVu Sans (sandbox/render.py); slim and debootstrap bases lack it.
# Nothing else comes from apt: ffmpeg is imageio-ffmpeg's, the sandbox's voice (hibari-tts) needs no espeak-ng.
RUN if [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then \
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            fonts-dejavu-core && apt-get clean && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/video_saas/metrics /var/lib/video_saas/sandbox \
    && chown -R 10001:10001 /var/lib/video_saas
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Source and static files belong to root and are read-only for the app; at run time only /tmp and
# /var/lib/video_saas (metrics and sandbox volumes) are written, so a read-only root filesystem works.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=video_saas.settings \
    WHITENOISE_USE_FINDERS=false \
    HOME=/tmp
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Right for every role: the API's /api/video/health/, a worker's heartbeat file, beat's schedule, the sandbox's
# health endpoint (the role the container was started with; video_saas/entrypoint.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "video_saas.entrypoint", "healthcheck"]
ENTRYPOINT ["python", "-m", "video_saas.entrypoint"]
CMD ["api"]
