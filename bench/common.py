"""Shared helpers: machine info, statistics, /proc sampling of a process tree, results files."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- statistics ------------------------------------------------------------------------------------------

def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values) -> dict:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "min": round(min(xs), 3), "p50": round(statistics.median(xs), 3),
            "p95": round(percentile(xs, 95), 3), "max": round(max(xs), 3), "mean": round(statistics.fmean(xs), 3)}


# --- machine -----------------------------------------------------------------------------------------------

def machine_info() -> dict:
    info = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_total_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                            text=True, timeout=5).stdout.strip()
    return info


def machine_cpu_seconds() -> dict[str, float]:
    """CPU seconds since boot over all cores, from /proc/stat: busy (user, nice, system, irq, softirq), the niced
    part of it, and steal (time the hypervisor ran another guest while this one wanted the CPU)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) / CLK_TCK for x in fields)
    return {"busy": user + nice + system + irq + softirq, "niced": nice, "steal": steal}


def loaded_note(info: dict) -> str:
    load = info["load_average_at_start"][0]
    cores = info["cpus_usable"]
    return (f"machine loaded at start (1-min load {load} on {cores} cores)" if load > 0.5 * cores
            else f"machine quiet at start (1-min load {load} on {cores} cores)")


# --- results -------------------------------------------------------------------------------------------------

def write_result(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    log(f"wrote {path.relative_to(REPO)}")
    from .report import write_readme
    write_readme()
    return path


# --- /proc sampling ----------------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, utime+stime seconds, cutime+cstime seconds) of one process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is state (field 3); ppid is field 4; utime 14, stime 15, cutime 16, cstime 17
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    kids = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return ppid, own, kids


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st:
            children.setdefault(st[0], []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """CPU of the live tree plus everything its members have reaped (children's times count once: either the
    child is alive and counted itself, or it was reaped and sits in its parent's cutime)."""
    total = 0.0
    for pid in process_tree(root):
        st = _stat(pid)
        if st:
            total += st[1] + st[2]
    return total


def database_backends_cpu(database: str) -> dict[int, float]:
    """{pid: CPU seconds} of the local PostgreSQL backends connected to `database` (their process title names it:
    "postgres: [cluster: ]user database host(port) state"); empty if PostgreSQL's processes are not visible here."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            st = _stat(int(entry))
            if st:
                found[int(entry)] = st[1]
    return found


class TreeSampler(threading.Thread):
    """Samples a process tree's summed RSS and CPU every `interval` seconds in a background thread."""

    def __init__(self, root: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_rss_sum = 0
        self.peak_rss_single = 0
        self.peak_processes = 0
        self.last_cpu = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        pids = process_tree(self.root)
        rss = [_rss(p) for p in pids]
        self.peak_rss_sum = max(self.peak_rss_sum, sum(rss))
        self.peak_rss_single = max(self.peak_rss_single, max(rss, default=0))
        self.peak_processes = max(self.peak_processes, len(pids))
        with contextlib.suppress(Exception):
            self.last_cpu = tree_cpu_seconds(self.root)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def has_exited(process: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it (so stop_and_reap can still read its rusage)."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def stop_and_reap(process: subprocess.Popen, timeout: float = 30.0) -> dict:
    """Warm-stop a process (SIGTERM to it alone, so it shuts its own children down), reap it with wait4 and
    return its rusage, which covers it and every descendant it reaped. Falls back to SIGKILL on the group."""
    pid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.1)
    process.returncode = os.waitstatus_to_exitcode(status)
    # anything of its group still around (e.g. an orphaned grandchild) goes too
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return {"cpu_seconds": usage.ru_utime + usage.ru_stime, "user_seconds": usage.ru_utime,
            "system_seconds": usage.ru_stime, "max_rss_single_process_mb": usage.ru_maxrss / 1024}


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a process started with start_new_session=True and everything in its group: SIGTERM to the group,
    SIGKILL to whatever is left after `grace` seconds, then reap the leader."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so `finally:` blocks clean up the processes we started."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_loadgen(args: list[str], *, token: str, seconds: float) -> dict:
    """One measurement by a fresh `python -m bench.loadgen` process (`args`: its options), authenticated with
    `token`; its JSON report. `seconds` is how long the run should take (warm-up and counting), a minute's grace on
    top before it is stopped."""
    client = subprocess.Popen([sys.executable, "-m", "bench.loadgen", *args], cwd=REPO,
                              env={**os.environ, "BENCH_TOKEN": token}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = client.communicate(timeout=seconds + 60)
    finally:
        stop_process_group(client, grace=2)
    if client.returncode != 0:
        raise RuntimeError(f"load generator failed ({client.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])
