"""Every exchange with a provider is counted where it happens (services/http.py): by provider, operation and the
outcome errors.py gave it."""

import httpx
import pytest
import respx

from video_generation.services import http
from video_generation.services.errors import AmbiguousError, PermanentError, RateLimitedError, RetryableError
from video_generation.services.heygen_service import HeyGenService
from video_generation.services.veo_service import MediaRef, VeoService
from video_saas import metrics

VEO = ("https://us-central1-aiplatform.googleapis.com/v1/projects/test-project/locations/us-central1/publishers/"
       "google/models/veo-3.1-generate-001")
OPERATION = "projects/test-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001/operations/op-1"
HEYGEN = "https://api.heygen.com"
IMAGE = MediaRef(mime_type="image/png", gcs_uri="gs://bucket/product.png")
VIDEO = MediaRef(mime_type="video/mp4", gcs_uri="gs://bucket/clip.mp4")


def requests(provider: str, operation: str, outcome: str) -> float:
    return metrics.FAMILIES.get_sample_value("video_saas_provider_requests_total",
                                             {"provider": provider, "operation": operation, "outcome": outcome}) or 0


@pytest.fixture
def veo(settings):
    settings.VEO_MODEL_ID, settings.VEO_LOCATION, settings.VEO_API_BASE_URL = "veo-3.1-generate-001", "us-central1", ""
    with VeoService(token_provider=lambda: "token") as service:
        yield service


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def generate(veo):
    return veo.generate_base_video(prompt="p", image=IMAGE, storage_uri="gs://bucket/out/", duration_seconds=8,
                                   aspect_ratio="9:16", generate_audio=False)


def test_veo_submits_and_polls_are_counted_by_operation_and_outcome(veo, mock):
    submit = mock.post(f"{VEO}:predictLongRunning")
    submit.side_effect = [httpx.Response(200, json={"name": OPERATION}),
                          httpx.Response(429, json={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
                          httpx.Response(400, json={"error": {"code": 400, "status": "INVALID_ARGUMENT"}}),
                          httpx.ReadTimeout("slow")]
    mock.post(f"{VEO}:fetchPredictOperation").respond(503, json={"error": {"code": 503, "status": "UNAVAILABLE"}})
    before = {o: requests("veo", "generate", o) for o in metrics.OUTCOMES}
    polls_before = requests("veo", "poll", "retryable")
    extends_before = requests("veo", "extend", "success")

    assert generate(veo) == OPERATION
    for error in (RateLimitedError, PermanentError, AmbiguousError):
        with pytest.raises(error):
            generate(veo)
    with pytest.raises(RetryableError):
        veo.fetch_operation(OPERATION)

    assert {o: requests("veo", "generate", o) - before[o] for o in metrics.OUTCOMES} == {
        "success": 1, "rate_limited": 1, "permanent": 1, "ambiguous": 1, "retryable": 0}
    assert requests("veo", "poll", "retryable") == polls_before + 1
    assert requests("veo", "extend", "success") == extends_before


def test_heygen_renders_polls_and_uploads_are_counted_apart(mock):
    mock.post(f"{HEYGEN}/v3/videos").respond(200, json={"data": {"video_id": "vid_1"}})
    mock.get(f"{HEYGEN}/v3/videos/vid_1").respond(200, json={"data": {"id": "vid_1", "status": "processing"}})
    mock.get(f"{HEYGEN}/v3/videos/statuses").respond(500, json={"error": {"code": "internal_error"}})
    names = ("render", "poll", "poll_batch")
    before = {name: requests("heygen", name, "success" if name != "poll_batch" else "retryable") for name in names}
    with HeyGenService() as heygen:
        heygen.create_presenter_video(avatar_id="a", voice_id="v", script="Hello there.", aspect_ratio="9:16",
                                      idempotency_key="job-1:render")
        heygen.get_video("vid_1")
        with pytest.raises(RetryableError):
            heygen.get_video_statuses(["vid_1", "vid_2"])
    after = {name: requests("heygen", name, "success" if name != "poll_batch" else "retryable") for name in names}
    assert {name: after[name] - before[name] for name in names} == {"render": 1, "poll": 1, "poll_batch": 1}


def test_every_operation_and_outcome_is_exported_at_zero_from_start_up():
    assert set(metrics.OUTCOMES) == {"success", *(name for _, name in http.OUTCOMES)}
    for provider, operations in metrics.OPERATIONS.items():
        for operation in operations:
            for outcome in metrics.OUTCOMES:
                labels = {"provider": provider, "operation": operation, "outcome": outcome}
                assert metrics.FAMILIES.get_sample_value("video_saas_provider_requests_total", labels) is not None
