"""VeoService against Vertex AI's documented wire contract; Google mocked by respx."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import respx

from video_generation.services.errors import (
    AmbiguousError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from video_generation.services.veo_service import MediaRef, VeoResult, VeoService, parse_error, parse_operation

TOKEN = "ya29.secret-bearer-token-value"
BASE = "https://us-central1-aiplatform.googleapis.com"
MODEL_PATH = "/v1/projects/test-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
SUBMIT_URL = f"{BASE}{MODEL_PATH}:predictLongRunning"
FETCH_URL = f"{BASE}{MODEL_PATH}:fetchPredictOperation"
OPERATION = (
    "projects/test-project/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
    "/operations/a1b07c8e-7b5a-4aba-bb34-3e1ccb8afcc8"
)
IMAGE_GCS = MediaRef(mime_type="image/png", gcs_uri="gs://bucket/inputs/product.png")
IMAGE_BYTES = b"\x89PNG\r\n\x1a\nnot-really-a-png"
VIDEO_GCS = MediaRef(mime_type="video/mp4", gcs_uri="gs://bucket/veo-out/123/sample_0.mp4")


@pytest.fixture(autouse=True)
def _veo_settings(settings):
    settings.GCP_PROJECT_ID = "test-project"
    settings.VEO_MODEL_ID = "veo-3.1-generate-001"
    settings.VEO_LOCATION = "us-central1"
    settings.VEO_API_BASE_URL = ""
    settings.VEO_RESOLUTION = "720p"
    settings.VEO_RESIZE_MODE = "crop"
    settings.VEO_TIMEOUT_SECONDS = 60.0


@pytest.fixture
def service():
    svc = VeoService(token_provider=lambda: TOKEN)
    yield svc
    svc.close()


@pytest.fixture
def google():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def _body(call) -> dict:
    return json.loads(call.request.content)


def _generate(service: VeoService, **overrides) -> str:
    kwargs = {
        "prompt": "Slow dolly-in on the bottle",
        "image": IMAGE_GCS,
        "storage_uri": "gs://bucket/veo-out/",
        "duration_seconds": 8,
        "aspect_ratio": "9:16",
        "generate_audio": True,
    }
    kwargs.update(overrides)
    return service.generate_base_video(**kwargs)


def _extend(service: VeoService, **overrides) -> str:
    kwargs = {
        "video": VIDEO_GCS,
        "prompt": "The camera keeps orbiting",
        "storage_uri": "gs://bucket/veo-ext/",
        "aspect_ratio": "16:9",
    }
    kwargs.update(overrides)
    return service.extend_video(**kwargs)


def _google_error(status: int, rpc_status: str, message: str) -> dict:
    return {"error": {"code": status, "message": message, "status": rpc_status}}


# ---- submit: generate --------------------------------------------------------------------------------------


def test_it_submits_an_image_to_video_request_with_a_gcs_image(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    name = _generate(service, seed=42)

    assert name == OPERATION
    assert route.call_count == 1
    request = route.calls.last.request
    assert str(request.url) == SUBMIT_URL
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert _body(route.calls.last) == {
        "instances": [
            {
                "prompt": "Slow dolly-in on the bottle",
                "image": {"gcsUri": "gs://bucket/inputs/product.png", "mimeType": "image/png"},
            }
        ],
        "parameters": {
            "durationSeconds": 8,
            "aspectRatio": "9:16",
            "resolution": "720p",
            "sampleCount": 1,
            "resizeMode": "crop",
            "generateAudio": True,
            "storageUri": "gs://bucket/veo-out/",
            "seed": 42,
        },
    }


def test_it_submits_an_inline_image_as_standard_base64(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    _generate(
        service,
        image=MediaRef(mime_type="image/jpeg", data=IMAGE_BYTES),
        storage_uri=None,
        duration_seconds=4,
        aspect_ratio="16:9",
        resolution="1080p",
        generate_audio=False,
        resize_mode="pad",
    )

    body = _body(route.calls.last)
    assert body["instances"][0]["image"] == {
        "bytesBase64Encoded": base64.b64encode(IMAGE_BYTES).decode("ascii"),
        "mimeType": "image/jpeg",
    }
    assert body["parameters"] == {
        "durationSeconds": 4,
        "aspectRatio": "16:9",
        "resolution": "1080p",
        "sampleCount": 1,
        "resizeMode": "pad",
        "generateAudio": False,
    }


@pytest.mark.parametrize("audio", [True, False])
def test_it_sends_generate_audio_exactly_as_asked(service, google, audio):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    _generate(service, generate_audio=audio)

    assert _body(route.calls.last)["parameters"]["generateAudio"] is audio


def test_generate_audio_has_no_default_a_caller_must_choose(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})
    kwargs = {"prompt": "p", "image": IMAGE_GCS, "storage_uri": None, "duration_seconds": 8, "aspect_ratio": "9:16"}

    with pytest.raises(TypeError, match="generate_audio"):
        service.generate_base_video(**kwargs)
    assert route.call_count == 0


@pytest.mark.parametrize("audio", [None, 1, "false"])
def test_it_refuses_a_generate_audio_that_is_not_a_bool_before_any_http_call(service, google, audio):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    with pytest.raises(TypeError, match="generate_audio"):
        _generate(service, generate_audio=audio)
    assert route.call_count == 0


def test_it_adds_the_trailing_slash_to_a_storage_prefix(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    _generate(service, storage_uri="gs://bucket/veo-out/job-7")

    assert _body(route.calls.last)["parameters"]["storageUri"] == "gs://bucket/veo-out/job-7/"


@pytest.mark.parametrize("duration", [5, 7, 3, 9, 0, True, "8"])
def test_it_rejects_a_duration_outside_4_6_8_before_any_http_call(service, google, duration):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})
    tokens = []
    svc = VeoService(token_provider=lambda: tokens.append(1) or TOKEN)

    with pytest.raises(ValueError, match="duration_seconds"):
        _generate(svc, duration_seconds=duration)

    assert route.call_count == 0
    assert tokens == []
    svc.close()


@pytest.mark.parametrize(
    "overrides",
    [
        {"aspect_ratio": "1:1"},
        {"resolution": "480p"},
        {"resize_mode": "stretch"},
        {"seed": -1},
        {"seed": 2**32},
        {"storage_uri": "s3://bucket/out/"},
        {"image": MediaRef(mime_type="video/mp4", gcs_uri="gs://bucket/x.mp4")},
    ],
)
def test_it_rejects_other_invalid_arguments_before_any_http_call(service, google, overrides):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    with pytest.raises(ValueError):
        _generate(service, **overrides)
    assert route.call_count == 0


def test_it_requires_exactly_one_of_gcs_uri_or_data_in_a_media_ref():
    with pytest.raises(ValueError):
        MediaRef(mime_type="image/png")
    with pytest.raises(ValueError):
        MediaRef(mime_type="image/png", gcs_uri="gs://b/x.png", data=b"x")
    with pytest.raises(ValueError):
        MediaRef(mime_type="image/png", gcs_uri="https://example.com/x.png")


def test_it_never_prints_media_bytes_in_a_media_ref_repr():
    ref = MediaRef(mime_type="image/png", data=IMAGE_BYTES)
    assert "PNG" not in repr(ref)
    assert str(len(IMAGE_BYTES)) in repr(ref)


# ---- submit: extend ----------------------------------------------------------------------------------------


def test_it_extends_a_gcs_video_without_an_image_or_a_duration(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    assert _extend(service, seed=7) == OPERATION

    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    body = _body(route.calls.last)
    assert body == {
        "instances": [
            {
                "prompt": "The camera keeps orbiting",
                "video": {"gcsUri": "gs://bucket/veo-out/123/sample_0.mp4", "mimeType": "video/mp4"},
            }
        ],
        "parameters": {
            "sampleCount": 1,
            "aspectRatio": "16:9",
            "resolution": "720p",
            "storageUri": "gs://bucket/veo-ext/",
            "seed": 7,
        },
    }
    assert "image" not in body["instances"][0]
    assert "durationSeconds" not in body["parameters"]
    assert "generateAudio" not in body["parameters"]  # documented for generation only


def test_it_extends_an_inline_video_as_base64(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})
    mp4 = b"\x00\x00\x00\x18ftypmp42fake"

    _extend(service, video=MediaRef(mime_type="video/mp4", data=mp4), storage_uri=None)

    body = _body(route.calls.last)
    assert body["instances"][0]["video"] == {
        "bytesBase64Encoded": base64.b64encode(mp4).decode("ascii"),
        "mimeType": "video/mp4",
    }
    assert "image" not in body["instances"][0]
    assert body["parameters"] == {
        "sampleCount": 1,
        "aspectRatio": "16:9",
        "resolution": "720p",
    }
    assert "generateAudio" not in body["parameters"]  # documented for generation only


@pytest.mark.parametrize("model", ["veo-3.1-generate-001", "veo-3.1-fast-generate-001"])
def test_it_refuses_4k_on_the_ga_models_before_sending_anything(google, model):
    route = google.post(SUBMIT_URL.replace("veo-3.1-generate-001", model)).respond(200, json={"name": OPERATION})
    service = VeoService(model_id=model, token_provider=lambda: TOKEN)

    with pytest.raises(ValueError, match="720p, 1080p only"):
        _extend(service, resolution="4k")
    assert route.call_count == 0


def test_it_refuses_to_extend_anything_but_an_mp4(service, google):
    route = google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    with pytest.raises(ValueError, match="MP4"):
        _extend(service, video=MediaRef(mime_type="video/quicktime", gcs_uri="gs://bucket/a.mov"))
    assert route.call_count == 0


# ---- URLs --------------------------------------------------------------------------------------------------


def test_it_keeps_a_path_prefix_in_the_base_url(google):
    base = "http://127.0.0.1:8900/veo"
    submit = google.post(f"{base}{MODEL_PATH}:predictLongRunning").respond(200, json={"name": OPERATION})
    fetch = google.post(f"{base}{MODEL_PATH}:fetchPredictOperation").respond(200, json={"name": OPERATION})

    with VeoService(base_url=base + "/", token_provider=lambda: TOKEN) as svc:
        assert _generate(svc) == OPERATION
        assert svc.fetch_operation(OPERATION).state == "running"

    assert str(submit.calls.last.request.url) == f"{base}{MODEL_PATH}:predictLongRunning"
    assert str(fetch.calls.last.request.url) == f"{base}{MODEL_PATH}:fetchPredictOperation"


def test_it_reads_project_location_model_and_base_url_from_settings(google, settings):
    settings.GCP_PROJECT_ID = "other-proj"
    settings.VEO_LOCATION = "europe-west4"
    settings.VEO_MODEL_ID = "veo-3.1-fast-generate-001"
    url = (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/other-proj/locations/europe-west4"
        "/publishers/google/models/veo-3.1-fast-generate-001:predictLongRunning"
    )
    route = google.post(url).respond(200, json={"name": OPERATION})

    with VeoService(token_provider=lambda: TOKEN) as svc:
        _generate(svc)
    assert route.call_count == 1


def test_it_uses_the_configured_base_url_setting(google, settings):
    settings.VEO_API_BASE_URL = "http://veo-sandbox.test:9000/prefix"
    route = google.post(f"http://veo-sandbox.test:9000/prefix{MODEL_PATH}:predictLongRunning").respond(
        200, json={"name": OPERATION}
    )

    with VeoService(token_provider=lambda: TOKEN) as svc:
        _generate(svc)
    assert route.call_count == 1


def test_it_builds_an_http_client_that_ignores_the_environment_and_redirects():
    with VeoService(token_provider=lambda: TOKEN, timeout=42) as svc:
        client = svc._client
        assert client.trust_env is False
        assert client.follow_redirects is False
        assert client.timeout.connect == 10.0
        assert client.timeout.read == 42.0


# ---- submit: failures --------------------------------------------------------------------------------------


def test_it_raises_a_permanent_error_with_googles_status_on_400(service, google):
    google.post(SUBMIT_URL).respond(
        400, json=_google_error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio.")
    )

    with pytest.raises(PermanentError) as caught:
        _generate(service)

    assert caught.value.status_code == 400
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.provider == "veo"
    assert "Unsupported aspect ratio." in str(caught.value)


def test_it_raises_a_permanent_error_on_401_without_the_token_in_the_message(service, google):
    google.post(SUBMIT_URL).respond(
        401,
        json=_google_error(
            401, "UNAUTHENTICATED", f"Request had invalid authentication credentials: Bearer {TOKEN}"
        ),
    )

    with pytest.raises(PermanentError) as caught:
        _generate(service)

    assert caught.value.code == "UNAUTHENTICATED"
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caught.value.message


def test_it_raises_rate_limited_with_retry_after_on_429(service, google):
    google.post(SUBMIT_URL).respond(
        429,
        headers={"Retry-After": "17"},
        json=_google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests",
        ),
    )

    with pytest.raises(RateLimitedError) as caught:
        _generate(service)

    assert caught.value.retry_after == 17.0
    assert caught.value.code == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize("status,rpc", [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_it_raises_retryable_on_500_and_503(service, google, status, rpc):
    google.post(SUBMIT_URL).respond(status, json=_google_error(status, rpc, "try again"))

    with pytest.raises(RetryableError) as caught:
        _generate(service)

    assert type(caught.value) is RetryableError
    assert caught.value.code == rpc


def test_it_raises_retryable_when_the_connection_is_refused(service, google):
    google.post(SUBMIT_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(RetryableError):
        _generate(service)


def test_it_raises_ambiguous_when_the_submit_times_out_after_sending(service, google):
    google.post(SUBMIT_URL).mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(AmbiguousError) as caught:
        _generate(service)
    assert TOKEN not in str(caught.value)


def test_it_raises_ambiguous_when_google_accepts_but_returns_no_operation_name(service, google):
    google.post(SUBMIT_URL).respond(200, json={"metadata": {}})

    with pytest.raises(AmbiguousError, match="operation name"):
        _generate(service)


def test_it_raises_ambiguous_when_google_accepts_but_the_body_is_not_json(service, google):
    google.post(SUBMIT_URL).respond(200, text="<html>proxy</html>")

    with pytest.raises(AmbiguousError):
        _extend(service)


def test_it_never_puts_the_token_or_image_bytes_in_logs(service, google, caplog):
    caplog.set_level("DEBUG")
    google.post(SUBMIT_URL).respond(200, json={"name": OPERATION})

    _generate(service, image=MediaRef(mime_type="image/png", data=IMAGE_BYTES))

    assert TOKEN not in caplog.text
    assert base64.b64encode(IMAGE_BYTES).decode() not in caplog.text


# ---- fetch -------------------------------------------------------------------------------------------------


def test_it_polls_with_fetch_predict_operation_and_the_verbatim_name(service, google):
    route = google.post(FETCH_URL).respond(200, json={"name": OPERATION, "done": False})

    service.fetch_operation(OPERATION)

    request = route.calls.last.request
    assert str(request.url) == FETCH_URL
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert _body(route.calls.last) == {"operationName": OPERATION}


def test_it_polls_the_location_and_model_inside_the_operation_name(service, google):
    name = (
        "projects/test-project/locations/global/publishers/google/models/veo-3.1-fast-generate-001"
        "/operations/1234"
    )
    route = google.post(
        f"{BASE}/v1/projects/test-project/locations/global/publishers/google/models/"
        "veo-3.1-fast-generate-001:fetchPredictOperation"
    ).respond(200, json={"name": name})

    assert service.fetch_operation(name) == VeoResult(state="running")
    assert route.call_count == 1


def test_a_client_of_the_fast_model_submits_and_polls_on_the_fast_models_path(google):
    fast_path = MODEL_PATH.replace("veo-3.1-generate-001", "veo-3.1-fast-generate-001")
    fast_operation = OPERATION.replace("veo-3.1-generate-001", "veo-3.1-fast-generate-001")
    submitted = google.post(f"{BASE}{fast_path}:predictLongRunning").respond(200, json={"name": fast_operation})
    fetched = google.post(f"{BASE}{fast_path}:fetchPredictOperation").respond(200, json={"name": fast_operation})

    with VeoService(model_id="veo-3.1-fast-generate-001", token_provider=lambda: TOKEN) as svc:
        name = _generate(svc)
        assert svc.fetch_operation(name).state == "running"

    assert (submitted.call_count, fetched.call_count) == (1, 1)
    assert _body(fetched.calls.last) == {"operationName": fast_operation}


@pytest.mark.parametrize("payload", [{"name": OPERATION}, {"name": OPERATION, "done": False}])
def test_it_reports_running_when_done_is_absent_or_false(service, google, payload):
    google.post(FETCH_URL).respond(200, json=payload)

    assert service.fetch_operation(OPERATION) == VeoResult(state="running")


def test_it_reports_success_with_gcs_videos(service, google):
    google.post(FETCH_URL).respond(
        200,
        json={
            "name": OPERATION,
            "done": True,
            "response": {
                "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                "raiMediaFilteredCount": 0,
                "videos": [{"gcsUri": "gs://bucket/veo-out/123/sample_0.mp4", "mimeType": "video/mp4"}],
            },
        },
    )

    result = service.fetch_operation(OPERATION)

    assert result == VeoResult(
        state="succeeded",
        videos=(MediaRef(mime_type="video/mp4", gcs_uri="gs://bucket/veo-out/123/sample_0.mp4"),),
    )


def test_it_reports_success_with_inline_video_bytes_decoded(service, google):
    mp4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256))
    google.post(FETCH_URL).respond(
        200,
        json={
            "name": OPERATION,
            "done": True,
            "response": {
                "videos": [{"bytesBase64Encoded": base64.b64encode(mp4).decode(), "mimeType": "video/mp4"}]
            },
        },
    )

    result = service.fetch_operation(OPERATION)

    assert result.state == "succeeded"
    assert result.videos == (MediaRef(mime_type="video/mp4", data=mp4),)


@pytest.mark.parametrize("videos", [None, []])
def test_it_reports_a_safety_filtered_operation_with_the_reasons(service, google, videos):
    response = {
        "raiMediaFilteredCount": 1,
        "raiMediaFilteredReasons": [
            "1 videos were filtered out because they violated Vertex AI's usage guidelines. "
            "You will not be charged for blocked videos. Support codes: 17301594"
        ],
    }
    if videos is not None:
        response["videos"] = videos
    google.post(FETCH_URL).respond(200, json={"name": OPERATION, "done": True, "response": response})

    result = service.fetch_operation(OPERATION)

    assert result.state == "filtered"
    assert result.videos == ()
    assert "Support codes: 17301594" in result.error_message


def test_it_reports_a_failed_operation_with_its_rpc_code_and_message(service, google):
    google.post(FETCH_URL).respond(
        200,
        json={
            "name": OPERATION,
            "done": True,
            "error": {
                "code": 3,
                "message": "The input image violates usage guidelines. Support codes: 15236754",
                "details": [],
            },
        },
    )

    result = service.fetch_operation(OPERATION)

    assert result == VeoResult(
        state="failed",
        error_code="3",
        error_message="The input image violates usage guidelines. Support codes: 15236754",
    )


def test_it_accepts_an_http_style_code_in_a_failed_operation(service, google):
    google.post(FETCH_URL).respond(
        200, json={"name": OPERATION, "done": True, "error": {"code": 400, "message": "bad input"}}
    )

    assert service.fetch_operation(OPERATION) == VeoResult(
        state="failed", error_code="400", error_message="bad input"
    )


def test_it_reports_failure_when_a_done_operation_has_neither_videos_nor_a_filter(service, google):
    google.post(FETCH_URL).respond(
        200, json={"name": OPERATION, "done": True, "response": {"raiMediaFilteredCount": 0, "videos": []}}
    )

    assert service.fetch_operation(OPERATION) == VeoResult(state="failed", error_message="no videos returned")


def test_it_rejects_a_malformed_operation_name_without_calling_google(service, google):
    route = google.post(FETCH_URL).respond(200, json={})

    for bad in [
        "",
        "operations/123",
        "projects/p/locations/l/models/m",
        "projects/p/locations/l/x/operations/1?a",
    ]:
        with pytest.raises(PermanentError):
            service.fetch_operation(bad)
    assert route.call_count == 0


@pytest.mark.parametrize(
    "status,error_type",
    [
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (500, RetryableError),
        (503, RetryableError),
    ],
)
def test_it_classifies_http_errors_on_a_poll(service, google, status, error_type):
    google.post(FETCH_URL).respond(status, json=_google_error(status, "X", f"failed with {status}"))

    with pytest.raises(error_type) as caught:
        service.fetch_operation(OPERATION)
    assert caught.value.status_code == status


def test_it_raises_rate_limited_with_retry_after_on_a_polled_429(service, google):
    google.post(FETCH_URL).respond(
        429, headers={"Retry-After": "5"}, json=_google_error(429, "RESOURCE_EXHAUSTED", "slow down")
    )

    with pytest.raises(RateLimitedError) as caught:
        service.fetch_operation(OPERATION)
    assert caught.value.retry_after == 5.0


def test_it_raises_retryable_not_ambiguous_when_a_poll_times_out(service, google):
    google.post(FETCH_URL).mock(side_effect=httpx.ReadTimeout("timed out"))

    with pytest.raises(RetryableError) as caught:
        service.fetch_operation(OPERATION)
    assert not isinstance(caught.value, AmbiguousError)


def test_it_raises_retryable_when_a_poll_cannot_connect(service, google):
    google.post(FETCH_URL).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(RetryableError):
        service.fetch_operation(OPERATION)


def test_it_raises_retryable_when_inline_video_bytes_are_not_base64(service, google):
    google.post(FETCH_URL).respond(
        200, json={"name": OPERATION, "done": True, "response": {"videos": [{"bytesBase64Encoded": "***"}]}}
    )

    with pytest.raises(RetryableError, match="base64"):
        service.fetch_operation(OPERATION)


# ---- parse_error and token provider ------------------------------------------------------------------------


def test_it_parses_googles_error_envelope_preferring_the_status_name():
    assert parse_error(httpx.Response(400, json=_google_error(400, "INVALID_ARGUMENT", "nope"))) == (
        "INVALID_ARGUMENT",
        "nope",
    )
    assert parse_error(httpx.Response(400, json={"error": {"code": 400, "message": "nope"}})) == (
        "400",
        "nope",
    )
    assert parse_error(httpx.Response(400, json=[_google_error(400, "FAILED_PRECONDITION", "x")])) == (
        "FAILED_PRECONDITION",
        "x",
    )
    assert parse_error(httpx.Response(502, text="<html>Bad Gateway</html>")) == ("", "")
    assert parse_error(httpx.Response(400, json={"unexpected": True})) == ("", "")


def test_it_asks_the_token_provider_for_every_request(google):
    tokens = iter(["tok-aaaaaaaa-1", "tok-aaaaaaaa-2"])
    route = google.post(FETCH_URL).respond(200, json={"name": OPERATION})

    with VeoService(token_provider=lambda: next(tokens)) as svc:
        svc.fetch_operation(OPERATION)
        svc.fetch_operation(OPERATION)

    assert [c.request.headers["Authorization"] for c in route.calls] == [
        "Bearer tok-aaaaaaaa-1",
        "Bearer tok-aaaaaaaa-2",
    ]


def test_it_uses_the_process_wide_gcp_auth_manager_by_default(google, monkeypatch):
    from video_generation.services import gcp_auth

    monkeypatch.setattr(gcp_auth.GCPAuthManager, "get_access_token", lambda self: "from-manager-token")
    route = google.post(FETCH_URL).respond(200, json={"name": OPERATION})

    with VeoService() as svc:
        svc.fetch_operation(OPERATION)

    assert route.calls.last.request.headers["Authorization"] == "Bearer from-manager-token"


def test_it_does_not_close_an_http_client_it_was_given(google):
    client = httpx.Client()
    svc = VeoService(token_provider=lambda: TOKEN, http_client=client)
    svc.close()
    assert not client.is_closed
    client.close()


SIGNED = ("https://storage.googleapis.com/veo-bucket/jobs/7/final.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
          "&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20261128&X-Goog-Expires=604800"
          "&X-Goog-SignedHeaders=host&X-Goog-Signature=5f1e0a9d3c2b7e6f4a8d0c1b2e3f4a5b6c7d8e9f")


def test_an_error_quoting_a_signed_url_or_part_of_the_token_keeps_neither(service, google):
    quoted = f"cannot read {SIGNED}; the request carried {TOKEN[:20]}"
    google.post(SUBMIT_URL).respond(400, json={"error": {"code": 400, "message": quoted,
                                                         "status": "INVALID_ARGUMENT"}})

    with pytest.raises(PermanentError) as caught:
        _generate(service)

    message = str(caught.value)
    assert "5f1e0a9d3c2b7e6f4a8d0c1b2e3f4a5b6c7d8e9f" not in message and "X-Goog-Credential" not in message
    assert TOKEN[:20] not in message and TOKEN[:8] not in message
    assert "https://storage.googleapis.com/veo-bucket/jobs/7/final.mp4" in message  # what failed stays readable


def test_a_failed_operation_quoting_a_signed_url_keeps_no_signature():
    result = parse_operation({"done": True, "error": {"code": 3, "message": f"input {SIGNED} unreadable"}})
    assert "X-Goog-Signature" in SIGNED and "5f1e0a9d" not in result.error_message
