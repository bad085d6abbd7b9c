"""Scenario `transitions`: wall time of one 3-scene job with scene_transitions `cuts` against `continuous`.

Both run the brief's headphones example (3 scenes of 8 s) in v3 mode through the real API, one job at a time, on a
fresh local stack per mode (stackrun.time_single_jobs). `continuous`: one Veo chain, generate → extend → extend, one
operation after another; `cuts`: three generates from the product image at once, then the join's crossfades. The
presenter renders alongside in both. Sandbox latencies are the realistic ratio Veo 75 s per operation, HeyGen 150 s
per render, both × --scale (default 0.5 → 37.5 s / 75 s): large enough that the local steps (image fetch, join,
compose), which do not shrink with the scale, do not dominate. Target: cuts median ≤ 0.75 × continuous median in the
same run. (The floor is the presenter: with v3 a cuts job cannot finish before HeyGen, 150 s against a 225 s chain.)
"""

from __future__ import annotations

from .common import loaded_note, log, machine_info, write_result
from .stackrun import HEYGEN_BASE, VEO_BASE, time_single_jobs

TARGET_RATIO = 0.75
MODES = ("continuous", "cuts")


def run(args) -> dict:
    scale = args.scale or (0.1 if args.quick else 0.5)
    repeats = 1 if args.quick else max(3, args.repeats)
    scenes = 3
    info = machine_info()
    log(f"transitions: {scenes}-scene job, {repeats} runs per mode, latency scale {scale}; {loaded_note(info)}")
    modes = {mode: time_single_jobs(f"transitions-{mode}", scale=scale, repeats=repeats, scenes=scenes,
                                    brief_overrides={"scene_transitions": mode})
             for mode in MODES}
    continuous, cuts = (modes[mode]["wall_seconds"]["p50"] for mode in MODES)
    ideal = {mode: modes[mode]["ideal_seconds"]["p50"] for mode in MODES}
    projected = {mode: modes[mode]["projected_unscaled_seconds"]["p50"] for mode in MODES}
    result = {"ratio": cuts / continuous, "ideal_ratio": ideal["cuts"] / ideal["continuous"],
              "projected_unscaled_ratio": projected["cuts"] / projected["continuous"]}
    result["meets_target"] = result["ratio"] <= TARGET_RATIO
    data = {"scenario": "transitions", "quick": args.quick, "machine": info, "note": loaded_note(info),
            "scale": scale, "scenes": scenes, "veo_seconds": VEO_BASE * scale, "heygen_seconds": HEYGEN_BASE * scale,
            "modes": modes, "result": result, "target_ratio": TARGET_RATIO}
    log(f"transitions: continuous median {continuous:.2f} s, cuts median {cuts:.2f} s → cuts / continuous = "
        f"{result['ratio']:.3f} (ideal {result['ideal_ratio']:.3f}, projected unscaled "
        f"{result['projected_unscaled_ratio']:.3f}; target ≤ {TARGET_RATIO})")
    write_result("transitions" + ("-quick" if args.quick else ""), data)
    return data
