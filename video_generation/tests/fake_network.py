"""DNS and the internet, played on this machine, for tests of code that requests URLs our users give us.

`FakeNetwork` answers host names with the addresses a test chooses (one answer per lookup, so a test can play a
rebinding DNS server) and carries a TCP connection to a chosen address and port to a `RecordingServer` on
127.0.0.1 standing in for that host. It works at the socket layer (socket.getaddrinfo and
socket.create_connection, which httpx's connections go through), so it records what really happened: every name
looked up, and every address a connection was opened to. A connection to any other address is refused.
"""

from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: http.client.HTTPMessage  # looked up without regard to case, like HTTP
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = PNG
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "image/png"),)


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status, b"", (("Location", location), ("Content-Type", "text/plain")))


# An answer is an Answer, or a function that writes the whole response itself (for slow or endless ones).
Respond = Answer | Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class RecordingServer:
    """An HTTP(S) server on 127.0.0.1 that records every request and answers by path (default: a PNG)."""

    answers: dict[str, Respond] = field(default_factory=dict)
    default: Respond = field(default_factory=Answer)
    tls: ssl.SSLContext | None = None
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _handler_class(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                self._answer()

            def do_POST(self):  # noqa: N802
                self._answer()

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(Recorded(self.command, self.path, self.headers, body))
                respond = server.answers.get(self.path.split("?")[0], server.default)
                try:
                    if callable(respond):
                        respond(self)
                    else:
                        self._send(respond)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, answer: Answer):
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                if not any(name.lower() == "content-length" for name, _ in answer.headers):
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        return Handler


class FakeNetwork:
    def __init__(self, monkeypatch) -> None:
        self.lookups: list[str] = []
        self.connections: list[tuple[str, int]] = []
        self._dns: dict[str, list[tuple[str, ...]]] = {}
        self._routes: dict[tuple[str, int], RecordingServer] = {}
        self._real_create_connection = socket.create_connection
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", self._create_connection)

    def answer(self, name: str, *answers: str | tuple[str, ...]) -> None:
        """What looking `name` up returns: the first answer at the first lookup, and so on; the last repeats."""
        self._dns[name] = [(a,) if isinstance(a, str) else a for a in answers]

    def route(self, address: str, port: int, server: RecordingServer) -> None:
        """Connections to address:port reach `server`."""
        self._routes[(str(ipaddress.ip_address(address)), port)] = server

    def _getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 (socket's names)
        if isinstance(host, bytes):
            host = host.decode()
        try:
            addresses = (str(ipaddress.ip_address(host)),)
        except ValueError:
            self.lookups.append(host)
            queue = self._dns.get(host)
            if not queue:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [_addrinfo(address, int(port or 0)) for address in addresses]

    def _create_connection(self, address, timeout=None, source_address=None, **kwargs):
        host, port = address[:2]
        resolved = self._getaddrinfo(host, port)[0][4][0]  # like the OS: a name given here is looked up again
        self.connections.append((resolved, port))
        server = self._routes.get((str(ipaddress.ip_address(resolved)), port))
        if server is None:
            raise ConnectionRefusedError(f"nothing answers at {resolved}:{port} in this test")
        return self._real_create_connection(("127.0.0.1", server.port), timeout)


def _addrinfo(address: str, port: int):
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


class MadeUpAuthority:
    """A certificate authority made up for one test, with a client TLS context that trusts only it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "video_saas test CA")])
        self._cert = _certificate(name, name, self._key.public_key(), self._key, [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                           data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                           encipher_only=False, decipher_only=False), True),
            (x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), False),
        ])
        (directory / "ca.pem").write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self._directory / "ca.pem"))

    def server_context(self, host_name: str, seen_server_names: list[str]) -> ssl.SSLContext:
        """A certificate for `host_name`; the name each client asks for (SNI) is appended to `seen_server_names`."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
        cert = _certificate(subject, self._cert.subject, key.public_key(), self._key, [
            (x509.SubjectAlternativeName([x509.DNSName(host_name)]), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False),
        ])
        cert_file, key_file = self._directory / f"{host_name}.pem", self._directory / f"{host_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda _sock, server_name, _context: seen_server_names.append(server_name)
        return context


def _certificate(subject, issuer, public_key, signing_key, extensions) -> x509.Certificate:
    """A certificate complete enough for strict verification (Python 3.13's default, VERIFY_X509_STRICT)."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1)))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())
