import http.server
import socket
import threading
import time

import pytest

from video_generation.services import fetch as fetch_module
from video_generation.services.errors import PermanentError, RetryableError
from video_generation.services.fetch import Fetched, fetch_to_file, validate_public_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


def _addrinfo(*ips):
    def fake(host, port, *args, **kwargs):
        out = []
        for ip in ips:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            sockaddr = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    return fake


# ---- URL policy --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x.png",
    "http://0.0.0.0/x.png",
    "http://10.0.0.1/x.png",
    "http://172.16.0.1/x.png",
    "http://192.168.1.1/x.png",
    "http://169.254.169.254/computeMetadata/v1/",
    "http://100.64.0.1/x.png",
    "http://[::1]/x.png",
    "http://[fc00::1]/x.png",
    "http://[fe80::1]/x.png",
    "http://[::ffff:127.0.0.1]/x.png",
    "http://[::ffff:a9fe:a9fe]/x.png",
    "http://2130706433/x.png",
    "http://0x7f000001/x.png",
    "http://0177.0.0.1/x.png",
    "http://127.1/x.png",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./x",
    "http://224.0.0.1/x.png",
    "http://240.0.0.1/x.png",
    "http://[ff02::1]/x.png",
    "file:///etc/passwd",
    "gopher://x/",
    "ftp://example.com/x.png",
    "http://user:pw@8.8.8.8/x.png",
    "http://8.8.8.8:8080/x.png",
    "http:///x.png",
    "not a url",
    "",
])
def test_rejected_urls(url, monkeypatch):
    def no_dns(*args, **kwargs):  # none of these may need a real lookup
        raise AssertionError("DNS must not be consulted")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(PermanentError) as info:
        validate_public_url(url)
    assert info.value.code == "url_not_allowed"
    assert info.value.provider == "image"


def test_public_literal_and_public_name_are_accepted(monkeypatch):
    validate_public_url("https://8.8.8.8/a.png")
    validate_public_url("http://[2606:4700:4700::1111]/a.png")
    monkeypatch.setattr(socket, "getaddrinfo", _addrinfo("93.184.216.34", "2606:2800:220:1::1"))
    validate_public_url("https://images.example.com/a.png?x=1")


@pytest.mark.parametrize("answers", [
    ("10.1.2.3",),
    ("127.0.0.1",),
    ("169.254.169.254",),
    ("93.184.216.34", "192.168.0.7"),  # one bad answer is enough
    ("::ffff:10.0.0.1",),
    ("fd12::1",),
])
def test_name_resolving_to_private_address_is_rejected(monkeypatch, answers):
    monkeypatch.setattr(socket, "getaddrinfo", _addrinfo(*answers))
    with pytest.raises(PermanentError) as info:
        validate_public_url("https://rebind.example.com/a.png")
    assert info.value.code == "url_not_allowed"


def test_unknown_host_and_dns_outage(monkeypatch):
    def nxdomain(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def outage(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    with pytest.raises(PermanentError) as info:
        validate_public_url("https://nope.example.com/a.png")
    assert info.value.code == "host_not_found"
    monkeypatch.setattr(socket, "getaddrinfo", outage)
    with pytest.raises(RetryableError):
        validate_public_url("https://flaky.example.com/a.png")


def test_allow_private_urls_opens_private_hosts_but_not_metadata(settings, monkeypatch):
    settings.ALLOW_PRIVATE_URLS = True
    validate_public_url("http://127.0.0.1:8123/x.png")
    validate_public_url("http://10.0.0.1/x.png")
    for url in ("http://169.254.169.254/", "http://metadata.google.internal/", "file:///etc/passwd"):
        with pytest.raises(PermanentError):
            validate_public_url(url)


# ---- real local server -----------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    seen_hosts: list = []

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="image/png", length=True, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        _Handler.seen_hosts.append(self.headers.get("Host"))
        path = self.path
        try:
            if path == "/image.png":
                self._send(200, PNG, "image/png; charset=binary")
            elif path == "/page.html":
                self._send(200, b"<html>secret internal page</html>", "text/html")
            elif path == "/big-header.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(10_000_000))
                self.end_headers()
                self.wfile.write(PNG)
            elif path == "/big-stream.png":
                self._send(200, PNG * 10, length=False)  # HTTP/1.0, no length: read until close
            elif path == "/missing.png":
                self._send(404, b"internal detail: /srv/secret", "text/plain")
            elif path == "/boom.png":
                self._send(503, b"down", "text/plain")
            elif path == "/redirect.png":
                self._send(302, b"", "text/plain", extra=[("Location", "http://169.254.169.254/")])
            elif path == "/empty.png":
                self._send(200, b"")
            elif path == "/drip.png":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self._send(404)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def private_ok(settings):
    settings.ALLOW_PRIVATE_URLS = True


def test_server_is_refused_without_allow_private(server, tmp_path):
    with pytest.raises(PermanentError) as info:
        fetch_to_file(f"{server}/image.png", tmp_path / "a.png", max_bytes=10_000,
                      allowed_content_types=IMAGE_TYPES)
    assert info.value.code == "url_not_allowed"
    assert not (tmp_path / "a.png").exists()


def test_fetch_writes_file(server, tmp_path, private_ok):
    dest = tmp_path / "sub" / "product.png"
    result = fetch_to_file(f"{server}/image.png", dest, max_bytes=10_000, allowed_content_types=IMAGE_TYPES)
    assert result == Fetched(content_type="image/png", size=len(PNG))
    assert dest.read_bytes() == PNG
    assert [p.name for p in dest.parent.iterdir()] == ["product.png"]  # no temp file left


def test_connection_is_pinned_to_checked_ip_with_original_host(server, tmp_path, private_ok, monkeypatch):
    port = server.rsplit(":", 1)[1]
    calls = []

    def resolver(host, *args, **kwargs):
        calls.append(host)
        return _addrinfo("127.0.0.1")(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    _Handler.seen_hosts.clear()
    fetch_to_file(f"http://cdn.example.test:{port}/image.png", tmp_path / "p.png", max_bytes=10_000,
                  allowed_content_types=IMAGE_TYPES)
    # The name was resolved once, by us; httpx only ever saw the checked IP literal.
    assert calls[0] == "cdn.example.test"
    assert set(calls[1:]) <= {"127.0.0.1"}
    assert _Handler.seen_hosts == [f"cdn.example.test:{port}"]


@pytest.mark.parametrize(("path", "max_bytes", "code"), [
    ("/page.html", 10_000, "unsupported_content_type"),
    ("/big-header.png", 10_000, "too_large"),
    ("/big-stream.png", len(PNG) * 3, "too_large"),
    ("/missing.png", 10_000, "http_error"),
    ("/redirect.png", 10_000, "redirect_not_allowed"),
    ("/empty.png", 10_000, "empty_response"),
])
def test_permanent_failures(server, tmp_path, private_ok, path, max_bytes, code):
    dest = tmp_path / "x.png"
    with pytest.raises(PermanentError) as info:
        fetch_to_file(server + path, dest, max_bytes=max_bytes, allowed_content_types=IMAGE_TYPES)
    assert info.value.code == code
    assert info.value.provider == "image"
    assert "secret" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


def test_server_error_is_retryable(server, tmp_path, private_ok):
    with pytest.raises(RetryableError) as info:
        fetch_to_file(f"{server}/boom.png", tmp_path / "x.png", max_bytes=10_000,
                      allowed_content_types=IMAGE_TYPES)
    assert info.value.status_code == 503


def test_connection_refused_is_retryable(tmp_path, private_ok):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(RetryableError) as info:
        fetch_to_file(f"http://127.0.0.1:{port}/x.png", tmp_path / "x.png", max_bytes=10_000,
                      allowed_content_types=IMAGE_TYPES)
    assert info.value.code == "connection_failed"


def test_slow_drip_hits_whole_download_deadline(server, tmp_path, private_ok):
    started = time.monotonic()
    with pytest.raises(RetryableError) as info:
        fetch_to_file(f"{server}/drip.png", tmp_path / "x.png", max_bytes=10_000,
                      allowed_content_types=IMAGE_TYPES, deadline_seconds=0.6)
    assert info.value.code == "timeout"
    assert time.monotonic() - started < 3.0  # the server would drip for 5 s
    assert list(tmp_path.iterdir()) == []


def test_proxy_environment_is_ignored(server, tmp_path, private_ok, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    result = fetch_to_file(f"{server}/image.png", tmp_path / "x.png", max_bytes=10_000,
                           allowed_content_types=IMAGE_TYPES)
    assert result.size == len(PNG)


def test_https_request_is_pinned_with_sni(monkeypatch):
    import httpx

    monkeypatch.setattr(socket, "getaddrinfo", _addrinfo("93.184.216.34"))
    target = fetch_module._check("https://Images.Example.com/a/b.png?size=1")
    with httpx.Client() as client:
        request = fetch_module._pinned_request(client, target, target.addresses[0], IMAGE_TYPES)
    assert str(request.url) == "https://93.184.216.34/a/b.png?size=1"
    assert request.headers["Host"] == "images.example.com"
    assert request.extensions["sni_hostname"] == "images.example.com"
    v6 = fetch_module._check("https://[2606:4700:4700::1111]:443/x.png")
    with httpx.Client() as client:
        request = fetch_module._pinned_request(client, v6, v6.addresses[0], IMAGE_TYPES)
    assert request.url.host == "2606:4700:4700::1111"
    assert request.headers["Host"] == "[2606:4700:4700::1111]"
    assert "sni_hostname" not in request.extensions
