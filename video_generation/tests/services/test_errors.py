"""One classification of failed exchanges, used by both provider clients, downloads and webhooks alike."""

import httpx
import pytest
import respx

from video_generation.services import errors
from video_generation.services.errors import (
    AmbiguousError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    error_class_for,
    error_for_transport,
)
from video_generation.services.heygen_service import HeyGenService
from video_generation.services.http import send


@pytest.mark.parametrize(("status", "expected"), [
    (400, PermanentError), (401, PermanentError), (404, PermanentError), (422, PermanentError),
    (408, RetryableError), (425, RetryableError), (429, RateLimitedError),
    (500, RetryableError), (502, RetryableError), (503, RetryableError), (504, RetryableError),
    (507, RetryableError), (501, PermanentError), (505, PermanentError),
])
def test_each_status_has_one_meaning(status, expected):
    assert error_class_for(status) is expected


def test_a_provider_code_can_say_more_than_its_status():
    assert error_class_for(409, "request_in_progress") is RetryableError
    assert error_class_for(400, "RESOURCE_EXHAUSTED") is RateLimitedError


@pytest.mark.parametrize("status", [501, 505, 503])
def test_the_provider_send_and_the_heygen_download_agree_on_every_status(status, tmp_path):
    expected = error_class_for(status)
    with respx.mock:
        respx.get("https://provider.example/op").respond(status, json={})
        respx.get("https://files.heygen.example/v.webm").respond(status)
        with httpx.Client() as client, pytest.raises(errors.ProviderError) as sent:
            send(client, client.build_request("GET", "https://provider.example/op"), provider="veo", operation="poll",
                 creates_work=False, parse_error=lambda response: ("", ""))
        with HeyGenService(api_key="k") as heygen, pytest.raises(errors.ProviderError) as downloaded:
            heygen.download("https://files.heygen.example/v.webm", tmp_path / "v.webm")
    assert type(sent.value) is expected
    assert type(downloaded.value) is expected


def test_a_lost_answer_to_paid_work_is_ambiguous_but_a_refused_connection_is_not():
    request = httpx.Request("POST", "https://provider.example/create")
    assert isinstance(error_for_transport(httpx.ReadTimeout("slow", request=request), provider="veo",
                                          creates_work=True), AmbiguousError)
    assert type(error_for_transport(httpx.ReadTimeout("slow", request=request), provider="veo",
                                    creates_work=False)) is RetryableError
    assert type(error_for_transport(httpx.ConnectError("refused", request=request), provider="veo",
                                    creates_work=True)) is RetryableError


def test_retry_after_is_read_as_seconds_or_as_a_date():
    assert errors.parse_retry_after("7") == 7.0
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert errors.parse_retry_after("soon") is None


@pytest.mark.parametrize("exc", [httpx.TooManyRedirects("loop"), httpx.UnsupportedProtocol("ftp"),
                                 httpx.LocalProtocolError("bad header")])
def test_a_request_that_cannot_work_however_often_it_is_tried_is_permanent_even_for_paid_work(exc):
    error = error_for_transport(exc, provider="heygen", creates_work=True)
    assert type(error) is PermanentError and error.code == "request_unworkable"


def test_the_heygen_download_classifies_a_redirect_loop_like_every_other_client(tmp_path):
    with respx.mock:
        respx.get("https://files.heygen.example/v.webm").mock(side_effect=httpx.TooManyRedirects("loop"))
        with HeyGenService(api_key="k") as heygen, pytest.raises(PermanentError):
            heygen.download("https://files.heygen.example/v.webm", tmp_path / "v.webm")
