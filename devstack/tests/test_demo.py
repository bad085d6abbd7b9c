"""`make demo`'s --keep-running: the arguments, the access details it prints, the wait for Ctrl-C, and the order of
it all (the stack is torn down only after the wait), with the stack and the API replaced by fakes."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
from pathlib import Path

import pytest
from django.core.management import call_command

from devstack.management.commands import demo
from devstack.management.commands.demo import (
    DEMO_USER,
    KEEP_RUNNING_CREDITS,
    Command,
    access_details,
    ready_account,
    wait_until_stopped,
)


def parse(*argv: str):
    return Command().create_parser("manage.py", "demo").parse_args(list(argv))


def test_keep_running_and_the_port_are_off_and_free_unless_asked_for():
    options = parse()
    assert options.keep_running is False and options.port == 0
    options = parse("--keep-running", "--port", "8123")
    assert options.keep_running is True and options.port == 8123


def test_the_access_details_give_the_address_the_sign_in_the_mail_folder_and_how_to_stop(tmp_path):
    text = access_details("http://127.0.0.1:8123", "demo", "s3cret-made-now", mail_dir=tmp_path / "mail",
                          logs=tmp_path / "logs")
    assert "http://127.0.0.1:8123/" in text
    assert "username: demo" in text and "password: s3cret-made-now" in text
    assert str(tmp_path / "mail") in text and str(tmp_path / "logs") in text
    assert "Ctrl-C" in text


def test_waiting_ends_when_the_stop_event_is_set():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    wait_until_stopped(stop, poll=0.05)
    assert stop.is_set()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_waiting_ends_on_ctrl_c_or_sigterm_and_puts_the_previous_handlers_back(signum):
    before = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    threading.Timer(0.1, os.kill, args=(os.getpid(), signum)).start()
    wait_until_stopped(stop, poll=0.05)
    assert stop.is_set()
    assert {each: signal.getsignal(each) for each in before} == before


def test_waiting_ends_quietly_on_a_keyboard_interrupt():
    class Interrupted(threading.Event):
        def wait(self, timeout=None):
            raise KeyboardInterrupt

    wait_until_stopped(Interrupted())  # returns: the caller then tears the stack down


class FakeStack:
    def __init__(self, events: list, workdir: Path):
        self.events = events
        self.sandbox_url = "http://127.0.0.1:1"
        self.mail_dir = workdir / "mail"
        self.web_users: list[tuple[str, str]] = []

    def start_worker(self, **kwargs):
        self.events.append("worker")

    def start_api(self, **kwargs):
        self.events.append("api")
        return "http://127.0.0.1:8123"

    def create_token(self, username, plan=None):
        return "vsk_test"

    def create_web_user(self, username, password, **kwargs):
        self.events.append("web user")
        self.web_users.append((username, password))

    def manage(self, *args, **kwargs):
        self.events.append(" ".join(args))
        return ""


def test_ready_account_makes_a_new_password_each_run_and_grants_the_credits(tmp_path):
    stack = FakeStack([], tmp_path)
    first = ready_account(stack, "demo", credits=30)
    second = ready_account(stack, "demo", credits=0)
    assert first != second and len(first) >= 16
    assert stack.web_users == [("demo", first), ("demo", second)]
    assert stack.events == ["web user", "grant_credits demo 30 --reason Demo credits to try the web app", "web user"]


class FakeApi:
    def __init__(self, url, token):
        pass

    def quote(self, brief):
        return {"credits": 3, "duration_seconds": 24, "estimated_cost_usd": "1.00"}

    def account(self):
        return {"plan": {"name": "Free"}, "credits": {"available": 12}}

    def submit(self, brief):
        return {"job_id": "job-1"}

    def watch(self, job_id, **kwargs):
        return {"id": job_id, "status": "completed", "credits_used": 3, "processing_time_seconds": 9}

    def download(self, job, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"mp4")
        return path


@pytest.fixture
def faked(monkeypatch, tmp_path):
    """The stack and the API replaced by fakes that note what happened, in order, in `faked.events`."""
    events: list[str] = []
    stack = FakeStack(events, tmp_path)

    @contextlib.contextmanager
    def fake_local_stack(workdir, **kwargs):
        events.append(f"up on port {kwargs['api_port']}")
        yield stack
        events.append("down")

    def noted_wait(stop):
        events.append("waiting")
        wait_until_stopped(stop)

    monkeypatch.setattr(demo, "local_stack", fake_local_stack)
    monkeypatch.setattr(demo, "VideoApi", FakeApi)
    monkeypatch.setattr(demo, "wait_until_stopped", noted_wait)
    monkeypatch.setattr(Command, "describe", lambda self, path, job: "described")
    return stack


def run(*argv: str) -> tuple[str, str]:
    command = Command()
    command.stop.set()  # as if Ctrl-C came at once
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *argv, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_keep_running_prints_the_sign_in_after_the_video_and_tears_down_only_after_the_wait(faked, tmp_path):
    out, err = run("--keep-running", "--port", "8123", "--out", str(tmp_path / "out"))

    assert out.strip().splitlines()[-1] == str((tmp_path / "out" / "job-1.mp4").resolve())
    [(username, password)] = faked.web_users
    assert username == DEMO_USER
    assert "http://127.0.0.1:8123/" in err and f"password: {password}" in err
    assert err.index("described") < err.index("username: demo")
    events = faked.events
    assert events[0] == "up on port 8123"
    assert events.index("web user") < events.index("waiting") < events.index("down") == len(events) - 1
    assert f"grant_credits demo {KEEP_RUNNING_CREDITS} --reason Demo credits to try the web app" in events


def test_without_keep_running_the_demo_makes_no_web_account_and_does_not_wait(faked, tmp_path):
    out, err = run("--out", str(tmp_path / "out"))

    assert out.strip().splitlines()[-1].endswith("job-1.mp4")
    assert faked.web_users == [] and "waiting" not in faked.events
    assert "password" not in err
    assert faked.events[-1] == "down"
