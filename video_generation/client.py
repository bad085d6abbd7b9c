"""A small client of our own HTTP API, for the CLI and the demo: submit a brief, watch a job, download it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

TERMINAL = {"completed", "failed", "cancelled"}
STATUS_LABELS = {
    "pending": "queued",
    "processing_veo": "B-roll (Veo)",
    "processing_heygen": "presenter (HeyGen)",
    "composing": "composing",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


class ApiError(Exception):
    pass


@dataclass
class VideoApi:
    base_url: str
    token: str
    timeout: float = 30.0

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout, trust_env=False,
                            headers={"Authorization": f"Token {self.token}"})

    def _json(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            raise ApiError(f"HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def submit(self, brief: dict) -> dict:
        with self._client() as client:
            return self._json(client.post("/api/video/generate/", json=brief))

    def quote(self, brief: dict) -> dict:
        with self._client() as client:
            return self._json(client.post("/api/video/quote/", json=brief))

    def account(self) -> dict:
        with self._client() as client:
            return self._json(client.get("/api/account/"))

    def status(self, job_id: str) -> dict:
        with self._client() as client:
            return self._json(client.get(f"/api/video/status/{job_id}/"))

    def cancel(self, job_id: str) -> dict:
        with self._client() as client:
            return self._json(client.post(f"/api/video/{job_id}/cancel/"))

    def watch(self, job_id: str, *, interval: float = 1.0, timeout: float = 3600.0,
              out: TextIO = sys.stderr) -> dict:
        """Poll the job until it finishes, drawing a progress bar. Returns the final job body."""
        deadline = time.monotonic() + timeout
        job = self.status(job_id)
        while job["status"] not in TERMINAL:
            draw_progress(job, out)
            if time.monotonic() > deadline:
                raise ApiError(f"job {job_id} did not finish within {timeout:.0f} s")
            time.sleep(interval)
            job = self.status(job_id)
        draw_progress(job, out, final=True)
        return job

    def download(self, job: dict, dest: Path) -> Path:
        if not job.get("final_video_url"):
            raise ApiError("the job has no finished video")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(dest.suffix + ".part")
        with httpx.stream("GET", job["final_video_url"], timeout=self.timeout, trust_env=False,
                          follow_redirects=True) as response:
            if response.status_code >= 400:
                raise ApiError(f"download failed: HTTP {response.status_code}")
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    handle.write(chunk)
        partial.replace(dest)
        return dest


def progress_bar(progress: int, width: int = 30) -> str:
    filled = round(width * max(0, min(100, progress)) / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {progress:3d}%"


def draw_progress(job: dict, out: TextIO, *, final: bool = False) -> None:
    running = [s["key"] for s in job.get("steps", []) if s["state"] in ("submitting", "submitted", "unknown")]
    detail = f" {', '.join(running)}" if running and not final else ""
    label = STATUS_LABELS.get(job["status"], job["status"])
    line = f"\r{progress_bar(job['progress'])} {label:<20}{detail}"
    out.write(line[:160].ljust(100) + ("\n" if final else ""))
    out.flush()
