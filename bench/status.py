"""Scenario `status`: throughput of GET /api/video/status/{job_id}/, the endpoint every client polls, comparing two
code trees in one run.

Trees: with `--compare REF`, tree A is REF (a temporary detached `git worktree`) and tree B the working tree;
without it only B is measured. Each tree gets its own PostgreSQL database (bench_status_a / bench_status_b),
migrated, with a user, a token and one job in flight (3 scenes, its 6 JobStep rows), and its own gunicorn
(2 sync workers, no threads, DEBUG off, same interpreter), both up for the whole run.

A measurement: a separate client process (bench.loadgen: asyncio + httpx, C keep-alive connections sending the
GET back to back) warms up for 2 s, then counts D seconds (--duration, default 10). Rounds (--repeats, default 3)
interleave the trees, for each clients level (--clients, default 1,16): A, B, A, B, ... so that the machine's
noise hits both alike. Reported per (tree, clients): the median over rounds of requests per second (200s / D),
of p50 and p99 latency, of the server's CPU (gunicorn master and workers, from /proc) per request, of the
client's CPU, of the machine's other busy cores (PostgreSQL and anything else running on the shared machine) and
of its steal time (the hypervisor running other guests); B/A of those medians; and B/A within each round (A and
B measured back to back), median and range over rounds, over all rounds and over the undisturbed ones (neither
measurement saw more than 0.4 cores of other load or steal). Any answer other than 200 fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import statistics
import sys

from .common import REPO, loaded_note, log, machine_info, run_loadgen, write_result
from .trees import GUNICORN_WORKERS, JOB_STEPS, ServedTree, changed_files_since, describe, open_trees

WARMUP_SECONDS = 2.0
QUICK_DURATION_SECONDS = 2.0
CLIENT_SATURATED_CORES = 0.9  # the client is one asyncio thread: near one core, it (not the server) is the limit
NOTABLE_STEAL_CORES = 0.1
# Our own PostgreSQL backends and loopback networking take ~0.1-0.2 cores beyond server and client; more than this
# (other busy cores + steal) means another tenant of the shared machine was running during the window.
DISTURBED_BACKGROUND_CORES = 0.4
COMPARED = ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
PAIRED = ("rps", "p50_ms", "server_cpu_ms_per_request")


def run_load(tree: ServedTree, clients: int, duration: float) -> dict:
    """One measurement of `tree` by a fresh client process; its JSON report."""
    return run_loadgen(["--url", tree.status_url, "--clients", str(clients), "--duration", str(duration),
                        "--warmup", str(WARMUP_SECONDS), "--server-pid", str(tree.process.pid)],
                       token=tree.token, seconds=WARMUP_SECONDS + duration)


def require_only_200s(tree: ServedTree, result: dict) -> None:
    if result["unexpected_whole_run"] or not result["ok_responses"]:
        raise RuntimeError(f"tree {tree.label} at {result['clients']} clients: {result['unexpected_whole_run']} "
                           f"answers other than 200 {result['outcomes_whole_run']}; first: {result['first_failure']}"
                           f"\n{tree.log_tail()}")


def measure_interleaved(trees: dict[str, ServedTree], levels: list[int], rounds: int, duration: float) -> list[dict]:
    runs = []
    for round_number in range(1, rounds + 1):
        for clients in levels:
            for label, tree in trees.items():
                load_before = os.getloadavg()[0]
                result = run_load(tree, clients, duration)
                require_only_200s(tree, result)
                runs.append({"round": round_number, "tree": label, "load_1m_before": round(load_before, 2),
                             **result})
                log(f"round {round_number}/{rounds}, {clients} clients, tree {label}: {result['rps']:.1f} rps, "
                    f"p50 {result['latency_ms']['p50']:.2f} ms, p99 {result['latency_ms']['p99']:.2f} ms, server "
                    f"CPU {result['server_cpu_ms_per_request']} ms/request, client {result['client_cpu_cores']} "
                    f"cores, others {result['other_busy_cores']} cores, steal {result['machine_steal_cores']} cores")
    return runs


def flatten(run: dict) -> dict:
    return {"rps": run["rps"], "p50_ms": run["latency_ms"]["p50"], "p99_ms": run["latency_ms"]["p99"],
            "server_cpu_ms_per_request": run["server_cpu_ms_per_request"],
            "database_cpu_ms_per_request": run.get("database_cpu_ms_per_request"),  # with loadgen --database
            "client_cpu_cores": run["client_cpu_cores"], "other_busy_cores": run["other_busy_cores"],
            "machine_steal_cores": run["machine_steal_cores"]}


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def median_of(values: list) -> float | None:
    xs = [v for v in values if v is not None]
    return round(statistics.median(xs), 3) if xs else None


def medians(runs: list[dict], labels: list[str], levels: list[int]) -> dict:
    """{tree: {clients: median over rounds of each metric, plus the rps range}}."""
    table = {}
    for label in labels:
        table[label] = {}
        for clients in levels:
            mine = [flatten(r) for r in runs if r["tree"] == label and r["clients"] == clients]
            entry = {metric: median_of([m[metric] for m in mine]) for metric in mine[0]}
            entry.update({"rounds": len(mine), "rps_min": min(m["rps"] for m in mine),
                          "rps_max": max(m["rps"] for m in mine)})
            table[label][str(clients)] = entry
    return table


def ratios(table: dict, levels: list[int]) -> dict:
    """B/A of the medians per clients level (rps above 1 is faster; latency and CPU below 1 are better)."""
    if "a" not in table:
        return {}
    out = {}
    for clients in map(str, levels):
        a, b = table["a"][clients], table["b"][clients]
        out[clients] = {metric: rounded(ratio_or_none(b[metric], a[metric])) for metric in COMPARED}
    return out


def ratio_or_none(b: float | None, a: float | None) -> float | None:
    return b / a if a and b is not None else None


def disturbed(run: dict) -> bool:
    return run["other_busy_cores"] + run["machine_steal_cores"] > DISTURBED_BACKGROUND_CORES


def pairs_by_round(runs: list[dict], clients: int) -> list[tuple[dict, dict]]:
    by_round: dict[int, dict[str, dict]] = {}
    for r in runs:
        if r["clients"] == clients:
            by_round.setdefault(r["round"], {})[r["tree"]] = r
    return [(trees["a"], trees["b"]) for trees in by_round.values() if {"a", "b"} <= trees.keys()]


def ratio_summary(pairs: list[tuple[dict, dict]], metric: str) -> dict:
    values = [v for a, b in pairs if (v := ratio_or_none(flatten(b)[metric], flatten(a)[metric])) is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "per_round": []}
    return {"median": median_of(values), "min": round(min(values), 3), "max": round(max(values), 3),
            "per_round": [round(v, 3) for v in values]}


def paired_ratios(runs: list[dict], levels: list[int]) -> dict:
    """Per clients level, B/A within each round (the two measured back to back), then the median and range over
    rounds: a drift of the machine between rounds cancels out here, where it can skew a ratio of medians. Also the
    same over the undisturbed pairs only (neither measurement shared the machine with another tenant's load)."""
    if not any(r["tree"] == "a" for r in runs):
        return {}
    out = {}
    for clients in levels:
        pairs = pairs_by_round(runs, clients)
        quiet = [(a, b) for a, b in pairs if not disturbed(a) and not disturbed(b)]
        out[str(clients)] = {metric: ratio_summary(pairs, metric) for metric in PAIRED}
        out[str(clients)]["undisturbed"] = {"pairs": len(quiet), "of": len(pairs),
                                            **{metric: ratio_summary(quiet, metric) for metric in PAIRED}}
    return out


def disturbance_notes(runs: list[dict]) -> list[str]:
    background = [r["other_busy_cores"] + r["machine_steal_cores"] for r in runs if disturbed(r)]
    if not background:
        return []
    return [f"{len(background)} of {len(runs)} measurements shared the machine with more than "
            f"{DISTURBED_BACKGROUND_CORES} cores of other load plus steal (median {statistics.median(background):.2f}, "
            f"max {max(background):.2f} cores; per measurement in runs[]): their rps and latency say as much about "
            f"the neighbours as about the code, so trust ratios over many rounds, not single numbers"]


def steal_notes(runs: list[dict]) -> list[str]:
    stolen = [r for r in runs if r["machine_steal_cores"] >= NOTABLE_STEAL_CORES]
    if not stolen:
        return []
    where = ", ".join(f"round {r['round']} {r['clients']} clients tree {r['tree']} ({r['machine_steal_cores']})"
                      for r in stolen)
    return [f"the hypervisor took >= {NOTABLE_STEAL_CORES} cores (steal) during: {where}; those measurements are "
            f"slower for reasons outside the code"]


def client_saturation_notes(table: dict) -> list[str]:
    return [f"tree {label} at {clients} clients: the client process used {entry['client_cpu_cores']} of a core, so "
            f"its rps may be bounded by the client rather than the server"
            for label, levels in table.items() for clients, entry in levels.items()
            if (entry["client_cpu_cores"] or 0) >= CLIENT_SATURATED_CORES]


def paired_text(r: dict) -> str:
    return (f"rps {r['rps']['median']:.3f} [{r['rps']['min']:.3f}-{r['rps']['max']:.3f}], p50 "
            f"{r['p50_ms']['median']:.3f}, server CPU/request {r['server_cpu_ms_per_request']['median']:.3f}")


def command_line() -> str:
    return shlex.join(["python", "-m", "bench", *sys.argv[1:]])


def print_summary(data: dict) -> None:
    header = (f"{'tree':<5} {'clients':>7} {'rps':>9} {'rps range':>17} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'server CPU ms/req':>18} {'client cores':>13} {'other cores':>12} {'steal cores':>12}")
    lines = ["", f"status: {data['command']}  ({data['rounds']} rounds x {data['duration_seconds']:.0f} s)", header]
    for label, levels in data["medians"].items():
        for clients, m in levels.items():
            lines.append(f"{label:<5} {clients:>7} {m['rps']:>9.1f} {m['rps_min']:>8.1f}-{m['rps_max']:<8.1f} "
                         f"{m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['server_cpu_ms_per_request'] or 0:>18.2f} "
                         f"{m['client_cpu_cores']:>13.2f} {m['other_busy_cores']:>12.2f} "
                         f"{m['machine_steal_cores']:>12.2f}")
    for clients, r in data["ratios_b_over_a"].items():
        lines.append(f"B/A   {clients:>7} {r['rps']:>9.3f} {'':>17} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                     f"{r['server_cpu_ms_per_request'] or 0:>18.3f}")
    for clients, r in data["paired_ratios_b_over_a"].items():
        lines.append(f"B/A   {clients:>7} per round: {paired_text(r)}")
        quiet = r["undisturbed"]
        lines.append(f"B/A   {clients:>7} undisturbed rounds ({quiet['pairs']}/{quiet['of']}): "
                     f"{paired_text(quiet) if quiet['pairs'] else 'none'}")
    lines += [f"note: {n}" for n in data["notes"]]
    print("\n".join(lines), flush=True)


def run(args) -> dict:
    duration = QUICK_DURATION_SECONDS if args.quick else args.duration
    rounds = 1 if args.quick else args.repeats
    levels = args.clients
    info = machine_info()
    log(f"status: trees {'A (' + args.compare + ') and ' if args.compare else ''}B (working tree), clients "
        f"{levels}, {rounds} rounds x {duration:.0f} s after {WARMUP_SECONDS:.0f} s warm-up; {loaded_note(info)}")
    with contextlib.ExitStack() as stack:
        trees = open_trees(stack, args.compare)
        described = {label: describe(tree, args.compare if label == "a" else None) for label, tree in trees.items()}
        if "a" in described:
            described["b"]["tracked_files_differing_from_a"] = changed_files_since(described["a"]["commit"])
        runs = measure_interleaved(trees, levels, rounds, duration)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    table = medians(runs, list(trees), levels)
    data = {
        "scenario": "status", "quick": args.quick, "machine": info, "note": loaded_note(info),
        "command": command_line(), "cwd": str(REPO), "trees": described,
        "endpoint": "GET /api/video/status/{job_id}/", "job_steps": len(JOB_STEPS),
        "server": f"gunicorn, {GUNICORN_WORKERS} sync workers, no threads, DEBUG=false, PostgreSQL 127.0.0.1",
        "client": "asyncio + httpx.AsyncClient, one keep-alive connection per client (gunicorn's sync workers "
                  "close each connection after one response, so every request opens a new one)",
        "clients_levels": levels, "rounds": rounds, "duration_seconds": duration, "warmup_seconds": WARMUP_SECONDS,
        "order": "per round and clients level: " + ", ".join(trees),
        "medians": table, "ratios_b_over_a": ratios(table, levels),
        "paired_ratios_b_over_a": paired_ratios(runs, levels),
        "notes": client_saturation_notes(table) + disturbance_notes(runs) + steal_notes(runs), "runs": runs,
    }
    write_result("status" + ("-quick" if args.quick else ""), data)
    print_summary(data)
    return data
