"""`python -m bench` runs every scenario; `python -m bench compose|v3v2|transitions|concurrency|status|generate
[options]` runs one.

`python -m bench keys` compares the status read with a bare view behind the same API-key authentication;
`python -m bench metrics` the status read with and without the metrics instrumentation."""

from __future__ import annotations

import argparse
import sys
import traceback

from .common import log, sigterm_as_interrupt

SCENARIOS = ("compose", "v3v2", "transitions", "concurrency", "status", "generate", "keys", "metrics")


def parse_jobs(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def use_sandbox_from(ref: str) -> None:
    """Extract sandbox/ at `ref` into a temp dir and put it first on sys.path; SandboxProcess then runs
    `python -m sandbox` from there (it uses its own package's parent as cwd and PYTHONPATH)."""
    import atexit
    import io
    import shutil
    import subprocess
    import tarfile
    import tempfile

    from .common import REPO

    folder = tempfile.mkdtemp(prefix="bench-sandbox-")
    atexit.register(shutil.rmtree, folder, True)
    archive = subprocess.run(["git", "archive", "--format=tar", ref, "sandbox"], cwd=REPO, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder)
    sys.path.insert(0, folder)
    log(f"using sandbox/ from git {ref} (extracted to {folder})")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("scenario", nargs="?", choices=(*SCENARIOS, "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for development (results go to *-quick.json)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="compose, v3v2 and transitions: runs per mode (at least 3); status and generate: interleaved "
                         "rounds")
    ap.add_argument("--jobs", type=parse_jobs, default=None, help="concurrency: N values, e.g. 1,50,200")
    ap.add_argument("--scale", type=float, default=None,
                    help="latency scale for Veo 75 s / HeyGen 150 s (concurrency: by profile; v3v2 default 0.1, "
                         "transitions 0.5)")
    ap.add_argument("--pool", default="prefork", choices=("prefork", "threads", "gevent", "eventlet", "solo"),
                    help="concurrency: the one worker process's Celery pool")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrency: the worker's pool size")
    ap.add_argument("--layout", default="split", choices=("split", "shared"),
                    help="concurrency: split = the worker process takes the orchestration queue and a media worker "
                         "the compose queue; shared = one worker process takes both")
    ap.add_argument("--media-concurrency", type=int, default=2, help="concurrency (split): media worker pool size")
    ap.add_argument("--profile", default="sustained", choices=("sustained", "burst"),
                    help="concurrency: sustained = real latencies, N arrivals within one critical path; burst = "
                         "latencies x 0.02, all N at once")
    ap.add_argument("--spread", type=float, default=None,
                    help="concurrency: submit the N jobs evenly over this many seconds (default: by profile)")
    ap.add_argument("--media-nice", type=int, default=0,
                    help="concurrency (split): the whole media worker's nice value (its ffmpeg runs at nice "
                         "COMPOSE_FFMPEG_NICE, 10 by default, in any case)")
    ap.add_argument("--scenes", type=int, default=None, help="concurrency: scenes per job (default 1)")
    ap.add_argument("--scene-seconds", type=int, default=4, choices=(4, 6, 8),
                    help="concurrency: duration of each scene's base clip (a cheap render)")
    ap.add_argument("--sandbox-ref", default=None,
                    help="run the sandbox package as of this git ref (read with `git archive`, e.g. HEAD) instead "
                         "of the working tree, e.g. while someone is mid-edit in sandbox/")
    ap.add_argument("--timeout", type=float, default=None, help="concurrency: seconds to wait for one N's jobs")
    ap.add_argument("--compare", default=None, metavar="REF",
                    help="status: also measure this git ref (tree A) against the working tree (tree B), "
                         "interleaved; generate: the tree without the ledger (default cfdcbd8)")
    ap.add_argument("--clients", type=parse_jobs, default=[1, 16],
                    help="status, generate and metrics: concurrent client connections, e.g. 1,16")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="status and generate: measured seconds per measurement")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    failures = []
    if args.sandbox_ref:
        use_sandbox_from(args.sandbox_ref)
    with sigterm_as_interrupt():
        for name in chosen:
            log(f"=== scenario {name}{' (quick)' if args.quick else ''}")
            try:
                module = __import__(f"bench.{name}", fromlist=["run"])
                module.run(args)
            except KeyboardInterrupt:
                log(f"interrupted during {name}; processes it started were stopped")
                return 130
            except Exception:  # one scenario's failure must not cost the others
                traceback.print_exc()
                failures.append(name)
    if failures:
        log(f"failed: {', '.join(failures)}")
        return 1
    log("done; see bench/results/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
