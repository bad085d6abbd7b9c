"""What the browser tests do to a page: scan it with axe-core, photograph it at phone and desktop widths, check it fits
a small phone, sign in, and read the e-mails the stack wrote."""

from __future__ import annotations

import email
import email.policy
import io
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Locator, Page, expect

from devstack.briefs import headphones_brief
from devstack.stack import REPO, Stack
from video_generation.client import VideoApi

SCREENSHOTS = REPO / "var" / "screenshots"  # git-ignored (var/); for a person to review
FAILURES = REPO / "var" / "browser-failures"  # the page as it was when a test failed
WIDTHS = {"phone": (390, 844), "desktop": (1280, 800)}
SMALLEST_PHONE = (360, 740)  # the pages must work down to this width without sideways scrolling
BLOCKING_IMPACTS = ("serious", "critical")
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}

_axe = Axe()  # axe-core's axe.min.js as bundled by axe-playwright-python (version in pyproject.toml's comment)


# --- accessibility ---------------------------------------------------------------------------------------------

def accessibility_violations(page: Page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """axe-core's violations on the page as it is now, those with one of `impacts`."""
    results = _axe.run(page)
    return [violation for violation in results.response["violations"] if violation["impact"] in impacts]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} [{violation['helpUrl']}]")
        for node in violation["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}")
            summary = (node.get("failureSummary") or "").replace("\n", " ").strip()
            if summary:
                lines.append(f"       {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fails on any axe-core violation of impact serious or critical, listing each rule, its help text and the
    elements it found (their CSS selectors, and what is wrong with each, e.g. the contrast ratio)."""
    violations = accessibility_violations(page)
    assert not violations, f"accessibility violations on {page.url}:\n{describe_violations(violations)}"


# --- layout and screenshots -------------------------------------------------------------------------------------

def screenshots(page: Page, name: str) -> list[Path]:
    """The whole page at phone and desktop widths: var/screenshots/<name>-phone.png and <name>-desktop.png. The
    viewport is put back as it was."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    written = []
    try:
        for label, (width, height) in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            path = SCREENSHOTS / f"{name}-{label}.png"
            page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
            written.append(path)
    finally:
        if before:
            page.set_viewport_size(before)
    return written


def assert_fits_small_phone(page: Page) -> None:
    """At 360 px nothing makes the page scroll sideways."""
    before = page.viewport_size
    width, height = SMALLEST_PHONE
    page.set_viewport_size({"width": width, "height": height})
    try:
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at a {width} px viewport"
    finally:
        if before:
            page.set_viewport_size(before)


# --- what a page loaded ----------------------------------------------------------------------------------------

@dataclass
class PageLog:
    """What the pages of one test asked for that they should not have: requests to anywhere but this machine
    (blocked: nothing may come from a third party), sub-resources that failed, and uncaught script errors."""

    offsite: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        """Record what every page of `context` does, and block its requests to anywhere but this machine."""
        context.route("**/*", self._block_offsite)
        context.on("requestfailed", self._request_failed)
        context.on("response", self._response)
        context.on("weberror", lambda error: self.script_errors.append(str(error.error)))

    def _request_failed(self, request) -> None:
        if _offsite(request.url):  # blocked on purpose, and listed in `offsite`
            return
        if request.resource_type == "media" and request.failure == "net::ERR_ABORTED":
            return  # a player stops downloading a video once it has what it needs (its metadata): no failure
        self.failed.append(f"{request.url.split('?')[0]} ({request.resource_type}: {request.failure})")

    def _response(self, response) -> None:
        # A page itself may answer 400 or 404 on purpose (a form with errors, the not-found page); what it loads not.
        if response.status >= 400 and response.request.resource_type != "document":
            self.failed.append(f"{response.url.split('?')[0]} ({response.status})")

    def _block_offsite(self, route) -> None:
        if _offsite(route.request.url):
            self.offsite.append(route.request.url)
            route.abort()
        else:
            route.fallback()

    def assert_clean(self) -> None:
        assert not self.offsite, f"requests to third parties: {self.offsite}"
        assert not self.failed, f"sub-resources that failed: {self.failed}"
        assert not self.script_errors, f"script errors: {self.script_errors}"


def _offsite(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") not in LOOPBACK


# --- accounts -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Account:
    username: str
    password: str
    email: str


def labelled(page: Page, label: str) -> Locator:
    """The form control labelled exactly `label` (Django's labels may end with a colon)."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}:?\s*$"))


def sign_in(page: Page, account: Account) -> None:
    """Through the sign-in form, as a person would; lands on the dashboard."""
    page.goto("/accounts/sign-in/")
    labelled(page, "Username").fill(account.username)
    labelled(page, "Password").fill(account.password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
    page.wait_for_load_state("load")  # the dashboard's scripts too: a goto now would cancel them (ERR_ABORTED)


# --- the site -------------------------------------------------------------------------------------------------

@dataclass
class Site:
    """The running web app, for tests and PAGES rows: its stack, the signed-in account, the mailbox, and that
    account's videos made through the HTTP API (as a script would, with an API key made for it)."""

    stack: Stack
    account: Account
    mailbox: Mailbox
    _api: VideoApi | None = None
    _finished: dict | None = None

    def api(self) -> VideoApi:
        if self._api is None:
            self._api = VideoApi(self.stack.api_url, self.stack.create_token(self.account.username))
        return self._api

    def make_video(self, timeout: float = 240.0, **brief) -> dict:
        """Submit the headphones brief (with `brief`'s fields on top) and wait for the job to end: its final body."""
        submitted = self.api().submit({**headphones_brief(f"{self.stack.sandbox_url}/assets/headphones.png"),
                                       **brief})
        return self.api().watch(submitted["job_id"], interval=0.5, timeout=timeout, out=io.StringIO())

    def finished_video(self) -> dict:
        """One completed headphones video of the account, made the first time it is asked for (then shared)."""
        if self._finished is None:
            job = self.make_video()
            assert job["status"] == "completed", job
            self._finished = job
        return self._finished


# --- e-mail ----------------------------------------------------------------------------------------------------

MESSAGE_SEPARATOR = re.compile(rb"\n-{79}\n")  # Django's file backend writes this line after each message
LINK = re.compile(r"https?://\S+")


class Mailbox:
    """The messages the stack's processes wrote with Django's file-based e-mail backend (EMAIL_FILE_PATH)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """Every message (to `to` only, when given), oldest first."""
        files = sorted(self.folder.glob("*.log"), key=lambda path: (path.stat().st_mtime_ns, path.name)) \
            if self.folder.exists() else []
        found = []
        for path in files:
            for chunk in MESSAGE_SEPARATOR.split(path.read_bytes()):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk, policy=email.policy.default))
        return [m for m in found if to is None or to.casefold() in str(m["To"]).casefold()]

    def newest(self, to: str, *, after: int = 0, timeout: float = 15.0) -> EmailMessage:
        """The newest message to `to`, waiting for it to arrive; `after`: how many to `to` there were before (so an
        older message is not taken for the one expected)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages(to)
            if len(messages) > after:
                return messages[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no new e-mail to {to} in {self.folder} within {timeout:.0f} s")
            time.sleep(0.1)

    def link(self, to: str, *, after: int = 0) -> str:
        """The one link in the newest message to `to` (a verification or password-reset link)."""
        body = self.newest(to, after=after).get_body(("plain",)).get_content()
        links = LINK.findall(body)
        assert len(links) == 1, f"expected one link in the e-mail to {to}:\n{body}"
        return links[0]
