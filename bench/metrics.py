"""Scenario `metrics`: does instrumentation slow the hot path? GET /api/video/status/{job_id}/ with and without it, in
one run.

One code tree (the working tree), served twice over the same PostgreSQL database (bench_metrics) with the job every
client polls (bench.trees): tree A without instrumentation (DJANGO_SETTINGS_MODULE=bench.metrics_settings: the
product's settings less the metrics middleware, no PROMETHEUS_MULTIPROC_DIR), tree B as production runs it (the
middleware, multiprocess mode writing to a fresh directory). Each is gunicorn with 2 sync workers, DEBUG off.
Rounds (--repeats) interleave A and B for each clients level (--clients, default 1,16), measured by bench.loadgen
(bench/common.py run_loadgen) exactly as the `status` scenario does; B/A of the medians and per round.

Target: B's requests per second ≥ 0.9 × A's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from .common import REPO, loaded_note, log, machine_info, write_result
from .status import (
    QUICK_DURATION_SECONDS,
    WARMUP_SECONDS,
    client_saturation_notes,
    command_line,
    disturbance_notes,
    measure_interleaved,
    medians,
    paired_ratios,
    print_summary,
    ratios,
    steal_notes,
)
from .trees import GUNICORN_WORKERS, JOB_STEPS, ServedTree, fresh_database, serving

TARGET_RPS_RATIO = 0.9


def trees(stack: contextlib.ExitStack, database_url: str) -> dict[str, ServedTree]:
    """{"a": uninstrumented, "b": instrumented}, both serving the same database."""
    multiproc = tempfile.mkdtemp(prefix="bench-metrics-")
    stack.callback(shutil.rmtree, multiproc, True)
    plain = ServedTree(label="a", description="without instrumentation", root=REPO, database_url=database_url)
    plain.prepare()
    instrumented = ServedTree(label="b", description="instrumented (multiprocess mode)", root=REPO,
                              database_url=database_url, env=dict(plain.env), token=plain.token, job_id=plain.job_id)
    plain.env["DJANGO_SETTINGS_MODULE"] = "bench.metrics_settings"
    instrumented.env["PROMETHEUS_MULTIPROC_DIR"] = multiproc
    for tree in (plain, instrumented):
        stack.enter_context(serving(tree))
    return {"a": plain, "b": instrumented}


def verdict(table_ratios: dict) -> dict:
    return {clients: {"rps_ratio": r["rps"], "met": r["rps"] is not None and r["rps"] >= TARGET_RPS_RATIO}
            for clients, r in table_ratios.items()}


def run(args) -> dict:
    duration = QUICK_DURATION_SECONDS if args.quick else args.duration
    rounds = 1 if args.quick else args.repeats
    levels = args.clients
    info = machine_info()
    log(f"metrics: status without (A) and with (B) instrumentation, clients {levels}, {rounds} rounds x "
        f"{duration:.0f} s after {WARMUP_SECONDS:.0f} s warm-up; {loaded_note(info)}")
    with contextlib.ExitStack() as stack:
        served = trees(stack, stack.enter_context(fresh_database("bench_metrics")))
        runs = measure_interleaved(served, levels, rounds, duration)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    table = medians(runs, list(served), levels)
    table_ratios = ratios(table, levels)
    data = {
        "scenario": "metrics", "quick": args.quick, "machine": info, "note": loaded_note(info),
        "command": command_line(), "cwd": str(REPO),
        "trees": {"a": "working tree, bench.metrics_settings (no metrics middleware, no PROMETHEUS_MULTIPROC_DIR)",
                  "b": "working tree, product settings, PROMETHEUS_MULTIPROC_DIR set (multiprocess mode)"},
        "endpoint": "GET /api/video/status/{job_id}/", "job_steps": len(JOB_STEPS),
        "server": f"gunicorn, {GUNICORN_WORKERS} sync workers, no threads, DEBUG=false, PostgreSQL 127.0.0.1",
        "clients_levels": levels, "rounds": rounds, "duration_seconds": duration, "warmup_seconds": WARMUP_SECONDS,
        "order": "per round and clients level: a, b", "target_rps_ratio": TARGET_RPS_RATIO,
        "medians": table, "ratios_b_over_a": table_ratios, "paired_ratios_b_over_a": paired_ratios(runs, levels),
        "verdict": verdict(table_ratios),
        "notes": client_saturation_notes(table) + disturbance_notes(runs) + steal_notes(runs), "runs": runs,
    }
    write_result("metrics" + ("-quick" if args.quick else ""), data)
    print_summary(data)
    for clients, v in data["verdict"].items():
        print(f"metrics: {clients} clients: instrumented / plain rps = {v['rps_ratio']} (target ≥ "
              f"{TARGET_RPS_RATIO}: {'met' if v['met'] else 'NOT met'})", flush=True)
    return data
