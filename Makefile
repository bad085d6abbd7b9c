# The two commands that set everything up on a fresh machine:
#   make demo   the whole pipeline end to end on the sandbox providers; prints the finished MP4's path last
#   make test   the test suite (SQLite + in-process broker; PostgreSQL + Redis when DATABASE_URL/REDIS_URL are set)

# The newest Python from 3.13 down to 3.11 that runs here (a pyenv shim for a version that is not active does not);
# override with `make PYTHON=/path/to/python3.x`.
PYTHON ?= $(shell for v in 3.13 3.12 3.11; do python$$v -c "" >/dev/null 2>&1 && { echo python$$v; exit; }; done; echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install browser test demo run worker beat sandbox lock lint bench compose-check clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

# The browser tests (tests/browser) drive Debian's chromium through Playwright (Playwright's own browser download is
# never used). Installed with apt-get when missing and we are root (as in CI); otherwise this says what to install.
# Another build: `make test CHROMIUM=/path/to/chromium` (the tests read the same variable).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium for the browser tests (apt-get; log: var/apt-chromium.log)"; \
	  mkdir -p var; \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } > var/apt-chromium.log 2>&1 \
	    || { tail -n 20 var/apt-chromium.log >&2; exit 1; }; \
	  test -x "$(CHROMIUM)" || { echo "apt-get installed chromium, but $(CHROMIUM) is not there" >&2; exit 1; }; \
	else \
	  echo "The browser tests need Chromium at $(CHROMIUM). Install Debian's package as root" \
	       "(apt-get install chromium), or run make with CHROMIUM=/path/to/chromium." >&2; exit 1; \
	fi

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Local runs default to DEBUG=true (no SECRET_KEY needed); production sets DEBUG=false and a real key.
LOCAL := DEBUG=$${DEBUG:-true}

demo: install
	$(LOCAL) $(BIN)/python manage.py demo $(DEMO_ARGS)

run: install
	$(LOCAL) $(BIN)/python manage.py migrate --noinput
	$(LOCAL) $(BIN)/gunicorn video_saas.wsgi:application --bind 127.0.0.1:8000 --workers 2

worker: install  # takes both queues; at scale run `-Q celery` and `-Q media` workers apart (README)
	$(LOCAL) $(BIN)/celery -A video_saas worker --loglevel=INFO --concurrency=4

beat: install
	$(LOCAL) $(BIN)/celery -A video_saas beat --loglevel=INFO

sandbox: install
	$(BIN)/python -m sandbox serve

lock: install
	$(BIN)/pip-compile --quiet --all-extras --strip-extras -o requirements.lock pyproject.toml

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Builds the image with podman (installing podman from Debian's packages if missing), runs docker-compose.yml with the
# sandbox profile, makes the headphones video through the API, checks it and /metrics, and tears it all down.
compose-check: install
	$(BIN)/python deploy/compose_check.py $(COMPOSE_CHECK_ARGS)

clean:
	rm -rf var .pytest_cache
