"""The status and generate scenarios' load generator, run in a process of its own so it shares no process with the
server: `python -m bench.loadgen --url URL --clients C --duration D [--warmup W] [--server-pid PID] [--method POST
--body JSON] [--expect STATUS] [--database NAME]`, token in BENCH_TOKEN.

C asyncio tasks share one httpx.AsyncClient whose pool holds C keep-alive connections; each task sends the same
request (a GET, or a POST of the same JSON body) back to back. The first W seconds are an unmeasured warm-up; then
every response that completes inside the next D seconds counts, and its latency (send to body read) is kept.
Prints one JSON line: answers with the expected status (200 unless --expect) per second over the window, latency
percentiles of those, every outcome's count in the window and over the whole run (warm-up and the requests still
in flight at the window's end included: each one a POST may have acted on), and CPU over the window: of this
process, of the server's process tree (gunicorn master and workers, from /proc), and of the whole machine
(/proc/stat), whose busy cores beyond those two are PostgreSQL plus whatever else the shared machine was running;
with --database, the CPU of the local PostgreSQL backends connected to that database is counted apart (per request
too), and "other" is then the rest.
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

from .common import database_backends_cpu, machine_cpu_seconds, percentile, tree_cpu_seconds

REQUEST_TIMEOUT_SECONDS = 30.0
FAILURE_SAMPLE_CHARS = 300


@dataclass
class Window:
    start: float
    end: float


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    body: bytes | None = None  # JSON, sent as is with every request
    expect: str = "200"  # the status code that counts as an answer


@dataclass
class Tally:
    expect: str = "200"
    latencies: list[float] = field(default_factory=list)
    outcomes: collections.Counter = field(default_factory=collections.Counter)  # inside the window
    all_outcomes: collections.Counter = field(default_factory=collections.Counter)  # the whole run
    first_failure: str | None = None

    def record(self, outcome: str, seconds: float, failure_detail: str | None) -> None:
        self.outcomes[outcome] += 1
        if outcome == self.expect:
            self.latencies.append(seconds)

    def record_any(self, outcome: str, failure_detail: str | None) -> None:
        self.all_outcomes[outcome] += 1
        if outcome != self.expect and self.first_failure is None:
            self.first_failure = f"{outcome}: {failure_detail}"


async def one_request(client: httpx.AsyncClient, request: Request) -> tuple[str, str | None]:
    """(outcome, detail): the status code as text, or the exception's class name when no answer came."""
    try:
        if request.body is None:
            response = await client.request(request.method, request.url)
        else:
            response = await client.request(request.method, request.url, content=request.body,
                                            headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        return type(exc).__name__, str(exc)[:FAILURE_SAMPLE_CHARS]
    outcome = str(response.status_code)
    detail = None if outcome == request.expect else response.text[:FAILURE_SAMPLE_CHARS]
    return outcome, detail


async def keep_polling(client: httpx.AsyncClient, request: Request, window: Window, tally: Tally) -> None:
    while True:
        sent = time.perf_counter()
        outcome, detail = await one_request(client, request)
        answered = time.perf_counter()
        tally.record_any(outcome, detail)
        if answered >= window.end:
            return
        if answered >= window.start:
            tally.record(outcome, answered - sent, detail)


@dataclass
class CpuReading:
    client: float
    server: float | None
    machine: dict[str, float]
    database: dict[int, float] | None = None  # {backend pid: CPU seconds} of the server's own database


def read_cpu(server_pid: int | None, database: str | None = None) -> CpuReading:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return CpuReading(client=me.ru_utime + me.ru_stime,
                      server=tree_cpu_seconds(server_pid) if server_pid else None,
                      machine=machine_cpu_seconds(),
                      database=database_backends_cpu(database) if database else None)


def database_cpu_seconds(before: CpuReading, after: CpuReading) -> float | None:
    """CPU the database's backends used between the readings (a backend gone by the end is not counted; the
    servers keep theirs open, CONN_MAX_AGE); None if not measured or no backend was seen."""
    if not after.database:
        return None
    return sum(seconds - (before.database or {}).get(pid, 0.0) for pid, seconds in after.database.items())


async def generate_load(request: Request, token: str, clients: int, warmup: float, duration: float,
                        server_pid: int | None, database: str | None = None) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Token {token}"}
    tally = Tally(expect=request.expect)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        now = time.perf_counter()
        window = Window(start=now + warmup, end=now + warmup + duration)
        pollers = [asyncio.create_task(keep_polling(client, request, window, tally)) for _ in range(clients)]
        await asyncio.sleep(window.start - time.perf_counter())
        before = read_cpu(server_pid, database)
        await asyncio.sleep(window.end - time.perf_counter())
        after = read_cpu(server_pid, database)
        await asyncio.gather(*pollers)
    return report(tally, clients=clients, warmup=warmup, duration=duration, before=before, after=after)


def report(tally: Tally, *, clients: int, warmup: float, duration: float, before: CpuReading,
           after: CpuReading) -> dict:
    ok = len(tally.latencies)
    ms = [s * 1000 for s in tally.latencies]
    client_cpu = after.client - before.client
    server_cpu = None if before.server is None else after.server - before.server
    machine = {kind: (after.machine[kind] - before.machine[kind]) / duration for kind in after.machine}
    database_cpu = database_cpu_seconds(before, after)
    return {
        "clients": clients, "warmup_seconds": warmup, "duration_seconds": duration,
        "expected_status": int(tally.expect), "ok_responses": ok, "rps": round(ok / duration, 2),
        "unexpected": sum(tally.outcomes.values()) - tally.outcomes[tally.expect],
        "outcomes": dict(tally.outcomes),
        "unexpected_whole_run": sum(tally.all_outcomes.values()) - tally.all_outcomes[tally.expect],
        "outcomes_whole_run": dict(tally.all_outcomes), "first_failure": tally.first_failure,
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
        "database_cpu_cores": None if database_cpu is None else round(database_cpu / duration, 3),
        "database_cpu_ms_per_request": None if database_cpu is None or not ok else round(1000 * database_cpu / ok, 3),
        # everything else: with --database, PostgreSQL's work for other databases and its shared background
        # processes count here; without it, all of PostgreSQL does
        "other_busy_cores": round(machine["busy"] - ((server_cpu or 0) + client_cpu + (database_cpu or 0)) / duration,
                                  3),
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
    ap.add_argument("--method", default="GET", choices=("GET", "POST"))
    ap.add_argument("--body", default=None, help="JSON body sent with every request")
    ap.add_argument("--expect", type=int, default=200, help="the status code that counts as an answer")
    ap.add_argument("--database", default=None,
                    help="the server's PostgreSQL database: its backends' CPU is counted apart from the others'")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    request = Request(url=args.url, method=args.method, expect=str(args.expect),
                      body=None if args.body is None else json.dumps(json.loads(args.body)).encode())
    result = asyncio.run(generate_load(request, os.environ["BENCH_TOKEN"], args.clients, args.warmup,
                                       args.duration, args.server_pid, args.database))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
