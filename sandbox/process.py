"""SandboxProcess: run the sandbox as a child process (for tests, the demo and the management command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def read_env_file(path) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


class SandboxProcess:
    """``with SandboxProcess(veo_latency=0.5) as sbx: sbx.env["VEO_API_BASE_URL"]``.

    port/gcs_port 0 (the default) pick free ports. Extra CLI flags go in `extra_args`.
    """

    def __init__(self, *, port: int = 0, gcs_port: int = 0, latency_scale: float = 1.0, veo_latency: float = 75.0,
                 heygen_latency: float = 150.0, data_dir=None, env_file=None, hang_seconds: float | None = None,
                 faults: str | None = None, extra_args: list[str] | None = None, startup_timeout: float = 60.0):
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="video-saas-sandbox-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env_file = Path(env_file or self.data_dir / "sandbox.env")
        self.args = ["serve", "--port", str(port), "--gcs-port", str(gcs_port), "--latency-scale", str(latency_scale),
                     "--veo-latency", str(veo_latency), "--heygen-latency", str(heygen_latency),
                     "--data-dir", str(self.data_dir), "--env-file", str(self.env_file)]
        if hang_seconds is not None:
            self.args += ["--hang-seconds", str(hang_seconds)]
        if faults:
            self.args += ["--faults", faults]
        self.args += list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.env["SANDBOX_URL"]

    def start(self) -> SandboxProcess:
        self.env_file.unlink(missing_ok=True)
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._log = open(self.data_dir / "process.out", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "sandbox", *self.args], cwd=root, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + self.startup_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.proc.returncode}; see {self.data_dir}/process.out")
            if self.env_file.exists():
                self.env = read_env_file(self.env_file)
                try:
                    with urllib.request.urlopen(self.url + "/_sandbox/health", timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sandbox did not start within {self.startup_timeout}s; see {self.data_dir}/process.out")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
