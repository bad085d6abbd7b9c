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

from .common import loaded_note, log, machine_info, write_result
from .stackrun import HEYGEN_BASE, VEO_BASE, time_single_jobs

TARGET_PCT = 35.0


def run_mode(mode: str, *, scale: float, repeats: int, scenes: int) -> dict:
    return time_single_jobs(f"v3v2-{mode}", scale=scale, repeats=repeats, scenes=scenes, heygen_api_version=mode)


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
