"""Scenario `v3v2`: wall time of one 3-scene job in the parallel v3 pipeline against the serial v2 one.

Both modes run the brief's headphones example (3 scenes of 8 s: one Veo chain generate → extend → extend) through
the real API, one job at a time, on a fresh local stack per mode (sandbox, one Celery worker with beat, API).
Sandbox latencies are the realistic ratio Veo 75 s per operation, HeyGen 150 s per render, both multiplied by
the same --scale (default 0.1 → 7.5 s / 15 s). Wall time = VideoJob.completed_at − created_at.

v3: the presenter renders while the B-roll chain runs; v2: HeyGen composes over the uploaded B-roll, so it waits
for it. Ideal = the DAG's longest path (renders at the configured latency, local steps as measured). Because the
local steps (image fetch, compose, v2 upload) do not shrink with the scale, the report also projects each mode's
median to unscaled latencies: measured + (ideal at 75/150 s − ideal at the scaled latencies).
"""

from __future__ import annotations

from .common import loaded_note, log, machine_info, summary, write_result
from .stackrun import (
    BENCH_ENV,
    HEYGEN_BASE,
    VEO_BASE,
    Rows,
    analyse,
    critical_path,
    discard,
    hard_stop,
    image_url,
    services,
    submit_all,
    wait_for,
    workdir,
)

TARGET_PCT = 35.0


def run_mode(mode: str, *, scale: float, repeats: int, scenes: int) -> dict:
    from devstack.briefs import headphones_brief
    from devstack.stack import local_stack
    from video_generation.client import VideoApi

    veo, heygen = VEO_BASE * scale, HEYGEN_BASE * scale
    folder = workdir(f"v3v2-{mode}")
    ok = False
    try:
        with services(folder) as (database_url, redis_url, desc), \
                local_stack(folder, veo_seconds=veo, heygen_seconds=heygen, heygen_api_version=mode,
                            database_url=database_url, redis_url=redis_url,
                            extra_env=BENCH_ENV) as stack:
          try:
            stack.start_worker("worker", concurrency=4, beat=True)
            api = VideoApi(stack.start_api(), stack.create_token("bench", plan="enterprise"))
            rows = Rows(stack.env["DATABASE_URL"])
            results = []
            for i in range(repeats):
                brief = headphones_brief(image_url(stack), scenes=scenes)
                [job_id] = submit_all(api, [brief])
                if not wait_for(rows, [job_id], timeout=max(300.0, 10 * (3 * veo + heygen)),
                                label=f"{mode} run {i + 1}: ", worker=stack.processes.get("worker")):
                    raise RuntimeError(f"{mode} job {job_id} did not finish in time; logs in {folder}")
                job = rows.jobs()[job_id]
                a = analyse(job, veo_seconds=veo, heygen_seconds=heygen)
                a["ideal_unscaled"] = critical_path(job, veo_seconds=VEO_BASE, heygen_seconds=HEYGEN_BASE)
                results.append(a)
                local = {k: round(v or 0, 2) for k, v in a["local"].items()}
                log(f"{mode} run {i + 1}/{repeats}: {a['status']}, wall {a['makespan'] or 0:.2f} s, "
                    f"ideal {a['ideal'] or 0:.2f} s, local steps {local}")
                if a["status"] != "completed":
                    raise RuntimeError(f"{mode} job failed: {a['error']}; logs in {folder}")
          finally:
            hard_stop(stack)
        ok = True
    finally:
        if ok:
            discard(folder)
        else:
            log(f"kept {folder} for its logs")
    walls = [r["makespan"] for r in results]
    projected = [r["makespan"] + r["ideal_unscaled"] - r["ideal"] for r in results]
    return {"veo_seconds": veo, "heygen_seconds": heygen, **desc, "runs": results,
            "wall_seconds": summary(walls), "ideal_seconds": summary(r["ideal"] for r in results),
            "overhead_seconds": summary(r["overhead"] for r in results),
            "projected_unscaled_seconds": summary(projected),
            "local_steps_seconds": {k: summary(r["local"].get(k) for r in results) for k in results[0]["local"]}}


def run(args) -> dict:
    scale = args.scale or (0.02 if args.quick else 0.1)
    repeats = 1 if args.quick else max(3, args.repeats)
    scenes = 3
    info = machine_info()
    log(f"v3v2: {scenes}-scene job, {repeats} runs per mode, latency scale {scale}; {loaded_note(info)}")
    modes = {mode: run_mode(mode, scale=scale, repeats=repeats, scenes=scenes) for mode in ("v3", "v2")}
    v3, v2 = modes["v3"]["wall_seconds"]["p50"], modes["v2"]["wall_seconds"]["p50"]
    p3, p2 = modes["v3"]["projected_unscaled_seconds"]["p50"], modes["v2"]["projected_unscaled_seconds"]["p50"]
    speedup = {"ratio": v3 / v2, "measured_pct": 100 * (1 - v3 / v2),
               "projected_unscaled_pct": 100 * (1 - p3 / p2),
               "ideal_pct": 100 * (1 - modes["v3"]["ideal_seconds"]["p50"] / modes["v2"]["ideal_seconds"]["p50"])}
    speedup["meets_target"] = speedup["measured_pct"] >= TARGET_PCT
    data = {"scenario": "v3v2", "quick": args.quick, "machine": info, "note": loaded_note(info), "scale": scale,
            "scenes": scenes, "veo_seconds": VEO_BASE * scale, "heygen_seconds": HEYGEN_BASE * scale,
            "modes": modes, "speedup": speedup, "target_pct": TARGET_PCT}
    log(f"v3v2: v3 median {v3:.2f} s, v2 median {v2:.2f} s → v3 {speedup['measured_pct']:.1f} % faster "
        f"(projected unscaled {speedup['projected_unscaled_pct']:.1f} %)")
    write_result("v3v2" + ("-quick" if args.quick else ""), data)
    return data
