"""The gcp-storage-emulator child process and a tiny JSON-API client for it."""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

GS_URI_RE = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])/(.+)$")


class GCSError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_gs_uri(uri: str) -> tuple[str, str]:
    m = GS_URI_RE.match(uri or "")
    if not m:
        raise ValueError(f"not a gs:// object URI: {uri!r}")
    return m.group(1), m.group(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():  # runs in the child before exec: SIGTERM it if the sandbox dies
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class GCSClient:
    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, data: bytes | None = None, content_type: str | None = None) -> bytes:
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            raise GCSError(exc.code, exc.read().decode(errors="replace")[:500]) from None
        except (urllib.error.URLError, OSError) as exc:
            raise GCSError(503, f"storage emulator unreachable: {exc}") from None

    def ping(self) -> bool:
        try:
            self._call("GET", "/storage/v1/b?project=sandbox-project")
            return True
        except GCSError as exc:
            return exc.status < 500

    def create_bucket(self, name: str, project: str = "sandbox-project") -> None:
        try:
            self._call("POST", f"/storage/v1/b?project={project}", json.dumps({"name": name}).encode(),
                       "application/json")
        except GCSError as exc:
            if exc.status != 409:
                raise

    def bucket_exists(self, name: str) -> bool:
        try:
            self._call("GET", f"/storage/v1/b/{urllib.parse.quote(name, safe='')}")
            return True
        except GCSError as exc:
            if exc.status == 404:
                return False
            raise

    def upload(self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        q = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self._call("POST", f"/upload/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?{q}", data, content_type)

    def download(self, bucket: str, name: str) -> bytes:
        return self._call("GET", f"/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/"
                                 f"{urllib.parse.quote(name, safe='')}?alt=media")

    def read_uri(self, uri: str) -> bytes:
        return self.download(*parse_gs_uri(uri))


class EmulatorProcess:
    """gcp-storage-emulator in memory, as a child process on host:port (127.0.0.1 unless a container's other
    containers must reach it); the sandbox itself always talks to it over loopback."""

    def __init__(self, port: int, log_path=None, host: str = "127.0.0.1"):
        self.port = port or free_port()
        self.host = host
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = GCSClient(self.url)

    def start(self, timeout: float = 20.0) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", self.host, "--port", str(self.port),
             "--in-memory", "--quiet"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"storage emulator exited with {self.proc.returncode} (log: {self.log_path})")
            if self.client.ping():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"storage emulator did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
