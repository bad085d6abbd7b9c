"""A harness for the state machine: fake providers that keep a ledger of paid calls, an in-memory bucket, and
a driver that runs published tasks in due order on a virtual clock (countdowns are honoured, nobody sleeps)."""

from __future__ import annotations

import heapq
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from devstack.briefs import headphones_brief
from video_generation import downloads, tasks
from video_generation.models import JobStep, VideoJob
from video_generation.pipeline import dispatch, handlers, jobs, machine, providers
from video_generation.services import alignment, captions, compose
from video_generation.services.errors import AmbiguousError, PermanentError, RateLimitedError
from video_generation.services.heygen_service import HeyGenVideo, Listing, MattingUnsupportedError
from video_generation.services.safe_http import Fetched
from video_generation.services.veo_service import MediaRef, VeoResult
from webhooks import delivery as webhook_delivery
from webhooks import tasks as webhook_tasks

BRIEF = {
    **headphones_brief("https://cdn.example.com/headphones.jpg"),
    "avatar_script": "Introducing our revolutionary wireless headphones.",
    "avatar_position": {"scale": 0.8, "x": 0.7, "y": 0.8},
}


SUBTITLES = "1\n00:00:00,400 --> 00:00:02,000\nIntroducing our headphones.\n\n"


def brief(scene_count: int = 3, **overrides) -> dict:
    scenes = [dict(BRIEF["scenes"][i % 3]) for i in range(scene_count)]
    return {**BRIEF, "scenes": scenes, **overrides}


class FakeStorage:
    """A private bucket in memory, with the Storage interface the pipeline uses."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def uri_for(self, path):
        return f"gs://fake-bucket/{path}"

    def veo_output_prefix(self, path):
        return f"gs://fake-bucket/{path}/"

    def upload_file(self, local_path, path, content_type):
        return self.upload_bytes(Path(local_path).read_bytes(), path, content_type)

    def upload_bytes(self, data, path, content_type):
        self.objects[self.uri_for(path)] = bytes(data)
        return self.uri_for(path)

    def download_to(self, uri, local_path):
        Path(local_path).write_bytes(self.objects[uri])
        return Path(local_path)

    def read_bytes(self, uri):
        return self.objects[uri]

    def list_uris(self, prefix_uri):
        return sorted(uri for uri in self.objects if uri.startswith(prefix_uri))

    def owns(self, uri):
        return uri.startswith("gs://fake-bucket/")

    def v4_signed_url(self, uri, *, ttl_seconds, filename=None):
        return "https://signed.example/" + uri.removeprefix("gs://") + "?X-Goog-Signature=abc"


@dataclass
class FakeOperation:
    name: str
    kind: str
    request: dict
    polls_left: int
    outcome: str = "succeeded"


@dataclass
class FakeVeo:
    storage: FakeStorage
    polls_until_done: int = 1
    ledger: list = field(default_factory=list)
    operations: dict = field(default_factory=dict)
    submit_errors: list = field(default_factory=list)  # raised in order, one per submit call
    poll_errors: list = field(default_factory=list)
    outcomes: dict = field(default_factory=dict)  # prompt substring -> "filtered" | "failed"
    lose_answer_once: set = field(default_factory=set)  # prompt substrings whose first answer is lost
    requests_per_minute: int = 0  # Vertex's quota per model, enforced as Vertex does (429) when set
    sent_at: dict = field(default_factory=dict)  # model -> when each accepted request came (the virtual clock)
    refused: int = 0  # 429s answered for the quota

    def model(self, model_id):
        """The client of one model, as providers.veo(model_id) hands it out."""
        return FakeVeoModel(self, model_id)

    def _submit(self, kind, prompt, storage_uri, model_id, **request):
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        self._take_quota(model_id)
        name = f"projects/p/locations/us-central1/publishers/google/models/{model_id}/operations/{uuid.uuid4()}"
        outcome = next((o for marker, o in self.outcomes.items() if marker in prompt), "succeeded")
        op = FakeOperation(name, kind, {"prompt": prompt, "storage_uri": storage_uri, "model": model_id, **request},
                           self.polls_until_done, outcome)
        self.operations[name] = op
        self.ledger.append((kind, name, prompt))
        lost = next((marker for marker in self.lose_answer_once if marker in prompt), None)
        if lost:
            self.lose_answer_once.discard(lost)
            self._finish(op)  # the provider did the work; only our answer is lost
            raise AmbiguousError("veo did not answer in time (ReadTimeout)", provider="veo", code="no_response")
        return name

    def generate_base_video(self, *, model_id, prompt, image, storage_uri, duration_seconds, aspect_ratio,
                            generate_audio, resolution=None, resize_mode=None, seed=None):
        assert image.gcs_uri or image.data
        assert isinstance(generate_audio, bool)
        return self._submit("generate", prompt, storage_uri, model_id, duration_seconds=duration_seconds,
                            image=image, generate_audio=generate_audio)

    def extend_video(self, *, model_id, video, prompt, storage_uri, aspect_ratio, resolution=None, seed=None):
        assert video.gcs_uri or video.data
        return self._submit("extend", prompt, storage_uri, model_id, video=video)

    def _take_quota(self, model_id):
        now = timezone.now().timestamp()
        sent = self.sent_at.setdefault(model_id, [])
        if self.requests_per_minute and sum(1 for t in sent if t > now - 60) >= self.requests_per_minute:
            self.refused += 1
            raise RateLimitedError("Resource exhausted. Please try again later.", provider="veo",
                                   code="RESOURCE_EXHAUSTED", status_code=429)
        sent.append(now)

    def _finish(self, op):
        if op.outcome == "succeeded" and op.request["storage_uri"]:
            uri = op.request["storage_uri"] + "1234/sample_0.mp4"
            self.storage.objects[uri] = f"video for {op.request['prompt']}".encode()
            return uri
        return None

    def fetch_operation(self, name, *, model_id):
        if self.poll_errors:
            raise self.poll_errors.pop(0)
        op = self.operations[name]
        if op.request["model"] != model_id:  # Vertex knows an operation only on its own model's path
            raise PermanentError(f"Operation {name} was not found.", provider="veo", code="NOT_FOUND",
                                 status_code=404)
        if op.polls_left > 0:
            op.polls_left -= 1
            return VeoResult(state="running")
        if op.outcome == "filtered":
            return VeoResult(state="filtered", error_message="1 videos were filtered out. Support codes: 17301594")
        if op.outcome == "failed":
            return VeoResult(state="failed", error_code="13", error_message="internal error")
        uri = self._finish(op)
        return VeoResult(state="succeeded", videos=(MediaRef(mime_type="video/mp4", gcs_uri=uri),))


@dataclass
class FakeVeoModel:
    """One model's client: every call goes to the shared fake Veo, saying which model it was made on."""

    veo: FakeVeo
    model_id: str

    def generate_base_video(self, **kwargs):
        return self.veo.generate_base_video(model_id=self.model_id, **kwargs)

    def extend_video(self, **kwargs):
        return self.veo.extend_video(model_id=self.model_id, **kwargs)

    def fetch_operation(self, name):
        return self.veo.fetch_operation(name, model_id=self.model_id)


@dataclass
class FakeHeyGen:
    polls_until_done: int = 2
    ledger: list = field(default_factory=list)
    videos: dict = field(default_factory=dict)
    by_idempotency_key: dict = field(default_factory=dict)
    matting: bool = True
    fail_render: bool = False
    lose_answer_once: bool = False
    duration: float | None = 6.0  # the finished render's length, as HeyGen reports it
    assets: list = field(default_factory=list)
    looks: tuple = ()  # its avatar catalogue (AvatarLook); empty: the catalogue knows no avatar
    refused: int = 0  # transparent renders refused for want of matting
    subtitles: bool = True  # completed renders come with a subtitle file (SUBTITLES)

    def list_avatar_looks(self, **kwargs) -> Listing:
        return Listing(self.looks, complete=True)

    def create_presenter_video(self, *, avatar_id, voice_id, script, aspect_ratio, idempotency_key,
                               transparent=True, background_color=None, **kwargs):
        if transparent and not self.matting:
            self.refused += 1
            raise MattingUnsupportedError("avatar cannot be matted", provider="heygen", code="invalid_parameter",
                                          status_code=400)
        if idempotency_key in self.by_idempotency_key:
            return self.by_idempotency_key[idempotency_key]
        video_id = uuid.uuid4().hex
        self.by_idempotency_key[idempotency_key] = video_id
        self.videos[video_id] = self.polls_until_done
        self.ledger.append(("v3_create", video_id, transparent, background_color))
        if self.lose_answer_once:
            self.lose_answer_once = False
            raise AmbiguousError("heygen did not answer in time", provider="heygen", code="no_response")
        return video_id

    def upload_video_asset(self, data, content_type="video/mp4"):
        self.assets.append(data)
        return f"asset-{len(self.assets)}"

    def generate_avatar_video(self, *, video_asset_id, **kwargs):
        video_id = uuid.uuid4().hex
        self.videos[video_id] = self.polls_until_done
        self.ledger.append(("v2_generate", video_id, video_asset_id))
        return video_id

    def _status(self, video_id):
        if self.videos[video_id] > 0:
            self.videos[video_id] -= 1
            return HeyGenVideo(video_id=video_id, state="processing")
        if self.fail_render:
            return HeyGenVideo(video_id=video_id, state="failed", failure_code="RENDER_ERROR",
                               failure_message="avatar render failed")
        return HeyGenVideo(video_id=video_id, state="completed", video_url=f"https://files.heygen/{video_id}.webm",
                           duration=self.duration,
                           subtitle_url=f"https://files.heygen/{video_id}.srt" if self.subtitles else "")

    get_video = _status
    get_video_status_v2 = _status

    bulk_calls: list = field(default_factory=list)  # the ids of each GET /v3/videos/statuses

    def get_video_statuses(self, video_ids):
        self.bulk_calls.append(list(video_ids))
        return {video_id: self._status(video_id) for video_id in video_ids if video_id in self.videos}

    def download(self, url, dest, *, max_bytes=0):
        if url.endswith(".srt"):
            Path(dest).write_text(SUBTITLES)
        else:
            Path(dest).write_bytes(b"presenter:" + url.encode())
        return 10


@dataclass
class Driver:
    """Runs published Celery tasks in due order on a virtual clock."""

    traveller: object
    queue: list = field(default_factory=list)
    counter: itertools.count = field(default_factory=itertools.count)
    history: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    drop: set = field(default_factory=set)  # task names whose messages get lost
    routed: list = field(default_factory=list)  # (task name, args, queue) of every message published
    broker_down: bool = False

    TASKS = {
        tasks.process_video_job.name: lambda arg: machine.advance_job(arg),
        tasks.run_step.name: lambda arg: machine.run_step(int(arg)),
        tasks.poll_step.name: lambda arg: machine.poll_step(int(arg)),
        webhook_tasks.deliver.name: lambda arg: webhook_delivery.attempt(arg),
    }

    def publish(self, task, *args, countdown=None, queue=None):
        task_name = task.name
        if self.broker_down:
            return False
        self.routed.append((task_name, args, queue))
        if task_name in self.drop:
            return True
        due = timezone.now() + timedelta(seconds=countdown or 0)
        heapq.heappush(self.queue, (due, next(self.counter), task_name, args))
        return True

    def run(self, *, max_tasks: int = 2000, until=None) -> int:
        ran = 0
        while self.queue and ran < max_tasks and not (until and until()):
            due, _, task_name, args = heapq.heappop(self.queue)
            if due > timezone.now():
                self.traveller.move_to(due)
            self.history.append((task_name, args))
            self.TASKS[task_name](*args)
            self.snapshot()
            ran += 1
        return ran

    def run_until_submitted(self, job, key: str) -> JobStep:
        self.run(until=lambda: JobStep.objects.filter(job=job, key=key, state="submitted").exists())
        return JobStep.objects.get(job=job, key=key)

    def advance(self, seconds: float) -> None:
        self.traveller.move_to(timezone.now() + timedelta(seconds=seconds))

    def sweep(self) -> dict:
        counts = machine.sweep()
        self.snapshot()
        return counts

    def snapshot(self) -> None:
        for job in VideoJob.objects.all():
            self.snapshots.append((job.id, job.status, job.progress))

    def tasks_named(self, name: str) -> list:
        return [args for task, args in self.history if task == name]


@pytest.fixture
def fake_storage():
    return FakeStorage()


@pytest.fixture
def fake_veo(fake_storage):
    return FakeVeo(storage=fake_storage)


@pytest.fixture
def fake_heygen():
    return FakeHeyGen()


def fake_media_info(path, seconds=22.0, width=720, height=1280):
    Path(path).write_bytes(b"composed")
    return compose.MediaInfo(duration=seconds, width=width, height=height, fps=24.0, has_audio=True,
                             video_codec="h264", audio_codec="aac")


@pytest.fixture
def media_calls(monkeypatch):
    """Compose and the image fetch are exercised for real in their own tests; here they are recorded."""
    calls: list = []

    def fetch(url, dest, **kwargs):
        calls.append(("fetch", url))
        Path(dest).write_bytes(b"\x89PNG fake")
        return Fetched(content_type="image/png", size=9)

    def join_chains(chains, output, *, crossfade=0.5):
        calls.append(("join", len(chains)))
        return fake_media_info(output, seconds=8.0 * len(chains))

    def compose_final(**kwargs):
        calls.append(("compose", kwargs["presenter_keying"], kwargs["placement"], kwargs["aspect_ratio"]))
        track = kwargs.get("captions")
        calls.append(("captions", [word.text for word in track.captions[0].words] if track else None))
        return fake_media_info(kwargs["output"])

    def placed_presenter(presenter, placement, aspect_ratio):
        width, height = compose.FRAME_SIZES[aspect_ratio]
        return compose.presenter_box(width, height, 360, 640, placement)

    def align(script, voice):
        calls.append(("align", script))
        return captions.spread(captions.display_words(script), 0.0, 20.0)

    def normalize(video, output, *, aspect_ratio, captions=None):
        calls.append(("normalize", aspect_ratio))
        calls.append(("captions", [word.text for word in captions.captions[0].words] if captions else None))
        return fake_media_info(output)

    def poster(video, output, *, at):
        calls.append(("poster", at))
        Path(output).write_bytes(b"poster")

    def preview(video, output, *, seconds=compose.PREVIEW_SECONDS):
        calls.append(("preview", seconds))
        return fake_media_info(output, seconds=seconds, width=360, height=640)

    monkeypatch.setattr(handlers, "fetch_to_file", fetch)
    monkeypatch.setattr(compose, "poster", poster)
    monkeypatch.setattr(compose, "preview", preview)
    monkeypatch.setattr(compose, "join_chains", join_chains)
    monkeypatch.setattr(compose, "compose_final", compose_final)
    monkeypatch.setattr(compose, "normalize", normalize)
    monkeypatch.setattr(compose, "placed_presenter", placed_presenter)
    monkeypatch.setattr(alignment, "align", align)
    return calls


@pytest.fixture
def driver(monkeypatch, settings, fake_storage, fake_veo, fake_heygen, media_calls):
    settings.PIPELINE = {**settings.PIPELINE, "VEO_EXPECTED_SECONDS": 60.0, "HEYGEN_EXPECTED_SECONDS": 120.0,
                         "POLL_INTERVAL_SECONDS": 10.0, "POLL_MIN_SECONDS": 1.0, "LEASE_SECONDS": 300.0,
                         "REDRIVE_AFTER_SECONDS": 30.0, "AMBIGUOUS_RECONCILE_SECONDS": 900.0, "MAX_ATTEMPTS": 5}
    for module in (handlers, downloads):
        monkeypatch.setattr(module, "get_storage", lambda: fake_storage)
    monkeypatch.setattr(providers, "veo", fake_veo.model)
    monkeypatch.setattr(providers, "heygen", lambda: fake_heygen)
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), tick=False) as traveller:
        drv = Driver(traveller)
        monkeypatch.setattr(dispatch, "publish", drv.publish)
        yield drv


@pytest.fixture
def submit_job(user):
    """Pipeline tests run with real commits (django_db(transaction=True)) so on_commit publishing happens."""
    def submit(data: dict | None = None) -> VideoJob:
        return jobs.create_job(user=user, data=data or brief())
    return submit


def steps_of(job: VideoJob) -> dict[str, JobStep]:
    return {s.key: s for s in JobStep.objects.filter(job=job)}
