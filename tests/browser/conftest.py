"""Browser-test fixtures: the web app in Debian's chromium (driven by Playwright) against ONE real stack for the whole
package — the API server that also serves the web app, a Celery worker with beat, the sandbox providers and the
storage emulator (devstack.local_stack) — on a scratch PostgreSQL database and Redis DB when DATABASE_URL and
REDIS_URL are set (tests/stacks.py, as the end-to-end suite), SQLite and a filesystem broker otherwise.

The stack's e-mails go to files (Django's file backend): `mailbox` reads them. Every test here is marked `browser`.

Fixtures for a new test:
  page               a fresh browser context and tab at desktop width, not signed in; page.goto("/path") is relative
                     to the web app; every request to a third party is blocked and recorded in `page_log`
  signed_in_page     the same, signed in as `account` (one sign-in per package, its cookies reused): do not sign out
                     in it; sign in a `new_account()` in `page` for that
  account            a ready account (verified, free plan) made once per package; new_account() makes another
  mailbox            the e-mails the stack sent: mailbox.link(to_address) is the link in the newest one
  site               all of these together (helpers.Site), and the account's videos through the API:
                     site.make_video(**brief fields), site.finished_video() (one, made once and shared)
  browser_stack      the devstack.stack.Stack: api_url, sandbox_url, manage(...), create_web_user(...), logs
The stack's database is not the in-process one: reach it through the stack (HTTP, browser_stack.manage), never the
ORM. Chromium comes from `make browser` (CHROMIUM overrides its path).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from devstack.stack import local_stack
from tests.stacks import scratch_database, scratch_redis

from .helpers import FAILURES, Account, Mailbox, PageLog, Site, sign_in

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
# tooling.md §6: headless Chromium as root in a container; no network beyond this machine, no first-run chores.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars"]
DESKTOP = {"width": 1280, "height": 800}
ACTION_TIMEOUT_MS = 15_000  # a click or a wait for an element; the stack shares 2 cores with the test process
NAVIGATION_TIMEOUT_MS = 30_000
VEO_SECONDS = 1.5  # the sandbox's render latencies, as in the end-to-end suite
HEYGEN_SECONDS = 2.5


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so `page` knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"browser_report_{report.when}", report)
    return report


# --- the stack ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="package")
def browser_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("browser-stack")
    with scratch_database(os.environ.get("DATABASE_URL", ""), prefix="browser") as database_url, \
            scratch_redis(os.environ.get("REDIS_URL", "")) as redis_url, \
            local_stack(workdir, veo_seconds=VEO_SECONDS, heygen_seconds=HEYGEN_SECONDS, database_url=database_url,
                        redis_url=redis_url, sandbox_args=("--render-workers", "2"),
                        extra_env={"COMPOSE_FFMPEG_THREADS": "2"}) as stack:
        stack.start_worker(concurrency=2)
        stack.start_api(workers=2)
        yield stack


@pytest.fixture(scope="package")
def mailbox(browser_stack):
    return Mailbox(browser_stack.mail_dir)


@pytest.fixture(scope="package")
def new_account(browser_stack):
    """Makes a ready account (verified e-mail, the free plan's credits) with a fresh name and password."""

    def make(prefix: str = "user") -> Account:
        username = f"{prefix}-{secrets.token_hex(4)}"
        account = Account(username=username, password=secrets.token_urlsafe(12), email=f"{username}@example.com")
        browser_stack.create_web_user(account.username, account.password, email=account.email)
        return account

    return make


@pytest.fixture(scope="package")
def account(new_account):
    return new_account("ready")


@pytest.fixture(scope="package")
def site(browser_stack, account, mailbox):
    return Site(stack=browser_stack, account=account, mailbox=mailbox)


# --- the browser --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="package")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"no Chromium at {CHROMIUM}: `make browser` installs Debian's package (or set CHROMIUM)"
        if os.environ.get("REQUIRE_SERVICES") == "1":  # CI: the browser tests must run
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def _open_page(chromium, stack, request, log: PageLog, storage_state=None):
    context = chromium.new_context(base_url=stack.api_url, viewport=DESKTOP, storage_state=storage_state,
                                   reduced_motion="reduce")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    log.watch(context)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "browser_report_call", None)
        if report is not None and report.failed:
            _keep_evidence(page, request.node.name)
        context.close()


def _keep_evidence(page, test_name: str) -> None:
    """The page at the moment the test failed: var/browser-failures/<test>.png and .html."""
    FAILURES.mkdir(parents=True, exist_ok=True)
    stem = FAILURES / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    try:
        page.screenshot(path=stem.with_suffix(".png"), full_page=True)
        stem.with_suffix(".html").write_text(page.content())
    except Exception as exc:  # the page may be gone (a crash, the timeout): the failure itself is what matters
        print(f"could not keep the failed page: {exc!r}")


@pytest.fixture
def page_log():
    return PageLog()


@pytest.fixture
def page(chromium, browser_stack, request, page_log):
    yield from _open_page(chromium, browser_stack, request, page_log)


@pytest.fixture(scope="package")
def signed_in_state(chromium, browser_stack, account):
    """The cookies of one sign-in as `account`, through the form."""
    context = chromium.new_context(base_url=browser_stack.api_url, viewport=DESKTOP)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        sign_in(context.new_page(), account)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def signed_in_page(chromium, browser_stack, request, page_log, signed_in_state):
    yield from _open_page(chromium, browser_stack, request, page_log, storage_state=signed_in_state)
