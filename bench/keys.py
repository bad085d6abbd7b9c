"""Scenario `keys`: is a status read with API-key authentication close to the cost of the authentication alone?

One tree (the working tree) with its own PostgreSQL database (bench_keys), migrated, a user `bench` with a `vsk_`
key (`create_api_token`) and one job in flight with its 6 steps (bench.trees), served by gunicorn (2 sync workers,
no threads, DEBUG off) with DJANGO_SETTINGS_MODULE=bench.keys_settings: the product's URLs plus a bare DRF view with
the same key authentication and scope check that answers {"ok": true} (bench/keys_urls.py; never in production
URLs). A separate client process (bench.loadgen, 16 keep-alive clients sending `Authorization: Token <key>`)
warms up 2 s then counts D seconds (--duration, default 10) against the bare view, then against
GET /api/video/status/{job_id}/ (full 200 answers: the client sends no If-None-Match). One run.

Targets: status rps ≥ 0.5 × the bare view's rps; status p99 ≤ 50 ms.
"""

from __future__ import annotations

import contextlib
import os

from .common import REPO, loaded_note, log, machine_info, run_loadgen, write_result
from .status import command_line, flatten, require_only_200s
from .trees import GUNICORN_WORKERS, JOB_STEPS, ServedTree, fresh_database, serving

BARE_PATH = "bench/bare/"  # served by bench/keys_urls.py
CLIENTS = 16
WARMUP_SECONDS = 2.0
QUICK_DURATION_SECONDS = 2.0
TARGETS = {"rps_ratio_at_least": 0.5, "status_p99_ms_at_most": 50.0}


def run_load(tree: ServedTree, url: str, duration: float) -> dict:
    result = run_loadgen(["--url", url, "--clients", str(CLIENTS), "--duration", str(duration), "--warmup",
                          str(WARMUP_SECONDS), "--server-pid", str(tree.process.pid)],
                         token=tree.token, seconds=WARMUP_SECONDS + duration)
    require_only_200s(tree, result)
    return result


def verdicts(bare: dict, status: dict) -> dict:
    ratio = status["rps"] / bare["rps"] if bare["rps"] else None
    return {"rps_ratio": None if ratio is None else round(ratio, 3),
            "rps_ratio_met": ratio is not None and ratio >= TARGETS["rps_ratio_at_least"],
            "status_p99_met": status["p99_ms"] <= TARGETS["status_p99_ms_at_most"]}


def run(args) -> dict:
    duration = QUICK_DURATION_SECONDS if args.quick else args.duration
    info = machine_info()
    log(f"keys: bare view vs status, {CLIENTS} clients, {duration:.0f} s after {WARMUP_SECONDS:.0f} s warm-up; "
        f"{loaded_note(info)}")
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_database("bench_keys"))
        tree = ServedTree(label="keys", description="working tree", root=REPO, database_url=database_url)
        tree.prepare()
        tree.env["DJANGO_SETTINGS_MODULE"] = "bench.keys_settings"
        stack.enter_context(serving(tree))
        measured = {}
        for name, url in (("bare", f"{tree.base_url}/{BARE_PATH}"), ("status", tree.status_url)):
            result = run_load(tree, url, duration)
            measured[name] = {**flatten(result), "run": result}
            log(f"{name}: {result['rps']:.1f} rps, p50 {result['latency_ms']['p50']:.2f} ms, p99 "
                f"{result['latency_ms']['p99']:.2f} ms, server CPU {result['server_cpu_ms_per_request']} ms/request")
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {
        "scenario": "keys", "quick": args.quick, "machine": info, "note": loaded_note(info),
        "command": command_line(), "cwd": str(REPO),
        "endpoints": {"bare": f"GET /{BARE_PATH} (bench.keys_urls.BareKeyApi)",
                      "status": "GET /api/video/status/{job_id}/"},
        "job_steps": len(JOB_STEPS), "clients": CLIENTS, "duration_seconds": duration,
        "warmup_seconds": WARMUP_SECONDS,
        "server": f"gunicorn, {GUNICORN_WORKERS} sync workers, no threads, DEBUG=false, PostgreSQL 127.0.0.1",
        "authentication": "Authorization: Token <vsk_ key> (api_keys.authentication.ApiKeyAuthentication)",
        "targets": TARGETS, "verdicts": verdicts(measured["bare"], measured["status"]), "measured": measured,
    }
    write_result("keys" + ("-quick" if args.quick else ""), data)
    v = data["verdicts"]
    print(f"\nkeys: status / bare rps = {v['rps_ratio']} (target ≥ {TARGETS['rps_ratio_at_least']}: "
          f"{'met' if v['rps_ratio_met'] else 'NOT met'}); status p99 {measured['status']['p99_ms']:.2f} ms "
          f"(target ≤ {TARGETS['status_p99_ms_at_most']:.0f} ms: {'met' if v['status_p99_met'] else 'NOT met'})",
          flush=True)
    return data
