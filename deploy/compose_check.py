"""`make compose-check`: build the image with podman, bring docker-compose.yml up with the sandbox profile, make the
headphones video through the API, check it and the metrics, and tear everything down.

Steps (each logs one line as it starts, so a failure names its step):
  1. tools      podman, buildah, debootstrap, runc, ... from Debian's packages when missing (apt-get); podman-compose
                is pinned in pyproject.toml (dev extra) and run from this Python's environment
  2. base       `localhost/debian-py311:bookworm`, a Python 3.11 base image made from Debian's packages with
                debootstrap (no container registry is reachable here), trusting the host's extra CA certificates;
                kept between runs (skipped when it exists)
  3. images     the project image from ./Dockerfile with --build-arg BASE_IMAGE=<that base>, and a small PostgreSQL +
                Redis image from the same base (deploy/compose/services.Containerfile) standing in for the official
                postgres/redis images; podman's layer cache keeps rebuilds short
  4. up         `podman-compose --profile sandbox up -d` with an env file made from deploy/compose/sandbox.env, its
                secrets generated for this run (never written into the repository)
  5. video      a key from `manage.py create_api_token` in the api container, the headphones brief submitted over
                the published API port, the job polled until it ends, the MP4 fetched from the storage emulator
                through the api container, and checked: duration, 720x1280, an audio stream, the presenter's pixels
                where bottom_right puts them (tests/e2e/media.py)
  6. health     `podman healthcheck run` for every container of the stack (podman runs them only on demand here)
  7. metrics    GET /metrics with the METRICS_TOKEN: video_saas_jobs_total{status="completed"} counts the job
  8. down       always (also on failure or Ctrl-C): `podman-compose down -v -t 2`

Podman reads deploy/compose/containers.conf through CONTAINERS_CONF (limits and runtime these machines need).
Prints the image size and the time from `up` to the finished video; exits non-zero if any check failed.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
COMPOSE_DIR = REPO / "deploy" / "compose"
CONTAINERS_CONF = COMPOSE_DIR / "containers.conf"
BASE_IMAGE = "localhost/debian-py311:bookworm"
APP_IMAGE = "localhost/video-saas:compose-check"
SERVICES_IMAGE = "localhost/video-saas-services:bookworm"
PROJECT = "video-saas-check"
API_PORT = 18431  # published on 127.0.0.1 only; far from PostgreSQL's 5432 and Redis' 6379 on this host
APT_PACKAGES = ["podman", "buildah", "debootstrap", "runc", "uidmap", "slirp4netns", "fuse-overlayfs"]
DEBIAN_MIRROR = "http://deb.debian.org/debian"
GENERATE = re.compile(r"^(?P<prefix>[^<]*)<generate[^>]*>$")


def log(message: str) -> None:
    print(f"compose-check: {message}", flush=True)


def run(argv: list[str], *, env: dict | None = None, check: bool = True, capture: bool = False,
        timeout: float | None = None, stdout=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, check=check, text=stdout is None, timeout=timeout,
                          stdout=stdout if stdout is not None else (subprocess.PIPE if capture else None),
                          stderr=subprocess.PIPE if capture else None, stdin=subprocess.DEVNULL)


# --- 1. tools ------------------------------------------------------------------------------------------------

def ensure_tools() -> None:
    missing = [tool for tool in ("podman", "buildah", "debootstrap", "runc", "newuidmap", "slirp4netns",
                                 "fuse-overlayfs") if shutil.which(tool) is None]
    if missing:
        log(f"installing {' '.join(APT_PACKAGES)} (missing: {', '.join(missing)})")
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-q"], env=apt_env, capture=True)
        run(["apt-get", "install", "-y", "-q", *APT_PACKAGES], env=apt_env, capture=True)
    compose = podman_compose_path()
    if compose is None:
        sys.exit("compose-check: podman-compose is not installed in this environment (make install: dev extra)")


def podman_compose_path() -> str | None:
    beside = Path(sys.executable).with_name("podman-compose")
    return str(beside) if beside.exists() else shutil.which("podman-compose")


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], env=podman_env(), check=False).returncode == 0


# --- 2. the base image -------------------------------------------------------------------------------------------

def ensure_base_image() -> None:
    if image_exists(BASE_IMAGE):
        log(f"base image {BASE_IMAGE} exists: kept")
        return
    log(f"building {BASE_IMAGE} from Debian's packages with debootstrap (about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="debian-py311-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             "bookworm", str(rootfs), DEBIAN_MIRROR], capture=True)
        # Outbound HTTPS from these machines goes through a proxy whose CA is among the host's extra certificates:
        # the image must trust it, or pip and apt inside builds fail certificate verification.
        extra = Path("/usr/local/share/ca-certificates")
        for cert in sorted(extra.glob("*.crt")) if extra.is_dir() else []:
            shutil.copy(cert, rootfs / "usr/local/share/ca-certificates" / cert.name)
        run(["chroot", str(rootfs), "update-ca-certificates"], capture=True)
        run(["chroot", str(rootfs), "apt-get", "clean"], capture=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["podman", "import", "--change",
                        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "--change", 'CMD ["/bin/bash"]', "-", BASE_IMAGE],
                       env=podman_env(), stdin=tar.stdout, stdout=subprocess.DEVNULL, check=True)
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    log(f"base image built in {time.monotonic() - started:.0f} s")


# --- 3. images ---------------------------------------------------------------------------------------------------

def build_images() -> None:
    for name, containerfile, context in ((APP_IMAGE, REPO / "Dockerfile", REPO),
                                         (SERVICES_IMAGE, COMPOSE_DIR / "services.Containerfile", COMPOSE_DIR)):
        log(f"building {name} from {containerfile.relative_to(REPO)} (BASE_IMAGE={BASE_IMAGE})")
        started = time.monotonic()
        previous = image_id(name)
        # Docker's image format: OCI images have no HEALTHCHECK.
        run(["podman", "build", "--quiet", "--layers", "--format", "docker", "--build-arg",
             f"BASE_IMAGE={BASE_IMAGE}", "-f", str(containerfile), "-t", name, str(context)],
            env=podman_env(), stdout=subprocess.DEVNULL)
        log(f"built {name} in {time.monotonic() - started:.0f} s")
        if previous and previous != image_id(name):  # the image this tag named before: not kept around
            run(["podman", "rmi", previous], env=podman_env(), check=False, capture=True)


def image_id(name: str) -> str | None:
    out = run(["podman", "image", "inspect", "--format", "{{.Id}}", name], env=podman_env(), check=False,
              capture=True)
    return out.stdout.strip() or None if out.returncode == 0 else None


def image_size(name: str) -> int:
    out = run(["podman", "image", "inspect", "--format", "{{.Size}}", name], env=podman_env(), capture=True)
    return int(out.stdout.strip())


# --- 4. the stack ------------------------------------------------------------------------------------------------

def render_env_file(template: Path, dest: Path) -> dict[str, str]:
    """The template's lines with every `<generate>` value (after an optional prefix such as `sk_test_`) replaced by
    a fresh random secret, hex so that it is safe inside URLs. Written readable by its owner only."""
    values: dict[str, str] = {}
    lines = []
    for line in template.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            value = value.strip()
            if match := GENERATE.match(value):
                value = match["prefix"] + secrets.token_hex(32)
            values[key.strip()] = value
            line = f"{key.strip()}={value}"
        lines.append(line)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.touch(mode=0o600)
    dest.write_text("\n".join(lines) + "\n")
    return values


@dataclass
class Stack:
    env_file: Path
    settings: dict[str, str]
    compose: str = field(default_factory=lambda: podman_compose_path() or "podman-compose")

    def env(self) -> dict[str, str]:
        return {**podman_env(), "VIDEO_SAAS_ENV_FILE": str(self.env_file), "VIDEO_SAAS_IMAGE": APP_IMAGE,
                "POSTGRES_IMAGE": SERVICES_IMAGE, "REDIS_IMAGE": SERVICES_IMAGE, "API_PORT": str(API_PORT)}

    def compose_cmd(self, *args: str) -> list[str]:
        return [self.compose, "--project-name", PROJECT, "--profile", "sandbox", "--env-file", str(self.env_file),
                "-f", str(REPO / "docker-compose.yml"), *args]

    def up(self) -> None:
        run(self.compose_cmd("up", "-d", "--no-build"), env=self.env(), capture=True)

    def down(self) -> None:
        run(self.compose_cmd("down", "-v", "-t", "2"), env=self.env(), check=False, capture=True, timeout=180)

    def containers(self) -> dict[str, str]:
        """service name -> container name, for the containers of this project."""
        out = run(["podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}", "--format",
                   "{{.Names}} {{index .Labels \"com.docker.compose.service\"}}"], env=self.env(), capture=True)
        return {service: name for name, service in (line.split() for line in out.stdout.splitlines() if line)}

    def exec(self, service: str, *argv: str, stdout=None) -> subprocess.CompletedProcess:
        return run(["podman", "exec", self.containers()[service], *argv], env=self.env(),
                   capture=stdout is None, stdout=stdout, timeout=300)

    def logs(self, service: str, tail: int = 40) -> str:
        name = self.containers().get(service)
        if not name:
            return "(no container)"
        out = run(["podman", "logs", "--tail", str(tail), name], env=self.env(), check=False, capture=True)
        return (out.stdout + out.stderr).strip()


def wait_for_api(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/api/video/health/", timeout=5, trust_env=False)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(2)
    raise RuntimeError(f"the API at {base} was not healthy within {timeout:.0f} s (last: {last})")


# --- 5. the video ------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        log(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.failures.append(what)


def check_video(path: Path, outcome: Outcome) -> None:
    """The finished headphones video: 3 scenes (22 s of B-roll) or the speech if longer, 9:16 at 720x1280, sound,
    and the presenter where bottom_right puts it (scale 0.8, x 0.7, y 0.8), nowhere in the top-left corner."""
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from tests.e2e.media import expected_box, frames_at, presenter_pixels, probe

    info = probe(path)
    outcome.check(22.0 - 0.1 <= info.duration <= 60.0, f"duration {info.duration:.2f} s (22 s of B-roll or longer)")
    outcome.check((info.width, info.height) == (720, 1280), f"size {info.width}x{info.height} (9:16: 720x1280)")
    outcome.check(bool(info.has_audio), f"audio stream: {info.audio_codec or 'none'}")
    box = expected_box(720, 1280, 0.8, 0.7, 0.8)
    top_left = type(box)(0, 0, box.left, box.top)
    for second, frame in zip((2.0, 6.0, 12.0), frames_at(path, [2.0, 6.0, 12.0]), strict=True):
        inside, outside = presenter_pixels(frame, box), presenter_pixels(frame, top_left)
        outcome.check(inside > 5000 and outside < 50,
                      f"presenter at {second:.0f} s: {inside} presenter pixels in its bottom_right box, "
                      f"{outside} in the top-left corner")


def make_video(stack: Stack, api: str, workdir: Path, outcome: Outcome, timeout: float) -> float:
    """Returns the seconds from the job's submission to its completion."""
    sys.path.insert(0, str(REPO))
    from devstack.briefs import headphones_brief

    token = stack.exec("api", "python", "manage.py", "create_api_token", "compose-check").stdout.strip()
    token = token.splitlines()[-1]
    sandbox = stack.settings["SANDBOX_PUBLIC_URL"]
    brief = headphones_brief(f"{sandbox}/assets/headphones.png")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30, trust_env=False) as client:
        answer = client.post("/api/video/generate/", json=brief)
        if answer.status_code != 202:
            raise RuntimeError(f"submit answered {answer.status_code}: {answer.text[:500]}")
        job_id = answer.json()["job_id"]
        log(f"submitted job {job_id}; polling it")
        submitted = time.monotonic()
        deadline = submitted + timeout
        last = None
        while True:
            job = client.get(f"/api/video/status/{job_id}/").raise_for_status().json()
            if (job["status"], job.get("progress")) != last:
                last = (job["status"], job.get("progress"))
                log(f"  job {job['status']} {job.get('progress')}%")
            if job["status"] in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish within {timeout:.0f} s ({job['status']})")
            time.sleep(2)
    took = time.monotonic() - submitted
    if job["status"] != "completed":
        raise RuntimeError(f"job {job_id} {job['status']}: {job.get('error_message')}")
    # The signed URL names the storage emulator inside the stack's network (only the API port is published):
    # fetch it from inside the api container.
    path = workdir / f"{job_id}.mp4"
    with path.open("wb") as handle:
        stack.exec("api", "python", "-c", "import sys, urllib.request; "
                   "sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=60).read())",
                   job["final_video_url"], stdout=handle)
    log(f"downloaded {path.stat().st_size / 1e6:.1f} MB to {path}")
    check_video(path, outcome)
    return took


# --- 6. healthchecks ---------------------------------------------------------------------------------------------

def check_health(stack: Stack, outcome: Outcome) -> None:
    for service, name in sorted(stack.containers().items()):
        if service == "migrate":
            state = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", name], env=stack.env(),
                        capture=True).stdout.strip()
            outcome.check(state == "0", f"migrate exited {state}")
            continue
        result = run(["podman", "healthcheck", "run", name], env=stack.env(), check=False, capture=True,
                     timeout=120)
        detail = (result.stdout + result.stderr).strip() or "healthy"
        outcome.check(result.returncode == 0, f"healthcheck of {service}: {detail}")


# --- 7. metrics --------------------------------------------------------------------------------------------------

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def completed_jobs(text: str) -> float:
    """The sum of video_saas_jobs_total samples labelled status="completed" in Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == "video_saas_jobs_total":
            if dict(LABEL.findall(match["labels"] or "")).get("status") == "completed":
                total += float(match["value"])
    return total


def check_metrics(api: str, token: str, outcome: Outcome) -> None:
    answer = httpx.get(f"{api}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False)
    if answer.status_code != 200:
        outcome.check(False, f"GET /metrics answered {answer.status_code} (not on this branch yet?)")
        return
    count = completed_jobs(answer.text)
    outcome.check(count >= 1, f'video_saas_jobs_total{{status="completed"}} = {count:g}')


# --- main --------------------------------------------------------------------------------------------------------

def interrupted(signum, frame) -> None:
    """SIGTERM (CI's timeout, a kill) unwinds like Ctrl-C, so the stack is always taken down."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["base", "images"], help="stop after this step")
    parser.add_argument("--workdir", default=str(REPO / "var" / "compose-check"))
    parser.add_argument("--job-timeout", type=float, default=900)
    parser.add_argument("--keep", action="store_true", help="leave the stack running (debugging)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, interrupted)

    ensure_tools()
    ensure_base_image()
    if args.only == "base":
        return 0
    build_images()
    size = image_size(APP_IMAGE)
    log(f"image {APP_IMAGE}: {size / 1e6:.0f} MB")
    if args.only == "images":
        return 0

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    settings = render_env_file(COMPOSE_DIR / "sandbox.env", workdir / "stack.env")
    stack = Stack(env_file=workdir / "stack.env", settings=settings)
    api = f"http://127.0.0.1:{API_PORT}"
    outcome = Outcome()
    stack.down()  # a stack left over by an interrupted run
    try:
        log("podman-compose --profile sandbox up -d")
        up_started = time.monotonic()
        stack.up()
        wait_for_api(api, timeout=300)
        log(f"API healthy {time.monotonic() - up_started:.0f} s after up")
        job_seconds = make_video(stack, api, workdir, outcome, args.job_timeout)
        up_to_video = time.monotonic() - up_started
        log(f"up -> finished video: {up_to_video:.0f} s (the job itself: {job_seconds:.0f} s)")
        check_health(stack, outcome)
        check_metrics(api, settings["METRICS_TOKEN"], outcome)
        log(f"image size {size / 1e6:.0f} MB; up -> finished video {up_to_video:.0f} s")
    except (Exception, KeyboardInterrupt) as exc:
        outcome.failures.append(f"{type(exc).__name__}: {exc}")
        log(f"FAIL {type(exc).__name__}: {exc}")
        for service in ("migrate", "api", "worker", "media", "sandbox"):
            log(f"--- last lines of {service} ---\n{stack.logs(service)}")
    finally:
        if args.keep:
            log(f"left running: {' '.join(stack.compose_cmd('down', '-v', '-t', '2'))}")
        else:
            log("podman-compose down -v -t 2")
            stack.down()
            stack.env_file.unlink(missing_ok=True)  # its secrets served this run only
    if outcome.failures:
        log(f"{len(outcome.failures)} check(s) failed: " + "; ".join(outcome.failures))
        return 1
    log("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
