"""Scenario `compose`: video_generation.services.compose.compose_final alone, pinned to one core.

Inputs (made once per run with ffmpeg, outside the timing): a 24 s 720x1280 24 fps H.264 B-roll with moving
content (ffmpeg's testsrc2, so the encoder has real work, plus a tone) and a 24 s 720x1280 VP9+alpha presenter
(media_factory.make_presenter, like HeyGen's transparent WebM). Each repetition runs compose_final in a fresh
child Python process whose CPU affinity is one core before it starts, so ffmpeg inherits it and compose's own
thread count (from sched_getaffinity) is 1. Every repetition runs two variants back to back: ``plain`` and
``overlays`` (three on-screen texts, one per third of the video, and bold captions of a 60-word narration spread
over the whole video); the ratio of their medians is reported against OVERLAY_RATIO_TARGET, with the ratio of
their ffmpeg CPU seconds beside it (steadier on a shared machine). The child reports wall seconds and
getrusage(RUSAGE_CHILDREN).ru_maxrss, i.e. the peak RSS of the ffmpeg it ran (and its own peak RSS apart).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, loaded_note, log, machine_info, summary, write_result

TARGET_SECONDS = 12.0
TARGET_MB = 500.0


def make_inputs(folder: Path, seconds: float) -> tuple[Path, Path]:
    import imageio_ffmpeg

    from video_generation.tests.services.media_factory import make_presenter

    broll = folder / "broll.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=s=720x1280:r=24:d={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds}",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-ac", "2", "-t", str(seconds), str(broll)]
    subprocess.run(cmd, check=True, timeout=600)
    presenter = make_presenter(folder / "presenter.webm", seconds, kind="alpha", size=(720, 1280), fps=25)
    return broll, presenter


OVERLAY_TEXTS = ("40 h battery", "Active noise cancelling, all day long", "Wireless charging case — €199")
VARIANTS = ("plain", "overlays")
OVERLAY_RATIO_TARGET = 1.25


NARRATION = ("Introducing our revolutionary wireless headphones. Forty hours of battery life keep the music going "
             "all week, and adaptive noise cancelling turns any commute into a quiet room. Soft memory foam "
             "cushions stay comfortable from the first song to the last. Premium sound, all day comfort, and a "
             "case that charges without a cable. Order yours today.")


def overlays_for(variant: str, seconds: float) -> list:
    """``overlays``: three texts, one per third of the video (like three 8 s scenes); ``plain``: none."""
    from video_generation.services.overlay import TextOverlay

    if variant == "plain":
        return []
    third = seconds / len(OVERLAY_TEXTS)
    return [TextOverlay(text, n * third, (n + 1) * third) for n, text in enumerate(OVERLAY_TEXTS)]


def captions_for(variant: str, seconds: float, presenter: Path, placement):
    """``overlays``: the narration's captions (bold, auto) for the presenter's box; ``plain``: none."""
    from video_generation.services import captions
    from video_generation.services.compose import placed_presenter

    if variant == "plain":
        return None
    box = placed_presenter(presenter, placement, "9:16")
    words = captions.spread(captions.display_words(NARRATION), 0.3, seconds - 0.3)
    return captions.track(words, style="bold", position="auto", frame_w=720, frame_h=1280, presenter=box)


def child(broll: str, presenter: str, output: str, variant: str = "plain") -> None:
    """Runs in the pinned child process: one compose, then a JSON line on stdout."""
    from video_generation.services.compose import Placement, compose_final, probe

    placement = Placement(scale=0.8, x=0.7, y=0.8)
    duration = probe(Path(broll)).duration
    overlays = overlays_for(variant, duration)
    track = captions_for(variant, duration, Path(presenter), placement)
    start = time.perf_counter()
    info = compose_final(broll=Path(broll), presenter=Path(presenter), presenter_keying="alpha",
                         placement=placement, aspect_ratio="9:16", output=Path(output), overlays=overlays,
                         captions=track)
    seconds = time.perf_counter() - start
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "seconds": seconds, "ffmpeg_peak_rss_mb": kids.ru_maxrss / 1024, "python_peak_rss_mb": me.ru_maxrss / 1024,
        "ffmpeg_cpu_seconds": kids.ru_utime + kids.ru_stime, "affinity": sorted(os.sched_getaffinity(0)),
        "output": {"duration": info.duration, "width": info.width, "height": info.height,
                   "has_audio": info.has_audio},
    }))


def run(args) -> dict:
    seconds = 4.0 if args.quick else 24.0
    repeats = 1 if args.quick else max(3, args.repeats)
    core = min(os.sched_getaffinity(0))
    info = machine_info()
    log(f"compose: {seconds:.0f} s inputs, {repeats} runs pinned to CPU {core}; {loaded_note(info)}")
    by_variant: dict[str, list] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
        folder = Path(tmp)
        broll, presenter = make_inputs(folder, seconds)
        for i in range(repeats):
            for variant in VARIANTS:  # interleaved, so both see the same machine
                result = _run_child(broll, presenter, folder / f"final-{variant}-{i}.mp4", variant, core)
                by_variant[variant].append(result)
                log(f"compose {variant} run {i + 1}/{repeats}: {result['seconds']:.2f} s, ffmpeg peak "
                    f"{result['ffmpeg_peak_rss_mb']:.0f} MB, python peak {result['python_peak_rss_mb']:.0f} MB")
    runs = by_variant["plain"]
    secs = summary(r["seconds"] for r in runs)
    with_text = summary(r["seconds"] for r in by_variant["overlays"])
    ratio = round(with_text["p50"] / secs["p50"], 3)
    cpu_plain = summary(r["ffmpeg_cpu_seconds"] for r in runs)
    cpu_text = summary(r["ffmpeg_cpu_seconds"] for r in by_variant["overlays"])
    cpu_ratio = round(cpu_text["p50"] / cpu_plain["p50"], 3)
    log(f"compose median: plain {secs['p50']:.2f} s, with three overlays and captions {with_text['p50']:.2f} s "
        f"(x{ratio}); "
        f"ffmpeg CPU {cpu_plain['p50']:.2f} s against {cpu_text['p50']:.2f} s (x{cpu_ratio})")
    mem = summary(r["ffmpeg_peak_rss_mb"] for r in runs)
    data = {
        "scenario": "compose", "quick": args.quick, "machine": info, "note": loaded_note(info),
        "inputs": {"broll": f"{seconds:.0f} s 720x1280 24 fps H.264 testsrc2 + AAC tone",
                   "presenter": f"{seconds:.0f} s 720x1280 25 fps VP9 yuva420p (alpha) + Opus tone",
                   "placement": "scale 0.8, x 0.7, y 0.8", "aspect_ratio": "9:16"},
        "pinned_to_cpu": core, "runs": runs, "seconds": secs, "ffmpeg_peak_rss_mb": mem,
        "python_peak_rss_mb": summary(r["python_peak_rss_mb"] for r in runs),
        "ffmpeg_cpu_seconds": summary(r["ffmpeg_cpu_seconds"] for r in runs),
        "overlays": {"texts": list(OVERLAY_TEXTS), "captions": NARRATION, "runs": by_variant["overlays"],
                     "seconds": with_text,
                     "ffmpeg_peak_rss_mb": summary(r["ffmpeg_peak_rss_mb"] for r in by_variant["overlays"]),
                     "ffmpeg_cpu_seconds": cpu_text, "ratio_to_plain": ratio, "cpu_ratio_to_plain": cpu_ratio,
                     "ratio_target": OVERLAY_RATIO_TARGET},
        "targets": {"seconds": TARGET_SECONDS, "peak_mb": TARGET_MB},
        "meets_targets": (None if args.quick else
                          bool(secs["p50"] <= TARGET_SECONDS and mem["p50"] <= TARGET_MB
                               and ratio <= OVERLAY_RATIO_TARGET)),
    }
    write_result("compose" + ("-quick" if args.quick else ""), data)
    return data


def _run_child(broll: Path, presenter: Path, output: Path, variant: str, core: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from bench.compose import child; child(*sys.argv[1:])",
         str(broll), str(presenter), str(output), variant],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    if proc.returncode != 0:
        raise RuntimeError(f"compose child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
