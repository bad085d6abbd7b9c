"""The SSRF-safe client for user-supplied URLs: the rule at submit (no DNS), and resolve-check-pin at use.

Most tests run with ALLOW_PRIVATE_URLS off, as in production, on a FakeNetwork: host names answer what the test
says, and a connection to a "public" address reaches a local server standing in for it. The network records the
names looked up and the addresses connected to, as the socket layer saw them.
"""

import ipaddress
import socket
import time

import httpcore
import pytest

from video_generation.services import safe_http
from video_generation.services.errors import PermanentError, RateLimitedError, RetryableError
from video_generation.services.safe_http import (
    Fetched,
    PostResult,
    UnsafeUrl,
    UrlRefusedError,
    check_submitted_url,
    fetch_to_file,
    post_json,
)
from video_generation.tests.fake_network import PNG, Answer, MadeUpAuthority, redirect
from video_generation.tests.url_spellings import ACCEPTED_AT_SUBMIT, REFUSED_AT_SUBMIT

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
PUBLIC = "93.184.216.34"
OTHER_PUBLIC = "93.184.216.35"
JSON = {"content-type": "application/json"}

@pytest.fixture
def no_dns(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no DNS lookup may happen here")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def private_ok(settings):
    settings.ALLOW_PRIVATE_URLS = True


def fetch(url, dest, **kwargs):
    return fetch_to_file(url, dest, max_bytes=kwargs.pop("max_bytes", 10_000), allowed_content_types=IMAGE_TYPES,
                         **kwargs)


def public_host(net, servers, name="cdn.example.com", address=PUBLIC, port=80, **server_kwargs):
    """`name` resolves to the public `address`, where a recording server answers."""
    server = servers(**server_kwargs)
    net.answer(name, address)
    net.route(address, port, server)
    return server


# ---- the rule at submit: no DNS ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED_AT_SUBMIT)
def test_a_dangerous_url_is_refused_at_submit_without_a_dns_lookup(url, no_dns):
    with pytest.raises(UnsafeUrl) as info:
        check_submitted_url(url)
    assert info.value.message.endswith(".")  # a sentence for a person, not an exception name
    assert "secret" not in info.value.message


@pytest.mark.parametrize("url", ACCEPTED_AT_SUBMIT)
def test_a_public_url_is_accepted_at_submit_without_a_dns_lookup(url, no_dns):
    check_submitted_url(url)


@pytest.mark.parametrize(("url", "fragment"), [
    ("ftp://cdn.example.com/x.png", "http and https"),
    ("http://u:p@cdn.example.com/x.png", "user name or password"),
    ("http://cdn.example.com:8080/x.png", "80 and 443"),
    ("http://2130706433/x.png", "private, local or reserved"),
    ("http://169.254.169.254/", "metadata"),
    ("http://redis/", "full host name"),
    ("http://db.internal/", "private networks"),
    ("http://1.2.3.04/x.png", "usual dotted form"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://cdn.example.com/a b", "spaces or control characters"),
])
def test_the_refusal_says_what_is_wrong(url, fragment, no_dns):
    with pytest.raises(UnsafeUrl, match=fragment):
        check_submitted_url(url)


def test_a_url_over_2048_characters_is_refused_and_one_at_2048_is_not(no_dns):
    base = "https://cdn.example.com/"
    check_submitted_url(base + "a" * (2048 - len(base)))
    with pytest.raises(UnsafeUrl, match="longer than 2048"):
        check_submitted_url(base + "a" * (2049 - len(base)))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8123/x.png", "http://localhost:9000/x.png", "http://10.0.0.1/x.png", "http://redis:6379/",
    "http://minio.internal:9000/b/x.png", "http://127.1:8000/x.png",
])
def test_allow_private_urls_opens_loopback_and_private_hosts_on_any_port(url, private_ok, no_dns):
    check_submitted_url(url)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/", "http://2852039166/", "http://0xa9fea9fe/", "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/", "http://metadata.google.internal/", "http://METADATA.GOOGLE.INTERNAL./",
    "http://metadata/", "http://ｍｅｔａｄａｔａ/", "http://instance-data/", "file:///etc/passwd",
    "http://user:pw@127.0.0.1:8123/", "http://127.0.0.1:8123/x\n.png",
])
def test_allow_private_urls_still_refuses_metadata_schemes_credentials_and_control_characters(url, private_ok, no_dns):
    with pytest.raises(UnsafeUrl):
        check_submitted_url(url)


# ---- at use: every answer checked, before any connection ---------------------------------------------------


@pytest.mark.parametrize("answers", [
    ("127.0.0.1",), ("10.1.2.3",), ("169.254.169.254",), ("100.64.0.9",), ("0.0.0.0",), ("::1",), ("fd12::1",),
    ("fe80::1",), ("::ffff:127.0.0.1",), ("::ffff:10.0.0.1",), ("::ffff:169.254.169.254",), ("64:ff9b::7f00:1",),
    (PUBLIC, "192.168.0.7"),  # one bad answer is enough
    ("2606:2800:220:1::1", "::ffff:127.0.0.1"),
])
def test_a_name_resolving_to_a_non_public_address_is_refused_before_connecting(net, tmp_path, answers):
    net.answer("cdn.example.com", answers)
    with pytest.raises(UrlRefusedError) as fetched:
        fetch("http://cdn.example.com/x.png", tmp_path / "x.png")
    with pytest.raises(UrlRefusedError) as posted:
        post_json("http://cdn.example.com/hook", b"{}", headers=JSON)
    assert (fetched.value.code, fetched.value.provider) == ("url_not_allowed", "image")
    assert (posted.value.code, posted.value.provider) == ("url_not_allowed", "webhook")
    assert net.connections == []
    assert list(tmp_path.iterdir()) == []


def test_a_metadata_address_from_dns_is_refused_even_when_private_urls_are_allowed(net, tmp_path, private_ok):
    net.answer("sneaky.example.com", "fd00:ec2::254")
    with pytest.raises(UrlRefusedError, match="metadata"):
        fetch("http://sneaky.example.com/x.png", tmp_path / "x.png")
    assert net.connections == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/x.png", "http://localhost/x.png", "ftp://cdn.example.com/"])
def test_a_url_refused_at_submit_is_refused_at_use_before_any_lookup(url, net, tmp_path):
    with pytest.raises(UrlRefusedError):
        fetch(url, tmp_path / "x.png")
    with pytest.raises(UrlRefusedError):
        post_json(url, b"{}", headers=JSON)
    assert net.lookups == [] and net.connections == []


def test_an_unknown_host_is_permanent_and_a_dns_outage_is_retryable(net, monkeypatch, tmp_path):
    with pytest.raises(UrlRefusedError) as info:
        fetch("https://nope.example.com/a.png", tmp_path / "a.png")
    assert info.value.code == "host_not_found"

    def outage(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", outage)
    with pytest.raises(RetryableError) as info:
        post_json("https://flaky.example.com/hook", b"{}", headers=JSON)
    assert info.value.code == "dns_failed"
    assert not isinstance(info.value, PermanentError)


def test_a_dns64_answer_for_a_public_address_is_reached_at_that_ipv6_address(net, servers, tmp_path):
    server = public_host(net, servers, address="64:ff9b::5db8:d822")
    fetch("http://cdn.example.com/image.png", tmp_path / "p.png")
    assert net.connections == [("64:ff9b::5db8:d822", 80)]
    assert len(server.requests) == 1


# ---- DNS rebinding ---------------------------------------------------------------------------------------


@pytest.fixture
def rebinding(net, servers):
    """rebind.example.com answers a public address, then 127.0.0.1. At the public address a server stands in
    for the host we checked; on 127.0.0.1:80 a victim server records anything that reaches it."""
    checked = servers(answers={"/hook": Answer(204, b"", ())})
    victim = servers()
    net.route(PUBLIC, 80, checked)
    net.route("127.0.0.1", 80, victim)
    return net, checked, victim


@pytest.mark.parametrize("send", ["get", "post"])
def test_a_name_that_rebinds_to_loopback_after_the_check_never_reaches_loopback(rebinding, tmp_path, send):
    net, checked, victim = rebinding
    net.answer("rebind.example.com", PUBLIC, "127.0.0.1")

    if send == "get":
        result = fetch("http://rebind.example.com/image.png?size=2", tmp_path / "p.png")
        assert result == Fetched(content_type="image/png", size=len(PNG))
    else:
        assert post_json("http://rebind.example.com/hook", b'{"a":1}', headers=JSON) == PostResult(204)

    assert victim.requests == []
    assert net.lookups == ["rebind.example.com"]  # resolved once, by the check
    assert net.connections == [(PUBLIC, 80)]  # and connected to the address that was checked
    [request] = checked.requests
    assert request.headers["Host"] == "rebind.example.com"
    assert request.path == ("/image.png?size=2" if send == "get" else "/hook")


@pytest.mark.parametrize("send", ["get", "post"])
def test_a_name_that_answers_loopback_first_is_refused_without_connecting(rebinding, tmp_path, send):
    net, checked, victim = rebinding
    net.answer("rebind.example.com", "127.0.0.1", PUBLIC)
    with pytest.raises(UrlRefusedError):
        if send == "get":
            fetch("http://rebind.example.com/image.png", tmp_path / "p.png")
        else:
            post_json("http://rebind.example.com/hook", b"{}", headers=JSON)
    assert net.connections == []
    assert victim.requests == checked.requests == []


def test_the_next_checked_address_is_tried_only_when_connecting_fails(net, servers):
    server = servers(default=Answer(503, b"", ()))
    net.answer("hooks.example.com", (PUBLIC, OTHER_PUBLIC))
    net.route(OTHER_PUBLIC, 80, server)  # nothing answers at PUBLIC
    assert post_json("http://hooks.example.com/hook", b"{}", headers=JSON).status_code == 503
    assert net.connections == [(PUBLIC, 80), (OTHER_PUBLIC, 80)]
    assert len(server.requests) == 1  # a request that was sent and failed is not sent again


def test_the_connection_pool_refuses_any_address_but_the_checked_one():
    backend = safe_http._PinnedBackend(ipaddress.ip_address(PUBLIC), time.monotonic() + 5)
    for host in ("127.0.0.1", "cdn.example.com", OTHER_PUBLIC):
        with pytest.raises(httpcore.ConnectError):
            backend.connect_tcp(host, 80)


# ---- TLS: pinned to the IP, verified for the name ---------------------------------------------------------


@pytest.fixture
def tls_host(net, servers, tmp_path, monkeypatch):
    """https://cdn.example.com on a public address, with a certificate from a CA only this test trusts."""
    authority = MadeUpAuthority(tmp_path)
    monkeypatch.setattr(safe_http, "_tls_context", authority.client_context)
    server_names: list[str] = []
    server = public_host(net, servers, port=443, tls=authority.server_context("cdn.example.com", server_names))
    return server, server_names


def test_https_connects_to_the_checked_ip_and_verifies_the_certificate_for_the_host_name(net, tls_host, tmp_path):
    server, server_names = tls_host
    fetch("https://cdn.example.com/image.png", tmp_path / "p.png")
    assert net.connections == [(PUBLIC, 443)]
    assert server_names == ["cdn.example.com"]  # SNI carried the name, not the IP
    assert server.requests[0].headers["Host"] == "cdn.example.com"


def test_https_refuses_a_certificate_that_is_not_for_the_host_name(net, tls_host, tmp_path):
    server, _ = tls_host
    net.answer("other.example.com", PUBLIC)  # same address, but its certificate names cdn.example.com
    with pytest.raises(RetryableError) as info:
        fetch("https://other.example.com/image.png", tmp_path / "p.png")
    assert info.value.code == "connection_failed"
    assert server.requests == []


# ---- redirects -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_image_get_follows_a_redirect_to_a_public_host_checked_and_pinned_again(net, servers, tmp_path, status):
    first = public_host(net, servers, answers={"/p.png": redirect("http://images.example.net/final.png", status)})
    second = public_host(net, servers, name="images.example.net", address=OTHER_PUBLIC)

    assert fetch("http://cdn.example.com/p.png", tmp_path / "p.png").size == len(PNG)

    assert net.lookups == ["cdn.example.com", "images.example.net"]
    assert net.connections == [(PUBLIC, 80), (OTHER_PUBLIC, 80)]
    assert [r.path for r in first.requests] == ["/p.png"]
    assert [(r.path, r.headers["Host"]) for r in second.requests] == [("/final.png", "images.example.net")]


def test_a_relative_redirect_is_resolved_and_checked_again(net, servers, tmp_path):
    server = servers(answers={"/p.png": redirect("/final.png")})
    victim = servers()
    net.route(PUBLIC, 80, server)
    net.route("127.0.0.1", 80, victim)
    net.answer("cdn.example.com", PUBLIC, "127.0.0.1")  # rebinds between the hops
    with pytest.raises(UrlRefusedError):
        fetch("http://cdn.example.com/p.png", tmp_path / "p.png")
    assert victim.requests == []
    assert net.connections == [(PUBLIC, 80)]


@pytest.mark.parametrize("location", [
    "http://127.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/", "http://2130706433/x.png",
    "http://[::ffff:127.0.0.1]/x.png", "http://localhost/x.png", "http://redis/x.png", "file:///etc/passwd",
    "gopher://images.example.net/", "ftp://images.example.net/x.png", "http://user:pw@images.example.net/x.png",
    "http://images.example.net:8080/x.png", "http://internal.example.net/x.png",
])
def test_a_redirect_to_somewhere_not_allowed_is_refused(net, servers, tmp_path, location):
    public_host(net, servers, answers={"/p.png": redirect(location)})
    other = public_host(net, servers, name="images.example.net", address=OTHER_PUBLIC)
    net.answer("internal.example.net", "10.0.0.5")
    with pytest.raises(UrlRefusedError) as info:
        fetch("http://cdn.example.com/p.png", tmp_path / "p.png")
    assert info.value.code == "url_not_allowed"
    assert net.connections == [(PUBLIC, 80)]
    assert other.requests == []
    assert list(tmp_path.iterdir()) == []


def test_the_image_get_follows_three_redirects_and_refuses_a_fourth(net, servers, tmp_path):
    hops = {f"/r{n}": redirect(f"/r{n + 1}") for n in range(4)}
    server = public_host(net, servers, answers={**hops, "/r4": Answer()})

    assert fetch("http://cdn.example.com/r1", tmp_path / "three.png").size == len(PNG)
    server.requests.clear()
    with pytest.raises(PermanentError) as info:
        fetch("http://cdn.example.com/r0", tmp_path / "four.png")
    assert info.value.code == "too_many_redirects"
    assert [r.path for r in server.requests] == ["/r0", "/r1", "/r2", "/r3"]  # /r4 was never asked for
    assert not (tmp_path / "four.png").exists()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_post_never_follows_a_redirect(net, servers, status):
    first = public_host(net, servers, name="hooks.example.com",
                        answers={"/hook": redirect("http://images.example.net/hook", status)})
    other = public_host(net, servers, name="images.example.net", address=OTHER_PUBLIC)
    assert post_json("http://hooks.example.com/hook", b"{}", headers=JSON).status_code == status
    assert len(first.requests) == 1 and other.requests == []
    assert net.lookups == ["hooks.example.com"]


# ---- statuses and what users are shown -------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error", "code"), [
    (400, PermanentError, "http_error"), (401, PermanentError, "http_error"), (404, PermanentError, "http_error"),
    (410, PermanentError, "http_error"), (408, RetryableError, "server_error"), (425, RetryableError, "server_error"),
    (429, RateLimitedError, "rate_limited"), (500, RetryableError, "server_error"),
    (501, PermanentError, "http_error"), (502, RetryableError, "server_error"), (503, RetryableError, "server_error"),
    (504, RetryableError, "server_error"), (505, PermanentError, "http_error"),
])
def test_a_download_status_becomes_the_right_error_without_the_body_or_the_query(net, servers, tmp_path, status,
                                                                                 error, code):
    body = b"internal detail: /srv/secret"
    public_host(net, servers, default=Answer(status, body, (("Content-Type", "text/plain"), ("Retry-After", "7"))))
    url = "http://cdn.example.com/x.png?token=s3cr3t"
    with pytest.raises(error) as info:
        fetch(url, tmp_path / "x.png")
    assert type(info.value) is error
    assert (info.value.code, info.value.status_code) == (code, status)
    assert info.value.provider == "image"
    assert "secret" not in str(info.value) and "s3cr3t" not in str(info.value)
    if status == 429:
        assert info.value.retry_after == 7.0


@pytest.mark.parametrize("status", [200, 204, 302, 400, 404, 410, 429, 500, 503])
def test_a_webhook_post_returns_any_answered_status_with_the_start_of_its_body(net, servers, status):
    public_host(net, servers, name="hooks.example.com",
                default=Answer(status, b"x" * 2000 if status != 204 else b"", (("Content-Type", "text/plain"),)))
    result = post_json("http://hooks.example.com/hook", b"{}", headers=JSON, keep_bytes=10)
    assert result == PostResult(status, b"xxxxxxxxxx" if status != 204 else b"")


def test_a_webhook_post_sends_the_body_and_headers_it_was_given(net, servers):
    server = public_host(net, servers, name="hooks.example.com", default=Answer(200, b"ok", ()))
    result = post_json("http://hooks.example.com/hook?x=1", b'{"a":1}', headers={**JSON, "webhook-id": "evt_1"})
    assert result == PostResult(200, b"ok")
    [request] = server.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook?x=1", b'{"a":1}')
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Host"] == "hooks.example.com"


# ---- caps and deadlines ----------------------------------------------------------------------------------


def drip_headers(handler):
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100):
        handler.wfile.write(b"X-Drip: 1\r\n")
        time.sleep(0.05)


def drip_body(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b"x")
        time.sleep(0.05)


def endless_body(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    while True:
        handler.wfile.write(b"x" * 65536)


@pytest.mark.parametrize("respond", [drip_headers, drip_body], ids=["headers", "body"])
def test_a_download_trickled_byte_by_byte_stops_at_the_whole_deadline(net, servers, tmp_path, respond):
    public_host(net, servers, default=respond)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        fetch("http://cdn.example.com/x.png", tmp_path / "x.png", deadline_seconds=0.6)
    assert info.value.code == "no_response"
    assert time.monotonic() - started < 3.0  # the server would trickle for 5 s
    assert list(tmp_path.iterdir()) == []


def test_a_webhook_answer_trickled_byte_by_byte_stops_at_the_whole_deadline(net, servers):
    public_host(net, servers, name="hooks.example.com", default=drip_headers)
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        post_json("http://hooks.example.com/hook", b"{}", headers=JSON, deadline_seconds=0.6)
    assert info.value.code == "no_response"
    assert time.monotonic() - started < 3.0


def test_an_endless_webhook_answer_is_read_only_up_to_the_cap(net, servers):
    public_host(net, servers, name="hooks.example.com", default=endless_body)
    started = time.monotonic()
    answer = post_json("http://hooks.example.com/hook", b"{}", headers=JSON, deadline_seconds=30, keep_bytes=4)
    assert answer == PostResult(200, b"xxxx")
    assert time.monotonic() - started < 3.0


# ---- downloads from a local server (ALLOW_PRIVATE_URLS, as local runs do) -----------------------------------


def answer_without_length(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.end_headers()
    handler.wfile.write(PNG * 10)  # HTTP/1.0 with no length: read until close


LOCAL_ANSWERS = {
    "/image.png": Answer(200, PNG, (("Content-Type", "image/png; charset=binary"),)),
    "/page.html": Answer(200, b"<html>secret internal page</html>", (("Content-Type", "text/html"),)),
    "/big-header.png": Answer(200, PNG, (("Content-Type", "image/png"), ("Content-Length", "10000000"))),
    "/big-stream.png": answer_without_length,
    "/missing.png": Answer(404, b"internal detail: /srv/secret", (("Content-Type", "text/plain"),)),
    "/boom.png": Answer(503, b"down", (("Content-Type", "text/plain"),)),
    "/metadata.png": redirect("http://169.254.169.254/"),
    "/empty.png": Answer(200, b""),
}


@pytest.fixture
def local(servers, private_ok):
    return servers(answers=LOCAL_ANSWERS)


def test_a_loopback_server_is_refused_without_allow_private_urls(servers, tmp_path):
    server = servers(answers=LOCAL_ANSWERS)
    with pytest.raises(UrlRefusedError) as info:
        fetch(f"{server.url}/image.png", tmp_path / "a.png")
    assert info.value.code == "url_not_allowed"
    assert server.requests == []
    assert not (tmp_path / "a.png").exists()


def test_the_download_is_written_whole_and_leaves_no_temporary_file(local, tmp_path):
    dest = tmp_path / "sub" / "product.png"
    result = fetch(f"{local.url}/image.png", dest)
    assert result == Fetched(content_type="image/png", size=len(PNG))
    assert dest.read_bytes() == PNG
    assert [p.name for p in dest.parent.iterdir()] == ["product.png"]


@pytest.mark.parametrize(("path", "max_bytes", "code"), [
    ("/page.html", 10_000, "unsupported_content_type"),
    ("/big-header.png", 10_000, "too_large"),
    ("/big-stream.png", len(PNG) * 3, "too_large"),
    ("/missing.png", 10_000, "http_error"),
    ("/metadata.png", 10_000, "url_not_allowed"),
    ("/empty.png", 10_000, "empty_response"),
])
def test_a_download_that_breaks_a_rule_fails_for_good_and_writes_nothing(local, tmp_path, path, max_bytes, code):
    with pytest.raises(PermanentError) as info:
        fetch(local.url + path, tmp_path / "x.png", max_bytes=max_bytes)
    assert info.value.code == code
    assert info.value.provider == "image"
    assert "secret" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_server_error_is_retryable(local, tmp_path):
    with pytest.raises(RetryableError) as info:
        fetch(f"{local.url}/boom.png", tmp_path / "x.png")
    assert info.value.status_code == 503


def test_a_refused_connection_is_retryable(tmp_path, private_ok):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(RetryableError) as info:
        fetch(f"http://127.0.0.1:{port}/x.png", tmp_path / "x.png")
    assert info.value.code == "connection_failed"


def test_proxies_from_the_environment_are_ignored(local, tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")
    assert fetch(f"{local.url}/image.png", tmp_path / "x.png").size == len(PNG)
    assert len(local.requests) == 1
