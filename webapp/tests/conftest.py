"""Web app fixtures: a browser-like client, sign-up through the pages, and the links the e-mails carry."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

PASSWORD = "correct-Horse-battery-9"
LINK = re.compile(r"https?://testserver(/\S+)")


@pytest.fixture(autouse=True)
def _mid_window():
    """Sign-in limits count in clock-aligned windows: every test runs well inside one (the clock still moves)."""
    with time_machine.travel(datetime(2030, 6, 12, 10, 5, tzinfo=UTC), tick=True):
        yield


def link_in(message) -> str:
    """The path of the one link in an e-mail."""
    found = LINK.findall(message.body)
    assert len(found) == 1, message.body
    return found[0]


def sign_up(client, *, username="carol", email="carol@example.com", password=PASSWORD):
    return client.post("/accounts/sign-up/", {"username": username, "email": email, "password1": password,
                                               "password2": password})


def sign_in(client, username="carol", password=PASSWORD, **extra):
    return client.post("/accounts/sign-in/", {"username": username, "password": password}, **extra)


@pytest.fixture
def verified(client, django_user_model):
    """Sign up "carol" through the page and follow the link she was mailed: an active user."""
    sign_up(client)
    client.get(link_in(mail.outbox[-1]))
    return django_user_model.objects.get(username="carol")


# --- jobs: a signed-in member and their videos in each state, made by the pipeline's own functions ----------------


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("mia", "mia@example.com", PASSWORD)


@pytest.fixture
def member_client(member):
    from django.test import Client

    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def signed_in(user):
    """A client signed in as the root conftest's `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def browser(member_client):
    """The member's signed-in client, for tests that act as the person at the browser."""
    return member_client


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Starting a job publishes its first message after commit: the page tests drive the jobs themselves."""
    from video_generation.pipeline import dispatch

    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


class Jobs:
    """Jobs of a user in each state, as the pipeline makes them: accepted by create_job (its credits held on the
    ledger), planned by the machine, then failed, completed or cancelled by the transitions the worker uses."""

    def __init__(self, settings):
        self.settings = settings

    def started(self, user, **brief):
        from devstack.briefs import headphones_brief
        from video_generation.pipeline import create_job
        from video_generation.pipeline.machine import ensure_plan
        from video_generation.serializers import VideoGenerationRequestSerializer

        request = VideoGenerationRequestSerializer(
            data={**headphones_brief("https://cdn.example.com/headphones.jpg"), **brief})
        request.is_valid(raise_exception=True)
        job = create_job(user=user, data=request.validated_data)
        ensure_plan(job)
        job.refresh_from_db()
        return job

    def step(self, job, key):
        return job.steps.get(key=key)

    def running(self, user):
        """The image fetched, scene 1 rendering at Veo."""
        from video_generation.models import StepState
        from video_generation.pipeline.states import move_step
        from video_generation.pipeline.transitions import refresh_job

        job = self.started(user)
        image = self.step(job, "image")
        move_step(image, StepState.RUNNING, expect=[StepState.PENDING])
        move_step(image, StepState.SUCCEEDED, expect=[StepState.RUNNING])
        scene = self.step(job, "veo:c0:s0")
        move_step(scene, StepState.SUBMITTING, expect=[StepState.PENDING])
        move_step(scene, StepState.SUBMITTED, expect=[StepState.SUBMITTING], external_id="operations/1")
        refresh_job(job.id)
        job.refresh_from_db()
        return job

    def failed(self, user, *, key="veo:c0:s1", code="safety_filtered",
               message="the safety filter blocked the video (1 video was filtered out)"):
        from video_generation.pipeline.machine import fail_step

        job = self.started(user) if key == "image" else self.running(user)  # in running, the image is fetched
        fail_step(self.step(job, key), code, message)
        job.refresh_from_db()
        return job

    def completed(self, user, *, captions=True, seconds=22.0):
        from video_generation.pipeline.transitions import complete_job

        job = self.started(user)
        folder = self.settings.LOCAL_STORAGE_DIR / "jobs" / str(job.id)
        folder.mkdir(parents=True)
        files = {"final": ("final.mp4", b"the finished video"), "poster_uri": ("final-poster.jpg", b"\xff\xd8poster"),
                 "preview_uri": ("final-preview.mp4", b"the preview")}
        if captions:
            files["captions_srt_uri"] = ("final-captions.srt", b"1\n00:00:00,000 --> 00:00:02,000\nHello\n")
            files["captions_vtt_uri"] = ("final-captions.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n")
        uris = {}
        for name, (file_name, content) in files.items():
            (folder / file_name).write_bytes(content)
            uris[name] = (folder / file_name).as_uri()
        final = uris.pop("final")
        assert complete_job(job.id, final_uri=final, duration_seconds=seconds, side_files=uris)
        job.refresh_from_db()
        return job

    def cancelled(self, user):
        from video_generation.pipeline import cancel_job

        job = self.running(user)
        assert cancel_job(job)
        return job


@pytest.fixture
def jobs(settings):
    return Jobs(settings)
