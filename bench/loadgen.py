"""The status scenario's load generator, run in a process of its own so it shares no process with the server:
`python -m bench.loadgen --url URL --clients C --duration D [--warmup W] [--server-pid PID]`, token in BENCH_TOKEN.

C asyncio tasks share one httpx.AsyncClient whose pool holds C keep-alive connections; each task sends the same
GET back to back. The first W seconds are an unmeasured warm-up; then every response that completes inside the
next D seconds counts, and its latency (send to body read) is kept. Prints one JSON line: 200s per second over
the window, latency percentiles, every outcome's count, and CPU over the same window: of this process, of the
server's process tree (gunicorn master and workers, from /proc), and of the whole machine (/proc/stat), whose busy
cores beyond those two are PostgreSQL plus whatever else the shared machine was running.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field

import httpx

from .common import machine_cpu_seconds, percentile, tree_cpu_seconds

REQUEST_TIMEOUT_SECONDS = 30.0
FAILURE_SAMPLE_CHARS = 300


@dataclass
class Window:
    start: float
    end: float


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    first_failure: str | None = None

    def record(self, outcome: str, seconds: float, failure_detail: str | None) -> None:
        self.outcomes[outcome] += 1
        if outcome == "200":
            self.latencies.append(seconds)
        elif self.first_failure is None:
            self.first_failure = f"{outcome}: {failure_detail}"


async def one_request(client: httpx.AsyncClient, url: str) -> tuple[str, str | None]:
    """(outcome, detail): the status code as text, or the exception's class name when no answer came."""
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return type(exc).__name__, str(exc)[:FAILURE_SAMPLE_CHARS]
    detail = None if response.status_code == 200 else response.text[:FAILURE_SAMPLE_CHARS]
    return str(response.status_code), detail


async def keep_polling(client: httpx.AsyncClient, url: str, window: Window, tally: Tally) -> None:
    while True:
        sent = time.perf_counter()
        outcome, detail = await one_request(client, url)
        answered = time.perf_counter()
        if answered >= window.end:
            return
        if answered >= window.start:
            tally.record(outcome, answered - sent, detail)


@dataclass
class CpuReading:
    client: float
    server: float | None
    machine: dict[str, float]


def read_cpu(server_pid: int | None) -> CpuReading:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return CpuReading(client=me.ru_utime + me.ru_stime,
                      server=tree_cpu_seconds(server_pid) if server_pid else None,
                      machine=machine_cpu_seconds())


async def generate_load(url: str, token: str, clients: int, warmup: float, duration: float,
                        server_pid: int | None) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Token {token}"}
    tally = Tally()
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        now = time.perf_counter()
        window = Window(start=now + warmup, end=now + warmup + duration)
        pollers = [asyncio.create_task(keep_polling(client, url, window, tally)) for _ in range(clients)]
        await asyncio.sleep(window.start - time.perf_counter())
        before = read_cpu(server_pid)
        await asyncio.sleep(window.end - time.perf_counter())
        after = read_cpu(server_pid)
        await asyncio.gather(*pollers)
    return report(tally, clients=clients, warmup=warmup, duration=duration, before=before, after=after)


def report(tally: Tally, *, clients: int, warmup: float, duration: float, before: CpuReading,
           after: CpuReading) -> dict:
    ok = len(tally.latencies)
    ms = [s * 1000 for s in tally.latencies]
    client_cpu = after.client - before.client
    server_cpu = None if before.server is None else after.server - before.server
    machine = {kind: (after.machine[kind] - before.machine[kind]) / duration for kind in after.machine}
    return {
        "clients": clients, "warmup_seconds": warmup, "duration_seconds": duration,
        "ok_responses": ok, "rps": round(ok / duration, 2),
        "non_200": sum(tally.outcomes.values()) - tally.outcomes["200"],
        "outcomes": dict(tally.outcomes), "first_failure": tally.first_failure,
        "latency_ms": {"min": rounded(min(ms, default=None)), "p50": rounded(percentile(ms, 50)),
                       "p90": rounded(percentile(ms, 90)), "p99": rounded(percentile(ms, 99)),
                       "max": rounded(max(ms, default=None)),
                       "mean": rounded(statistics.fmean(ms) if ms else None)},
        "client_cpu_seconds": round(client_cpu, 3),
        "client_cpu_cores": round(client_cpu / duration, 3),
        "server_cpu_seconds": None if server_cpu is None else round(server_cpu, 3),
        "server_cpu_ms_per_request": None if server_cpu is None or not ok else round(1000 * server_cpu / ok, 3),
        "machine_busy_cores": round(machine["busy"], 3), "machine_niced_cores": round(machine["niced"], 3),
        "machine_steal_cores": round(machine["steal"], 3),
        "other_busy_cores": round(machine["busy"] - (server_cpu or 0) / duration - client_cpu / duration, 3),
    }


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def parse_args(argv) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True, help="measured seconds")
    ap.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before the window")
    ap.add_argument("--server-pid", type=int, default=None, help="gunicorn master, to read its tree's CPU")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    result = asyncio.run(generate_load(args.url, os.environ["BENCH_TOKEN"], args.clients, args.warmup,
                                       args.duration, args.server_pid))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
