"""HeyGenService against a respx-mocked HeyGen (the real API is never reached)."""

from __future__ import annotations

import json

import httpx
import pytest

from video_generation.services.errors import (
    AmbiguousError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    RetryableError,
)
from video_generation.services.heygen_service import (
    HeyGenService,
    HeyGenVideo,
    MattingUnsupportedError,
    parse_error,
)

API = "https://api.heygen.com"
UPLOAD = "https://upload.heygen.com"
KEY = "test-heygen-key"  # set by the root conftest
SECRET_KEY = "hg-SECRET-0123456789abcdef"




def _body(route, index: int = -1) -> dict:
    return json.loads(route.calls[index].request.content)


def _create(service, **overrides) -> str:
    kwargs = {
        "avatar_id": "look_1",
        "voice_id": "voice_1",
        "script": "Meet the new kettle.",
        "aspect_ratio": "9:16",
        "idempotency_key": "job-7-heygen-render",
    }
    kwargs.update(overrides)
    return service.create_presenter_video(**kwargs)


def _generate(service, **overrides) -> str:
    kwargs = {
        "avatar_id": "Daisy-inskirt-20220818",
        "voice_id": "voice_1",
        "script": "Welcome aboard!",
        "video_asset_id": "asset_9",
        "avatar_scale": 0.8,
        "avatar_x": 0.7,
        "avatar_y": 0.8,
        "width": 1280,
        "height": 720,
    }
    kwargs.update(overrides)
    return service.generate_avatar_video(**kwargs)


# --- v3 create -----------------------------------------------------------------------------------------


def test_it_creates_a_transparent_presenter_with_the_exact_v3_body(mock, service):
    route = mock.post(f"{API}/v3/videos").respond(
        200, json={"data": {"video_id": "vid_1", "status": "waiting", "output_format": "webm"}}
    )

    video_id = _create(service, background_color="#123456", callback_id="job-7")

    assert video_id == "vid_1"
    request = route.calls.last.request
    assert request.headers["X-Api-Key"] == KEY
    assert request.headers["Idempotency-Key"] == "job-7-heygen-render"
    assert request.headers["Content-Type"] == "application/json"
    assert _body(route) == {
        "type": "avatar",
        "avatar_id": "look_1",
        "script": "Meet the new kettle.",
        "voice_id": "voice_1",
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "output_format": "webm",
        "caption": {"file_format": "srt"},
        "callback_id": "job-7",
    }


def test_it_creates_a_key_colour_presenter_on_a_solid_background(mock, service, settings):
    settings.HEYGEN_KEY_COLOR = "#00FF00"
    route = mock.post(f"{API}/v3/videos").respond(200, json={"data": {"video_id": "vid_2"}})

    video_id = _create(
        service,
        transparent=False,
        resolution="1080p",
        title="Kettle",
        callback_url="https://app.example.com/hooks/heygen",
        callback_id="job-7",
    )

    assert video_id == "vid_2"
    assert route.calls.last.request.headers["Idempotency-Key"] == "job-7-heygen-render"
    assert _body(route) == {
        "type": "avatar",
        "avatar_id": "look_1",
        "script": "Meet the new kettle.",
        "voice_id": "voice_1",
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "output_format": "mp4",
        "caption": {"file_format": "srt"},
        "background": {"type": "color", "value": "#00FF00"},
        "title": "Kettle",
        "callback_url": "https://app.example.com/hooks/heygen",
        "callback_id": "job-7",
    }


def test_it_uses_the_given_key_colour(mock, service):
    route = mock.post(f"{API}/v3/videos").respond(200, json={"data": {"video_id": "vid_3"}})

    _create(service, transparent=False, background_color="#FF00FF")

    assert _body(route)["background"] == {"type": "color", "value": "#FF00FF"}


def test_it_sends_the_same_idempotency_key_when_a_create_is_resent(mock, service):
    route = mock.post(f"{API}/v3/videos")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json={"data": {"video_id": "vid_4"}})]

    with pytest.raises(AmbiguousError):
        _create(service)
    assert _create(service) == "vid_4"

    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert keys == {"job-7-heygen-render"}


@pytest.mark.parametrize(
    "error",
    [
        {"code": "invalid_parameter", "message": "not allowed for this avatar", "param": "output_format"},
        {"code": "invalid_parameter", "message": "This avatar does not support matting", "param": None},
        {"code": "transparent_background_unsupported", "message": "Unsupported", "param": None},
    ],
)
def test_it_raises_matting_unsupported_when_the_avatar_cannot_be_transparent(mock, service, error):
    mock.post(f"{API}/v3/videos").respond(400, json={"error": {**error, "doc_url": "https://x"}})

    with pytest.raises(MattingUnsupportedError) as info:
        _create(service)

    assert isinstance(info.value, PermanentError)
    assert info.value.status_code == 400


def test_it_does_not_call_other_bad_requests_a_matting_problem(mock, service):
    mock.post(f"{API}/v3/videos").respond(
        400,
        json={"error": {"code": "invalid_parameter", "message": "voice_id is invalid", "param": "voice_id"}},
    )

    with pytest.raises(PermanentError) as info:
        _create(service)

    assert not isinstance(info.value, MattingUnsupportedError)
    assert info.value.code == "invalid_parameter"
    assert "voice_id is invalid" in str(info.value)


def test_it_does_not_raise_matting_unsupported_for_a_key_colour_render(mock, service):
    mock.post(f"{API}/v3/videos").respond(
        400, json={"error": {"code": "invalid_parameter", "message": "bad", "param": "output_format"}}
    )

    with pytest.raises(PermanentError) as info:
        _create(service, transparent=False)

    assert not isinstance(info.value, MattingUnsupportedError)


def test_it_rejects_a_script_that_is_too_long_before_any_call(mock, service, settings):
    settings.HEYGEN_MAX_SCRIPT_CHARS = 20
    route = mock.post(f"{API}/v3/videos").respond(200, json={"data": {"video_id": "never"}})
    v2_route = mock.post(f"{API}/v2/video/generate").respond(200, json={"data": {"video_id": "never"}})

    with pytest.raises(ValueError, match="at most 20"):
        _create(service, script="x" * 21)
    with pytest.raises(ValueError, match="at most 20"):
        _generate(service, script="x" * 21)

    assert not route.called
    assert not v2_route.called


@pytest.mark.parametrize(
    "overrides",
    [
        {"script": "   "},
        {"aspect_ratio": "21:9"},
        {"resolution": "8k"},
        {"idempotency_key": ""},
        {"avatar_id": ""},
        {"transparent": False, "background_color": "green"},
    ],
)
def test_it_rejects_bad_create_arguments_before_any_call(mock, service, overrides):
    route = mock.post(f"{API}/v3/videos").respond(200, json={"data": {"video_id": "never"}})

    with pytest.raises(ValueError):
        _create(service, **overrides)

    assert not route.called


def test_it_turns_request_in_progress_into_a_retryable_error(mock, service):
    mock.post(f"{API}/v3/videos").respond(
        409, json={"error": {"code": "request_in_progress", "message": "A request with this key is running"}}
    )

    with pytest.raises(RetryableError) as info:
        _create(service)

    assert info.value.code == "request_in_progress"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"data": {"status": "waiting"}}),
        httpx.Response(200, json={"data": None}),
        httpx.Response(200, text="<html>ok</html>"),
    ],
)
def test_it_treats_a_create_answer_without_a_video_id_as_ambiguous(mock, service, response):
    mock.post(f"{API}/v3/videos").mock(return_value=response)

    with pytest.raises(AmbiguousError):
        _create(service)


# --- v3 status -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending", "pending"),
        ("waiting", "pending"),
        ("processing", "processing"),
        ("thinking_hard", "processing"),
    ],
)
def test_it_reads_a_v3_render_in_progress(mock, service, status, state):
    mock.get(f"{API}/v3/videos/vid_1").respond(
        200, json={"data": {"id": "vid_1", "status": status, "video_url": None, "duration": None}}
    )

    assert service.get_video("vid_1") == HeyGenVideo(video_id="vid_1", state=state)


def test_it_reads_a_completed_v3_render(mock, service):
    route = mock.get(f"{API}/v3/videos/vid_1").respond(
        200,
        json={
            "data": {
                "id": "vid_1",
                "status": "completed",
                "video_url": "https://files.heygen.ai/v.webm?Expires=1&Signature=abc",
                "duration": 12.4,
                "failure_code": None,
            }
        },
    )

    video = service.get_video("vid_1")

    assert video == HeyGenVideo(
        video_id="vid_1",
        state="completed",
        video_url="https://files.heygen.ai/v.webm?Expires=1&Signature=abc",
        duration=12.4,
    )
    assert route.calls.last.request.headers["X-Api-Key"] == KEY


def test_it_reads_a_failed_v3_render(mock, service):
    mock.get(f"{API}/v3/videos/vid_1").respond(
        200,
        json={
            "data": {
                "id": "vid_1",
                "status": "failed",
                "failure_code": "voice_not_usable",
                "failure_message": "The voice cannot speak this language",
            }
        },
    )

    video = service.get_video("vid_1")

    assert video.state == "failed"
    assert video.failure_code == "voice_not_usable"
    assert video.failure_message == "The voice cannot speak this language"


def test_it_gives_a_failed_v3_render_a_message_even_when_heygen_sends_none(mock, service):
    mock.get(f"{API}/v3/videos/vid_1").respond(200, json={"data": {"id": "vid_1", "status": "failed"}})

    video = service.get_video("vid_1")

    assert video.state == "failed"
    assert video.failure_code == ""
    assert video.failure_message


def test_it_treats_a_completed_render_without_a_url_as_a_retryable_glitch(mock, service):
    mock.get(f"{API}/v3/videos/vid_1").respond(200, json={"data": {"id": "vid_1", "status": "completed"}})

    with pytest.raises(RetryableError):
        service.get_video("vid_1")


def test_it_raises_not_found_for_an_unknown_v3_video(mock, service):
    mock.get(f"{API}/v3/videos/nope").respond(
        404, json={"error": {"code": "video_not_found", "message": "Video not found"}}
    )

    with pytest.raises(PermanentError) as info:
        service.get_video("nope")

    assert info.value.code == "video_not_found"
    assert info.value.status_code == 404


# --- v2 upload -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {
            "code": 100,
            "data": {"id": "asset_9", "file_type": "video", "url": "https://r.heygen.ai/x"},
            "msg": None,
        },
        {"error": None, "data": {"id": "asset_9"}},
    ],
)
def test_it_uploads_the_raw_bytes_to_the_upload_host(mock, service, answer):
    route = mock.post(f"{UPLOAD}/v1/asset").respond(200, json=answer)
    payload = b"\x00\x00\x00\x18ftypmp42 fake video bytes"

    asset_id = service.upload_video_asset(payload)

    assert asset_id == "asset_9"
    request = route.calls.last.request
    assert request.content == payload
    assert request.headers["Content-Type"] == "video/mp4"
    assert request.headers["X-Api-Key"] == KEY


def test_it_refuses_an_upload_answer_that_carries_an_error(mock, service):
    mock.post(f"{UPLOAD}/v1/asset").respond(
        200, json={"code": 40001, "data": None, "message": "asset data must be provided"}
    )

    with pytest.raises(PermanentError, match="asset data must be provided"):
        service.upload_video_asset(b"bytes")


def test_it_rejects_an_empty_upload_before_any_call(mock, service):
    route = mock.post(f"{UPLOAD}/v1/asset")

    with pytest.raises(ValueError):
        service.upload_video_asset(b"")

    assert not route.called


def test_it_refuses_an_upload_over_the_documented_size_before_sending_a_byte(mock, service, settings):
    settings.HEYGEN_UPLOAD_MAX_BYTES = 1000
    route = mock.post(f"{UPLOAD}/v1/asset")

    with pytest.raises(PermanentError, match="1001 bytes; HeyGen's asset upload takes at most 1000") as refused:
        service.upload_video_asset(b"x" * 1001)

    assert refused.value.code == "asset_too_large"
    assert not route.called


def test_it_retries_an_upload_that_timed_out(mock, service):
    mock.post(f"{UPLOAD}/v1/asset").mock(side_effect=httpx.WriteTimeout("slow"))

    with pytest.raises(RetryableError):
        service.upload_video_asset(b"bytes")


# --- v2 generate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"error": None, "data": {"video_id": "v2_vid"}},
        {"code": 100, "data": {"video_id": "v2_vid"}, "message": "Success"},
    ],
)
def test_it_generates_a_v2_video_over_the_uploaded_background(mock, service, answer):
    route = mock.post(f"{API}/v2/video/generate").respond(200, json=answer)

    video_id = _generate(service, title="Kettle", callback_id="job-7")

    assert video_id == "v2_vid"
    assert route.calls.last.request.headers["X-Api-Key"] == KEY
    assert route.calls.last.request.headers["Content-Type"] == "application/json"
    assert _body(route) == {
        "video_inputs": [
            {
                "character": {
                    "type": "avatar",
                    "avatar_id": "Daisy-inskirt-20220818",
                    "avatar_style": "normal",
                    "scale": 0.8,
                    "offset": {"x": 0.7, "y": 0.8},
                    "matting": True,
                },
                "voice": {"type": "text", "input_text": "Welcome aboard!", "voice_id": "voice_1"},
                "background": {"type": "video", "video_asset_id": "asset_9", "play_style": "full_video"},
            }
        ],
        "dimension": {"width": 1280, "height": 720},
        "title": "Kettle",
        "callback_id": "job-7",
    }


@pytest.mark.parametrize(
    "answer",
    [
        {"data": None, "error": {"code": "avatar_not_found", "message": "Avatar not found"}},
        {"data": {"video_id": "v2_vid"}, "error": "something went wrong"},
    ],
)
def test_it_refuses_a_2xx_generate_answer_that_carries_an_error(mock, service, answer):
    mock.post(f"{API}/v2/video/generate").respond(200, json=answer)

    with pytest.raises(PermanentError):
        _generate(service)


def test_it_treats_a_generate_answer_without_a_video_id_as_ambiguous(mock, service):
    mock.post(f"{API}/v2/video/generate").respond(200, json={"error": None, "data": {}})

    with pytest.raises(AmbiguousError):
        _generate(service)


@pytest.mark.parametrize(
    "overrides",
    [{"width": 1281}, {"height": 64}, {"width": 8192}, {"avatar_scale": 0}, {"avatar_x": float("nan")}],
)
def test_it_rejects_bad_generate_arguments_before_any_call(mock, service, overrides):
    route = mock.post(f"{API}/v2/video/generate")

    with pytest.raises(ValueError):
        _generate(service, **overrides)

    assert not route.called


# --- v2 status -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("waiting", "pending"),
        ("pending", "pending"),
        ("processing", "processing"),
        ("queued_v9", "processing"),
    ],
)
def test_it_reads_a_v2_render_in_progress(mock, service, status, state):
    route = mock.get(f"{API}/v1/video_status.get").respond(
        200,
        json={"code": 100, "data": {"id": "v2_vid", "status": status, "video_url": None, "error": None}},
    )

    assert service.get_video_status_v2("v2_vid") == HeyGenVideo(video_id="v2_vid", state=state)
    assert route.calls.last.request.url.params["video_id"] == "v2_vid"
    assert route.calls.last.request.headers["X-Api-Key"] == KEY


def test_it_reads_a_completed_v2_render(mock, service):
    mock.get(f"{API}/v1/video_status.get").respond(
        200,
        json={
            "code": 100,
            "data": {
                "id": "v2_vid",
                "status": "completed",
                "duration": 42.5,
                "video_url": "https://files2.heygen.ai/a/video.mp4?Expires=9",
                "video_url_caption": "https://files2.heygen.ai/a/caption.mp4?Expires=9",
                "error": None,
            },
            "message": "Success",
        },
    )

    assert service.get_video_status_v2("v2_vid") == HeyGenVideo(
        video_id="v2_vid",
        state="completed",
        video_url="https://files2.heygen.ai/a/video.mp4?Expires=9",
        duration=42.5,
    )


def test_it_falls_back_to_the_captioned_url_and_the_video_id_field(mock, service):
    mock.get(f"{API}/v1/video_status.get").respond(
        200,
        json={
            "error": None,
            "data": {
                "video_id": "v2_vid",
                "status": "completed",
                "duration": "7",
                "video_url": None,
                "video_url_caption": "https://files2.heygen.ai/a/caption.mp4?Expires=9",
            },
        },
    )

    video = service.get_video_status_v2("v2_vid")

    assert video.video_id == "v2_vid"
    assert video.video_url == "https://files2.heygen.ai/a/caption.mp4?Expires=9"
    assert video.duration == 7.0


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            {"code": 40119, "message": "Video is too long", "detail": "Video is too long (> 3600.0s)."},
            "40119",
            "Video is too long: Video is too long (> 3600.0s).",
        ),
        ({"code": "MOVIO_RENDER_ERROR", "message": "Render failed"}, "MOVIO_RENDER_ERROR", "Render failed"),
        ("avatar is no longer available", "", "avatar is no longer available"),
        (None, "", "HeyGen reported the render as failed"),
    ],
)
def test_it_reads_each_form_of_a_failed_v2_render(mock, service, error, code, message):
    data = {"id": "v2_vid", "status": "failed"}
    if error is not None:
        data["error"] = error
    mock.get(f"{API}/v1/video_status.get").respond(200, json={"code": 100, "data": data})

    video = service.get_video_status_v2("v2_vid")

    assert video == HeyGenVideo(video_id="v2_vid", state="failed", failure_code=code, failure_message=message)


def test_it_refuses_a_v2_status_answer_that_is_only_an_error(mock, service):
    mock.get(f"{API}/v1/video_status.get").respond(200, json={"code": 40001, "message": "video_id missing"})

    with pytest.raises(PermanentError, match="video_id missing"):
        service.get_video_status_v2("v2_vid")


# --- error mapping -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error_class", "code"),
    [
        (
            400,
            {"error": {"code": "invalid_parameter", "message": "bad", "param": "script"}},
            PermanentError,
            "invalid_parameter",
        ),
        (
            401,
            {"error": {"code": "unauthorized", "message": "Invalid API key"}},
            PermanentError,
            "unauthorized",
        ),
        (
            402,
            {"error": {"code": "insufficient_credit", "message": "No credits"}},
            PermanentError,
            "insufficient_credit",
        ),
        (
            404,
            {"data": None, "error": {"code": "avatar_not_found", "message": "Avatar not found"}},
            PermanentError,
            "avatar_not_found",
        ),
        (500, {"error": {"code": "internal_error", "message": "oops"}}, RetryableError, "internal_error"),
        (503, None, RetryableError, ""),
    ],
)
def test_it_maps_http_errors_to_the_right_error_class(mock, service, status, body, error_class, code):
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="down")
    mock.post(f"{API}/v3/videos").mock(return_value=response)
    mock.post(f"{API}/v2/video/generate").mock(return_value=response)
    mock.get(f"{API}/v3/videos/vid_1").mock(return_value=response)

    for call in (lambda: _create(service), lambda: _generate(service), lambda: service.get_video("vid_1")):
        with pytest.raises(error_class) as info:
            call()
        assert type(info.value) is error_class
        assert info.value.status_code == status
        assert info.value.code == code
        assert info.value.provider == "heygen"


def test_it_reports_rate_limits_with_retry_after(mock, service):
    mock.post(f"{API}/v3/videos").respond(
        429,
        headers={"Retry-After": "17"},
        json={"error": {"code": "rate_limit_exceeded", "message": "Too many concurrent renders"}},
    )

    with pytest.raises(RateLimitedError) as info:
        _create(service)

    assert info.value.retry_after == 17.0
    assert info.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("exception", "create_error", "poll_error"),
    [
        (httpx.ReadTimeout("slow"), AmbiguousError, RetryableError),
        (httpx.RemoteProtocolError("reset"), AmbiguousError, RetryableError),
        (httpx.ConnectError("refused"), RetryableError, RetryableError),
        (httpx.ConnectTimeout("no route"), RetryableError, RetryableError),
    ],
)
def test_it_maps_transport_failures_by_whether_the_call_creates_work(
    mock, service, exception, create_error, poll_error
):
    mock.post(f"{API}/v3/videos").mock(side_effect=exception)
    mock.post(f"{API}/v2/video/generate").mock(side_effect=exception)
    mock.get(f"{API}/v3/videos/vid_1").mock(side_effect=exception)
    mock.get(f"{API}/v1/video_status.get").mock(side_effect=exception)

    for create in (lambda: _create(service), lambda: _generate(service)):
        with pytest.raises(create_error) as info:
            create()
        assert type(info.value) is create_error
    for poll in (lambda: service.get_video("vid_1"), lambda: service.get_video_status_v2("vid_1")):
        with pytest.raises(poll_error) as info:
            poll()
        assert type(info.value) is poll_error


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"code": "insufficient_credit", "message": "Need 10", "param": None, "doc_url": "u"}},
            ("insufficient_credit", "Need 10"),
        ),
        (
            {"data": None, "error": {"code": "avatar_not_found", "message": "Avatar gone"}},
            ("avatar_not_found", "Avatar gone"),
        ),
        ({"data": None, "error": "plain words"}, ("", "plain words")),
        ({"code": 40009, "message": "INVALID_CREDENTIALS"}, ("40009", "INVALID_CREDENTIALS")),
        ({"code": 400112, "msg": "UNAUTHORIZED"}, ("400112", "UNAUTHORIZED")),
        ("just a string", ("", "just a string")),
        ([1, 2], ("", "")),
    ],
)
def test_it_parses_every_error_envelope(body, expected):
    assert parse_error(httpx.Response(400, json=body)) == expected


def test_it_parses_an_error_that_is_not_json():
    assert parse_error(httpx.Response(502, text="<html>Bad gateway</html>")) == ("", "Bad Gateway")


# --- configuration -------------------------------------------------------------------------------------


def test_it_keeps_the_path_prefix_of_the_base_urls(mock):
    svc = HeyGenService(
        base_url="http://127.0.0.1:8900/heygen/", upload_base_url="http://127.0.0.1:8900/heygen-up"
    )
    create = mock.post("http://127.0.0.1:8900/heygen/v3/videos").respond(
        200, json={"data": {"video_id": "v"}}
    )
    poll = mock.get("http://127.0.0.1:8900/heygen/v3/videos/v").respond(
        200, json={"data": {"id": "v", "status": "processing"}}
    )
    status = mock.get("http://127.0.0.1:8900/heygen/v1/video_status.get").respond(
        200, json={"data": {"id": "v", "status": "waiting"}}
    )
    generate = mock.post("http://127.0.0.1:8900/heygen/v2/video/generate").respond(
        200, json={"data": {"video_id": "v"}}
    )
    upload = mock.post("http://127.0.0.1:8900/heygen-up/v1/asset").respond(200, json={"data": {"id": "a"}})

    with svc:
        assert _create(svc) == "v"
        assert svc.get_video("v").state == "processing"
        assert svc.get_video_status_v2("v").state == "pending"
        assert _generate(svc) == "v"
        assert svc.upload_video_asset(b"x") == "a"

    for route in (create, poll, status, generate, upload):
        assert route.call_count == 1


def test_it_reads_its_configuration_from_settings(settings, mock):
    settings.HEYGEN_API_KEY = "from-settings"
    settings.HEYGEN_API_BASE_URL = "http://heygen.test/prefix"
    route = mock.get("http://heygen.test/prefix/v3/videos/v").respond(
        200, json={"data": {"id": "v", "status": "pending"}}
    )

    with HeyGenService() as svc:
        svc.get_video("v")

    assert route.calls.last.request.headers["X-Api-Key"] == "from-settings"


def test_it_uses_an_explicit_timeout_and_ignores_proxy_environment(service):
    client = service._client
    assert client.trust_env is False
    assert client.timeout.read == 60.0
    assert client.timeout.connect == 10.0


def test_it_refuses_to_call_heygen_without_an_api_key(mock):
    route = mock.get(f"{API}/v3/videos/v")

    with HeyGenService(api_key="") as svc, pytest.raises(PermanentError, match="not configured"):
        svc.get_video("v")

    assert not route.called


# --- secrets never leak --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            401, json={"error": {"code": "unauthorized", "message": f"API key {SECRET_KEY} is invalid"}}
        ),
        httpx.Response(400, json={"code": 40009, "message": f"INVALID_CREDENTIALS {SECRET_KEY}"}),
        httpx.Response(500, text=f"crash for {SECRET_KEY}"),
        httpx.Response(429, json={"data": None, "error": f"slow down {SECRET_KEY}"}),
        httpx.Response(400, json={"error": {"code": SECRET_KEY, "message": "odd", "param": "output_format"}}),
    ],
)
def test_it_never_puts_the_api_key_in_an_error(mock, response):
    mock.post(f"{API}/v3/videos").mock(return_value=response)
    mock.post(f"{API}/v2/video/generate").mock(return_value=response)
    mock.get(f"{API}/v3/videos/v").mock(return_value=response)

    with HeyGenService(api_key=SECRET_KEY) as svc:
        for call in (lambda: _create(svc), lambda: _generate(svc), lambda: svc.get_video("v")):
            with pytest.raises(ProviderError) as info:
                call()
            assert SECRET_KEY not in str(info.value)
            assert SECRET_KEY not in info.value.message
            assert SECRET_KEY not in info.value.code
        assert SECRET_KEY not in repr(svc)


def test_it_never_puts_the_api_key_in_a_failure_message(mock):
    mock.get(f"{API}/v3/videos/v").respond(
        200, json={"data": {"id": "v", "status": "failed", "failure_message": f"key {SECRET_KEY} rejected"}}
    )

    with HeyGenService(api_key=SECRET_KEY) as svc:
        video = svc.get_video("v")

    assert SECRET_KEY not in video.failure_message


def test_it_strips_signed_url_queries_from_provider_messages(mock, service):
    mock.post(f"{API}/v3/videos").respond(
        400,
        json={
            "error": {
                "code": "download_failed",
                "message": "cannot fetch https://cdn.x/a.png?Signature=s3cr3t",
            }
        },
    )

    with pytest.raises(PermanentError) as info:
        _create(service)

    assert "s3cr3t" not in str(info.value)
    assert "https://cdn.x/a.png" in str(info.value)


# --- download ------------------------------------------------------------------------------------------

CDN = "https://files2.heygen.ai/render/abc/video.webm"
SIGNED = f"{CDN}?Expires=1760000000&Signature=TOPSECRETSIG"


def test_it_downloads_the_render_to_the_destination(mock, service, tmp_path):
    payload = b"\x1aE\xdf\xa3" + b"w" * 300_000
    route = mock.get(SIGNED).respond(200, content=payload, headers={"Content-Type": "video/webm"})
    dest = tmp_path / "out" / "presenter.webm"

    written = service.download(SIGNED, dest)

    assert written == len(payload)
    assert dest.read_bytes() == payload
    assert "X-Api-Key" not in route.calls.last.request.headers
    assert [p.name for p in dest.parent.iterdir()] == ["presenter.webm"]


def test_it_follows_a_redirect_to_the_cdn(mock, service, tmp_path):
    mock.get("https://resource.heygen.ai/v/1").respond(302, headers={"Location": SIGNED})
    mock.get(SIGNED).respond(200, content=b"video", headers={"Content-Type": "video/mp4"})

    assert service.download("https://resource.heygen.ai/v/1", tmp_path / "v.mp4") == 5


def test_it_refuses_a_download_whose_content_length_is_too_big(mock, service, tmp_path):
    mock.get(SIGNED).respond(200, content=b"x" * 2048, headers={"Content-Type": "video/mp4"})
    dest = tmp_path / "v.mp4"

    with pytest.raises(PermanentError) as info:
        service.download(SIGNED, dest, max_bytes=1024)

    assert info.value.code == "too_large"
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_it_counts_bytes_when_there_is_no_content_length(mock, service, tmp_path):
    chunks = [b"x" * 600, b"x" * 600]
    mock.get(SIGNED).mock(return_value=httpx.Response(200, content=iter(chunks)))
    dest = tmp_path / "v.mp4"

    with pytest.raises(PermanentError) as info:
        service.download(SIGNED, dest, max_bytes=1000)

    assert info.value.code == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_it_gives_up_on_a_download_that_outlives_its_deadline(mock, service, tmp_path):
    mock.get(SIGNED).mock(return_value=httpx.Response(200, content=iter([b"a", b"b"])))

    with pytest.raises(RetryableError) as info:
        service.download(SIGNED, tmp_path / "v.mp4", deadline_seconds=-1)

    assert info.value.code == "download_timeout"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (403, PermanentError),
        (404, PermanentError),
        (500, RetryableError),
        (503, RetryableError),
        (429, RateLimitedError),
    ],
)
def test_it_maps_download_failures_and_hides_the_signature(mock, service, tmp_path, status, error_class):
    mock.get(SIGNED).respond(status, text=f"<Error>AccessDenied {SIGNED}</Error>")
    dest = tmp_path / "v.mp4"

    with pytest.raises(error_class) as info:
        service.download(SIGNED, dest)

    assert type(info.value) is error_class
    assert info.value.status_code == status
    assert "TOPSECRETSIG" not in str(info.value)
    assert "Expires" not in str(info.value)
    assert not dest.exists()


def test_it_retries_a_download_whose_connection_failed(mock, service, tmp_path):
    mock.get(SIGNED).mock(side_effect=httpx.ConnectError(f"cannot reach {SIGNED}"))

    with pytest.raises(RetryableError) as info:
        service.download(SIGNED, tmp_path / "v.mp4")

    assert "TOPSECRETSIG" not in str(info.value)


def test_it_refuses_a_link_that_returns_a_web_page(mock, service, tmp_path):
    mock.get(SIGNED).respond(200, text="<html>sign in</html>", headers={"Content-Type": "text/html"})

    with pytest.raises(PermanentError):
        service.download(SIGNED, tmp_path / "v.mp4")


def test_it_refuses_a_link_that_is_not_http(service, tmp_path):
    with pytest.raises(PermanentError):
        service.download("file:///etc/passwd", tmp_path / "v.mp4")


def test_it_replaces_an_existing_file_only_when_the_download_is_complete(mock, service, tmp_path):
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"old")
    mock.get(SIGNED).respond(500)

    with pytest.raises(RetryableError):
        service.download(SIGNED, dest)
    assert dest.read_bytes() == b"old"

    mock.get(SIGNED).respond(200, content=b"new video", headers={"Content-Type": "video/mp4"})
    assert service.download(SIGNED, dest) == 9
    assert dest.read_bytes() == b"new video"


# --- bulk statuses: GET /v3/videos/statuses ---------------------------------------------------------------


def test_bulk_statuses_ask_for_every_id_in_one_call_and_read_each_answer(mock, service):
    route = mock.get(f"{API}/v3/videos/statuses").mock(return_value=httpx.Response(200, json={
        "data": [{"video_id": "v1", "status": "processing"},
                 {"video_id": "v2", "status": "completed", "video_url": "https://files.heygen.ai/v2.webm"},
                 {"video_id": "v3", "status": "failed", "failure_code": "RENDER_ERROR",
                  "failure_message": "avatar render failed"}],
        "has_more": False, "next_token": None}))
    found = service.get_video_statuses(["v1", "v2", "v3", "v4"])
    assert len(route.calls) == 1
    request = route.calls[0].request
    assert request.url.params["video_ids"] == "v1,v2,v3,v4"
    assert request.headers["X-Api-Key"] == KEY
    assert found["v1"].state == "processing"
    assert found["v2"].state == "completed" and found["v2"].video_url == "https://files.heygen.ai/v2.webm"
    assert (found["v3"].state, found["v3"].failure_code) == ("failed", "RENDER_ERROR")
    assert "v4" not in found  # left out of the answer: checked on its own


def test_a_bulk_status_of_not_found_leaves_the_render_to_its_own_check(mock, service):
    mock.get(f"{API}/v3/videos/statuses").mock(return_value=httpx.Response(200, json={
        "data": [{"video_id": "v1", "status": "not_found"}, {"video_id": "v2", "status": "queued"}],
        "has_more": False, "next_token": None}))
    found = service.get_video_statuses(["v1", "v2"])
    assert "v1" not in found  # not "processing" forever: its own GET says what happened to it
    assert found["v2"].state == "pending"


def test_bulk_statuses_take_at_most_a_hundred_ids(service):
    with pytest.raises(ValueError):
        service.get_video_statuses([f"v{i}" for i in range(101)])
    with pytest.raises(ValueError):
        service.get_video_statuses([])


def test_bulk_statuses_ignore_ids_that_were_not_asked_for(mock, service):
    mock.get(f"{API}/v3/videos/statuses").mock(return_value=httpx.Response(200, json={
        "data": [{"video_id": "someone-else", "status": "completed", "video_url": "https://x/y.mp4"},
                 {"id": "v1", "status": "pending"}, "junk"]}))
    found = service.get_video_statuses(["v1"])
    assert list(found) == ["v1"] and found["v1"].state == "pending"


def test_bulk_statuses_that_answer_429_are_rate_limited_with_retry_after(mock, service):
    mock.get(f"{API}/v3/videos/statuses").mock(return_value=httpx.Response(
        429, headers={"Retry-After": "7"}, json={"error": {"code": "rate_limit_exceeded", "message": "slow down"}}))
    with pytest.raises(RateLimitedError) as caught:
        service.get_video_statuses(["v1"])
    assert caught.value.retry_after == 7


def test_bulk_statuses_without_a_list_are_a_retryable_bad_response(mock, service):
    mock.get(f"{API}/v3/videos/statuses").mock(return_value=httpx.Response(200, json={"data": None}))
    with pytest.raises(RetryableError):
        service.get_video_statuses(["v1"])
