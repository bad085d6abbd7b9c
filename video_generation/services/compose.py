"""Final video composition: B-roll chains + HeyGen presenter -> one H.264/AAC MP4.

Everything runs through the static ffmpeg binary shipped by imageio-ffmpeg (there is no ffprobe; probing is
done with PyAV). One ffmpeg process per call, one encode per output.

Delivery format (``normalize``, ``join_chains``, ``compose_final``)
    ``FRAME_SIZES[aspect_ratio]`` (9:16 -> 720x1280, 16:9 -> 1280x720), 24 fps constant, yuv420p,
    H.264 (libx264 ``-preset veryfast -crf 23``), AAC 44.1 kHz stereo 128 kb/s, ``+faststart``.
    The output always has exactly one video and one audio stream (silent AAC if no input has sound).
    Inputs of another size are scaled to *cover* the frame and centre-cropped (never letterboxed).
    Outputs are written to a temporary file next to ``output`` and renamed into place, so a reader never
    sees a half-written file.

Presenter placement (``Placement(scale, x, y)``, the brief's ``avatar_scale``, ``avatar_x``, ``avatar_y``)
    Let the frame be W x H and the presenter video pw x ph.

    * Size: the presenter is scaled so its height is ``h = scale * H`` and its width keeps the aspect ratio,
      ``w = pw * h / ph``; both are rounded to even numbers. ``scale`` is clamped to [0.1, 1]. If that width
      would exceed the frame (a landscape presenter in a portrait frame), the box is shrunk, keeping the
      aspect ratio, to ``w = W``.
    * Position: x and y move the box within the frame's free travel (W - w horizontally, H - h vertically):

          left = (W - w) / 2 * (1 + x)        top = (H - h) / 2 * (1 + y)

      rounded to whole pixels, with x and y clamped to [-1, 1]. So x = -1 is flush left, 0 centred, 1 flush
      right; y = -1 is flush top, 0 centred, 1 flush bottom. The presenter never leaves the frame.
    * The brief's presets (scale, x, y): bottom_right = (0.8, 0.7, 0.8), bottom_left = (0.8, -0.7, 0.8),
      top_right = (0.8, 0.7, -0.8), top_left = (0.8, -0.7, -0.8), center = (1.0, 0, 0).

Timing and audio of ``compose_final``
    Duration = max(B-roll, presenter), where the B-roll counts only up to ``scenes_seconds`` when given (the rest
    is padding that only covers the narration, broll_fit ``extend``, and is cut where the presenter ends). A longer
    presenter is never cut; how the B-roll covers it is ``broll_fit``: ``hold`` holds its last frame; ``loop``
    plays it again after itself, each pass crossfading into the next over ``crossfade`` seconds (the join's fade,
    ``_crossfaded``), until it covers the presenter; ``extend`` (a B-roll already planned to cover the estimated
    narration) does the same when the real narration is still longer. Either holds its last frame instead when it
    falls short by at most ``MAX_HOLD_SECONDS``, or is no longer than the crossfade. A longer B-roll keeps the
    presenter's last frame on screen. The presenter's voice plays at full level over the B-roll's own audio (looped
    with it) ducked to ``BROLL_DUCK_VOLUME`` (no loudness normalisation of the mix).

On-screen text (``overlays`` of ``compose_final``)
    Each ``overlay.TextOverlay(text, start, end)`` is laid out by ``overlay.layout_text`` (safe area, clear of the
    presenter box, wrapped) and rendered once to a small transparent PNG. The PNG is an ffmpeg input looped for
    its span only (``-loop 1 -t span``), its alpha faded in and out over ``overlay.FADE_SECONDS`` (at most a quarter
    of the span), shifted to ``start`` and overlaid with ``enable='between(t,start,end)'``: outside its window a
    text costs nothing. A span is cut to the video; one shorter than a frame, or a text with nothing visible, is
    dropped. With captions, the texts are laid out clear of the captions' band too.

Captions (``captions`` of ``compose_final`` and ``normalize``)
    A ``captions.Track`` (lines, times, style and band, made for this frame and presenter box) is written as an
    ASS script and drawn by libass (the ``ass`` filter) over the composed frame, before the on-screen texts, with
    ``fontsdir`` the bundled font's folder, so it is found even on a system with no fonts of its own.

Keying
    ``"alpha"``: a VP9 (or VP8) WebM with an alpha channel is decoded with libvpx (``-c:v libvpx-vp9`` before
    its ``-i``; ffmpeg's native VP9 decoder would drop the alpha) and overlaid as is. ``"chroma"``: the key
    colour is removed with ``colorkey`` in RGB (similarity ``CHROMA_SIMILARITY``, blend ``CHROMA_BLEND``) after the
    presenter is scaled to its box, then overlaid.

Threads
    ffmpeg uses the CPUs this process may run on (``os.sched_getaffinity``), capped at ``MAX_THREADS``; set
    ``COMPOSE_FFMPEG_THREADS`` to force a number (e.g. 1 per Celery prefork child on a shared box).

Priority
    ffmpeg runs at nice ``COMPOSE_FFMPEG_NICE`` (default 10; 0 turns it off): on a box that also runs the
    orchestration, a burst of composes then takes the CPU only when provider polls and submits do not need it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import overlay as onscreen
from .captions import Track
from .geometry import Box

FRAME_SIZES = {"9:16": (720, 1280), "16:9": (1280, 720)}

FPS = 24
AUDIO_RATE = 44100
AUDIO_BITRATE = "128k"
X264_PRESET = "veryfast"
X264_CRF = 23
MIN_FIT_VIDEO_BPS = 300_000  # below this a 720p B-roll is mush: refuse rather than upload it
BROLL_DUCK_VOLUME = 0.25
CHROMA_SIMILARITY = 0.3
CHROMA_BLEND = 0.1
MAX_THREADS = 4
MAX_HOLD_SECONDS = 0.5  # a B-roll fitted with extend or loop holds its last frame at most this long
DEFAULT_NICE = 10  # below the orchestration sharing the box; see "Priority" above
POSTER_QUALITY = 3
PREVIEW_SECONDS = 3.0
PREVIEW_CRF = 30  # a preview is small first, sharp second
FFMPEG_TIMEOUT = 900  # seconds; a render that takes longer is stuck
_STDERR_TAIL_LINES = 8

_HEX_COLOR = re.compile(r"^#?([0-9A-Fa-f]{6})$")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


class ComposeError(Exception):
    """ffmpeg (or probing) failed. The message holds the tail of ffmpeg's stderr, paths and URLs removed."""


@dataclass(frozen=True)
class Placement:
    """The brief's avatar_scale (0.1..1), avatar_x, avatar_y (-1..1); see the module docstring."""

    scale: float
    x: float
    y: float


@dataclass(frozen=True)
class MediaInfo:
    duration: float  # seconds, the container's (longest stream)
    width: int
    height: int
    fps: float
    has_audio: bool
    video_codec: str
    audio_codec: str  # "" when there is no audio stream


# --------------------------------------------------------------------------------------------------- basics


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _threads() -> int:
    forced = os.environ.get("COMPOSE_FFMPEG_THREADS", "").strip()
    if forced:
        try:
            return max(1, int(forced))
        except ValueError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_THREADS))


def niced(cmd: list[str]) -> list[str]:
    """`cmd` run through coreutils' `nice` at COMPOSE_FFMPEG_NICE (unchanged when 0 or `nice` is missing)."""
    try:
        level = int(os.environ.get("COMPOSE_FFMPEG_NICE", "").strip() or DEFAULT_NICE)
    except ValueError:
        level = DEFAULT_NICE
    nice = shutil.which("nice") if level > 0 else None
    return [nice, "-n", str(min(level, 19)), *cmd] if nice else cmd


def _frame_size(aspect_ratio: str) -> tuple[int, int]:
    try:
        return FRAME_SIZES[aspect_ratio]
    except KeyError:
        raise ValueError(f"aspect_ratio must be one of {sorted(FRAME_SIZES)}, not {aspect_ratio!r}") from None


def _whole_frames(seconds: float) -> float:
    """Round a duration to a whole number of output frames (at least one)."""
    return max(1, round(seconds * FPS)) / FPS


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _clamp(value: float, low: float, high: float) -> float:
    if math.isnan(value):
        return (low + high) / 2
    return min(high, max(low, value))


def _ffmpeg_color(color: str) -> str:
    match = _HEX_COLOR.match(color.strip())
    if not match:
        raise ValueError(f"key colour must look like #RRGGBB, not {color!r}")
    return "0x" + match.group(1).upper()


# --------------------------------------------------------------------------------------------------- probing


def _stream_seconds(stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if tag:  # Matroska/WebM: "00:00:02.000000000"
        try:
            h, m, s = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            return None
    return None


def _open(path: Path):
    import av

    try:
        return av.open(str(path))
    except FileNotFoundError:
        raise ComposeError(f"cannot read {Path(path).name}: file not found") from None
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ComposeError(f"cannot read {Path(path).name}: {reason}") from None


def probe(path: Path) -> MediaInfo:
    """Duration, size, frame rate and codecs of a media file (PyAV; no ffprobe needed)."""
    with _open(path) as container:
        if not container.streams.video:
            raise ComposeError(f"{Path(path).name} has no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        if container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            candidates = [_stream_seconds(s) for s in (video, audio) if s is not None]
            duration = max((c for c in candidates if c), default=0.0)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        return MediaInfo(
            duration=round(float(duration), 3),
            width=int(video.codec_context.width or video.width or 0),
            height=int(video.codec_context.height or video.height or 0),
            fps=round(float(rate), 3) if rate else 0.0,
            has_audio=audio is not None,
            video_codec=video.codec_context.name or "",
            audio_codec=(audio.codec_context.name or "") if audio is not None else "",
        )


def _video_seconds(path: Path, info: MediaInfo) -> float:
    """Length of the video stream itself (can be shorter than the container when the audio runs on)."""
    with _open(path) as container:
        seconds = _stream_seconds(container.streams.video[0])
    if not seconds or seconds <= 0:
        return info.duration
    return min(seconds, info.duration) if info.duration else seconds


# ------------------------------------------------------------------------------------------------- placement


def presenter_box(
    frame_w: int, frame_h: int, presenter_w: int, presenter_h: int, placement: Placement
) -> Box:
    """Where the presenter goes in the frame. The rule is in the module docstring."""
    if min(frame_w, frame_h, presenter_w, presenter_h) <= 0:
        raise ValueError("frame and presenter sizes must be positive")
    scale = _clamp(float(placement.scale), 0.1, 1.0)
    x = _clamp(float(placement.x), -1.0, 1.0)
    y = _clamp(float(placement.y), -1.0, 1.0)

    height = min(_even(scale * frame_h), frame_h - frame_h % 2)
    width = _even(presenter_w * height / presenter_h)
    max_width = frame_w - frame_w % 2
    if width > max_width:
        width = max_width
        height = min(_even(presenter_h * width / presenter_w), frame_h - frame_h % 2)

    free_x, free_y = frame_w - width, frame_h - height
    left = int(_clamp(round(free_x / 2 * (1 + x)), 0, free_x))
    top = int(_clamp(round(free_y / 2 * (1 + y)), 0, free_y))
    return Box(left=left, top=top, width=width, height=height)


def placed_presenter(presenter: Path, placement: Placement, aspect_ratio: str) -> Box:
    """Where ``compose_final`` puts this presenter video in a frame of ``aspect_ratio``."""
    w, h = _frame_size(aspect_ratio)
    info = probe(presenter)
    return presenter_box(w, h, info.width, info.height, placement)


# --------------------------------------------------------------------------------------------------- running


def _sanitize(text: str, paths: Sequence[Path]) -> str:
    for p in sorted({str(p) for p in paths if p}, key=len, reverse=True):
        text = text.replace(p, Path(p).name)
    text = _URL.sub("<url>", text)
    return re.sub(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)", r"\1", text)  # any other absolute path


_MP4 = ("-movflags", "+faststart", "-f", "mp4")
_JPEG = ("-f", "image2", "-update", "1")


def _run(args: list[str], output: Path, *, inputs: Sequence[Path], muxer: Sequence[str] = _MP4) -> None:
    """Run ffmpeg writing to a temp file beside ``output`` (an MP4 unless ``muxer`` says otherwise), then rename it
    into place."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".part{output.suffix}", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y", *args]
    cmd += [*muxer, str(tmp)]
    try:
        try:
            result = subprocess.run(
                niced(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=FFMPEG_TIMEOUT,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ComposeError(f"ffmpeg timed out after {FFMPEG_TIMEOUT} s") from None
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace")
            tail = [line for line in stderr.strip().splitlines() if line.strip()][-_STDERR_TAIL_LINES:]
            detail = _sanitize("\n".join(tail), [*inputs, output, tmp, tmp.parent]) or "no error output"
            raise ComposeError(f"ffmpeg failed (exit {result.returncode}): {detail}")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the result is an ordinary media file
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _encode_args(threads: int) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF), "-pix_fmt", "yuv420p",
        "-threads", str(threads), "-r", str(FPS),
        "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_RATE), "-ac", "2",
    ]  # fmt: skip


def _cover(w: int, h: int) -> str:
    """Scale to cover w x h, centre-crop, square pixels, 24 fps CFR, yuv420p."""
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,fps={FPS},format=yuv420p"
    )


_AFORMAT = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"
_SILENCE = f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}"


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.6f}"


# Every branch of every graph is made finite inside the graph (trim/atrim) instead of relying on the output
# option -t: with an endless branch (apad, anullsrc) ffmpeg 9's scheduler sometimes never stops after -t.
def _hold_then_cut(hold: float, duration: float) -> str:
    """Video: repeat the last frame for ``hold`` seconds, then cut at exactly ``duration``."""
    return f"tpad=stop_mode=clone:stop_duration={_seconds(hold)},trim=duration={_seconds(duration)}"


def _pad_then_cut(duration: float) -> str:
    """Audio: pad with silence to ``duration`` and cut there (a finite stream either way)."""
    return f"apad=whole_dur={_seconds(duration)},atrim=duration={_seconds(duration)}"


# --------------------------------------------------------------------------------------------------- public


def normalize(video: Path, output: Path, *, aspect_ratio: str, captions: Track | None = None) -> MediaInfo:
    """Transcode any input to the delivery format (``aspect_ratio`` size, 24 fps, H.264/AAC, always audio), with
    ``captions`` burned in when given (a video HeyGen composed: the legacy v2 mode)."""
    w, h = _frame_size(aspect_ratio)
    info = probe(video)
    duration = _whole_frames(info.duration)
    vdur = _video_seconds(video, info)
    pad = duration - vdur + 1.0
    with tempfile.TemporaryDirectory(prefix="captions-") as scratch:
        burn = f",{_burn_in(captions, Path(scratch) / 'captions.ass')}" if captions and captions.captions else ""
        graph = [f"[0:v]{_cover(w, h)},{_hold_then_cut(pad, duration)}{burn}[v]"]
        source = f"[0:a]{_AFORMAT}" if info.has_audio else _SILENCE
        graph.append(f"{source},{_pad_then_cut(duration)}[a]")
        threads = _threads()
        args = ["-threads", str(threads), "-i", str(video), "-filter_complex", ";".join(graph),
                "-filter_complex_threads", str(threads), "-map", "[v]", "-map", "[a]",
                *_encode_args(threads)]  # fmt: skip
        _run(args, output, inputs=[video])
    return probe(output)


def fit_to_size(video: Path, output: Path, *, max_bytes: int, passes: int = 3) -> MediaInfo:
    """Re-encode ``video`` (same size, frame rate and audio) at the bit rate that keeps it under ``max_bytes``.

    Rate control overshoots a little on busy footage, so a result that is still too large is encoded again at a
    bit rate lowered in proportion, up to ``passes`` times."""
    info = probe(video)
    audio_bps = 128_000 if info.has_audio else 0
    video_bps = int(max_bytes * 8 * 0.9 / max(info.duration, 0.1)) - audio_bps  # 10 %: container, overshoot
    for _ in range(passes):
        if video_bps < MIN_FIT_VIDEO_BPS:
            break
        _encode_at(video, output, video_bps)
        size = Path(output).stat().st_size
        if size <= max_bytes:
            return probe(output)
        video_bps = int(video_bps * max_bytes / size * 0.95)
    raise ComposeError(f"a {info.duration:.1f} s video cannot be made smaller than {max_bytes} bytes")


def _encode_at(video: Path, output: Path, video_bps: int) -> None:
    threads = _threads()
    args = ["-threads", str(threads), "-i", str(video), "-map", "0:v:0", "-map", "0:a?",
            "-c:v", "libx264", "-preset", X264_PRESET, "-b:v", str(video_bps), "-maxrate", str(video_bps),
            "-bufsize", str(video_bps), "-pix_fmt", "yuv420p", "-threads", str(threads),
            "-c:a", "aac", "-b:a", AUDIO_BITRATE]  # fmt: skip
    _run(args, output, inputs=[video])


def _aspect_of(info: MediaInfo) -> str:
    return "16:9" if info.width > info.height else "9:16"


def join_chains(
    chains: list[Path], output: Path, *, crossfade: float = 0.5, aspect_ratio: str | None = None
) -> MediaInfo:
    """Join B-roll chains into one delivery-format MP4 with a ``crossfade``-second video and audio fade.

    One chain is simply normalized. With n chains the result lasts sum(durations) - crossfade * (n - 1).
    ``aspect_ratio`` defaults to the first chain's orientation. All chains are normalized inside the one
    ffmpeg graph (same size, 24 fps, 44.1 kHz stereo; silence where a chain has no audio), so there is a
    single encode. ``crossfade=0`` concatenates with hard cuts.
    """
    chains = [Path(c) for c in chains]
    if not chains:
        raise ValueError("join_chains needs at least one chain")
    if crossfade < 0:
        raise ValueError("crossfade must be >= 0")
    infos = [probe(c) for c in chains]
    aspect_ratio = aspect_ratio or _aspect_of(infos[0])
    if len(chains) == 1:
        return normalize(chains[0], output, aspect_ratio=aspect_ratio)

    w, h = _frame_size(aspect_ratio)
    # Every chain is cut to a whole number of frames so xfade offsets land exactly on frame boundaries.
    durations = [_whole_frames(i.duration) for i in infos]
    if crossfade and crossfade >= min(durations):
        shortest = min(durations)
        raise ValueError(f"crossfade {crossfade}s is not shorter than the shortest chain ({shortest:.2f}s)")

    args: list[str] = []
    threads = _threads()
    for chain in chains:
        args += ["-threads", str(threads), "-i", str(chain)]
    graph = _pieces(list(enumerate(infos)), durations, w, h, audio=True)
    graph += _crossfaded(durations, crossfade, audio=True, out="")
    args += ["-filter_complex", ";".join(graph), "-filter_complex_threads", str(threads),
             "-map", "[v]", "-map", "[a]", *_encode_args(threads)]  # fmt: skip
    _run(args, output, inputs=chains)
    return probe(output)


def _pieces(inputs: Sequence[tuple[int, MediaInfo]], durations: Sequence[float], w: int, h: int, *, audio: bool,
            tag: str = "") -> list[str]:
    """Each input (its index, its info) in the delivery format and cut to its duration, from 0, as [{tag}v{n}] and,
    with ``audio``, [{tag}a{n}] (silence where it has no sound)."""
    graph = []
    for n, ((index, info), dur) in enumerate(zip(inputs, durations, strict=True)):
        graph.append(f"[{index}:v]{_cover(w, h)},{_hold_then_cut(1.0, dur)},setpts=PTS-STARTPTS[{tag}v{n}]")
        if audio:
            source = f"[{index}:a]{_AFORMAT}" if info.has_audio else _SILENCE
            graph.append(f"{source},{_pad_then_cut(dur)},asetpts=PTS-STARTPTS[{tag}a{n}]")
    return graph


def _crossfaded(durations: Sequence[float], crossfade: float, *, audio: bool, out: str, tag: str = "") -> list[str]:
    """The pieces of ``_pieces`` one after another, each fading into the next over ``crossfade`` seconds (hard cuts
    when 0), as [{out}v] and, with ``audio``, [{out}a]. They last sum(durations) - crossfade * (n - 1)."""
    graph = []
    if crossfade > 0:
        v_prev, a_prev, elapsed = f"{tag}v0", f"{tag}a0", durations[0]
        for n in range(1, len(durations)):
            offset = elapsed - crossfade
            graph.append(
                f"[{v_prev}][{tag}v{n}]xfade=transition=fade:duration={crossfade}:offset={offset:.6f}[{tag}vx{n}]"
            )
            if audio:
                graph.append(f"[{a_prev}][{tag}a{n}]acrossfade=d={crossfade}:c1=tri:c2=tri[{tag}ax{n}]")
            v_prev, a_prev = f"{tag}vx{n}", f"{tag}ax{n}"
            elapsed = offset + durations[n]
        graph.append(f"[{v_prev}]format=yuv420p[{out}v]")
        if audio:
            graph.append(f"[{a_prev}]anull[{out}a]")
    else:
        pads = "".join(f"[{tag}v{n}]" + (f"[{tag}a{n}]" if audio else "") for n in range(len(durations)))
        outs = f"[{out}v][{out}a]" if audio else f"[{out}v]"
        graph.append(f"{pads}concat=n={len(durations)}:v=1:a={int(audio)}{outs}")
    return graph


def compose_final(
    *,
    broll: Path,
    presenter: Path | None,
    presenter_keying: Literal["alpha", "chroma"] = "alpha",
    key_color: str = "#00FF00",
    placement: Placement,
    aspect_ratio: str,
    output: Path,
    overlays: Sequence[onscreen.TextOverlay] = (),
    captions: Track | None = None,
    broll_fit: Literal["extend", "loop", "hold"] = "hold",
    scenes_seconds: float | None = None,
    crossfade: float = 0.5,
) -> MediaInfo:
    """Overlay the presenter on the B-roll and mix their audio into one delivery-format MP4.

    See the module docstring for placement, timing, keying, on-screen text and audio rules; ``broll_fit``,
    ``scenes_seconds`` and ``crossfade`` are in "Timing". ``presenter=None`` gives the B-roll alone, still normalized
    and still with an audio track (and no on-screen text). ``captions`` (made for this frame and presenter box:
    ``captions.track``) are burned in by libass, and the on-screen texts keep clear of their band.
    """
    if presenter_keying not in ("alpha", "chroma"):
        raise ValueError(f"presenter_keying must be 'alpha' or 'chroma', not {presenter_keying!r}")
    if broll_fit not in ("extend", "loop", "hold"):
        raise ValueError(f"broll_fit must be 'extend', 'loop' or 'hold', not {broll_fit!r}")
    w, h = _frame_size(aspect_ratio)
    broll = Path(broll)
    if presenter is None:
        if overlays or captions:
            raise ValueError("on-screen text and captions are drawn only when composing with a presenter")
        return normalize(broll, output, aspect_ratio=aspect_ratio)
    presenter = Path(presenter)
    key = _ffmpeg_color(key_color) if presenter_keying == "chroma" else ""

    b_info = probe(broll)
    p_info = probe(presenter)
    b_video = _video_seconds(broll, b_info)
    own = b_info.duration if scenes_seconds is None else min(b_info.duration, scenes_seconds)
    total = _whole_frames(max(own, p_info.duration))
    passes = _passes(_whole_frames(b_video), crossfade, total) if broll_fit != "hold" else 1
    box = presenter_box(w, h, p_info.width, p_info.height, placement)
    threads = _threads()

    args = ["-threads", str(threads), "-i", str(broll)]
    if presenter_keying == "alpha" and p_info.video_codec in ("vp9", "vp8"):
        # ffmpeg's native VP9/VP8 decoders drop the alpha side channel; libvpx keeps it.
        decoder = "libvpx-vp9" if p_info.video_codec == "vp9" else "libvpx"
        args += ["-c:v", decoder]
    args += ["-threads", str(threads), "-i", str(presenter)]

    # Scale the presenter straight to its box (usually a downscale) before keying: keying fewer pixels is
    # cheaper, and bilinear is visually fine for a downscale at a fraction of bicubic's cost.
    fg = f"[1:v]fps={FPS},scale={box.width}:{box.height}:flags=bilinear,setsar=1"
    if presenter_keying == "chroma":
        # colorkey on RGBA measured ~5x cheaper than chromakey on YUV for the same frames.
        fg += f",format=rgba,colorkey=color={key}:similarity={CHROMA_SIMILARITY}:blend={CHROMA_BLEND}"
        fg += ",format=yuva420p"
    else:
        fg += ",format=yuva420p"
    with tempfile.TemporaryDirectory(prefix="overlays-") as scratch:
        reserved = captions.area.box if captions and captions.captions else None
        texts = _rendered_texts(overlays, w, h, box, total, Path(scratch), reserved)
        for text in texts:
            args += ["-loop", "1", "-framerate", str(FPS), "-t", _seconds(text.end - text.start), "-i", str(text.png)]
        if passes == 1:
            hold = total - b_video + 1.0  # the B-roll holds its last frame under a longer presenter
            graph = [f"[0:v]{_cover(w, h)},{_hold_then_cut(hold, total)}[bg]"]
            broll_sound = "[0:a]"
        else:  # the B-roll again after itself, crossfaded, until it covers the presenter: inputs after the texts
            first_copy = 2 + len(texts)
            for _ in range(passes - 1):
                args += ["-threads", str(threads), "-i", str(broll)]
            inputs = [(0, b_info), *((first_copy + n, b_info) for n in range(passes - 1))]
            durations = [_whole_frames(b_video)] * passes
            graph = _pieces(inputs, durations, w, h, audio=b_info.has_audio, tag="l")
            graph += _crossfaded(durations, crossfade, audio=b_info.has_audio, out="loop", tag="l")
            graph.append(f"[loopv]{_hold_then_cut(1.0, total)}[bg]")
            broll_sound = "[loopa]"
        graph.append(f"{fg}[fg]")
        graph.append(f"[bg][fg]overlay=x={box.left}:y={box.top}:eof_action=repeat:format=yuv420[base]")
        base = "base"
        if reserved is not None:
            graph.append(f"[base]{_burn_in(captions, Path(scratch) / 'captions.ass')}[captioned]")
            base = "captioned"
        graph += _text_graph(texts, first_input=2, base=base, out="v")
        _mix_audio(graph, p_info, b_info, total, broll_sound=broll_sound)
        args += ["-filter_complex", ";".join(graph), "-filter_complex_threads", str(threads),
                 "-map", "[v]", "-map", "[a]", *_encode_args(threads)]  # fmt: skip
        _run(args, output, inputs=[broll, presenter, *(text.png for text in texts)])
    return probe(output)


def _passes(broll_seconds: float, crossfade: float, total: float) -> int:
    """How many passes of a ``broll_seconds`` B-roll, each crossfading into the next, cover ``total`` seconds. 1 (the
    last frame held) when it falls short by at most MAX_HOLD_SECONDS, or is too short to crossfade."""
    if total - broll_seconds <= MAX_HOLD_SECONDS or broll_seconds <= crossfade + 1 / FPS:
        return 1
    return math.ceil((total - crossfade) / (broll_seconds - crossfade) - 1e-9)


@dataclass(frozen=True)
class _RenderedText:
    png: Path
    box: Box
    start: float
    end: float


def _burn_in(captions: Track, path: Path) -> str:
    """The filter that draws ``captions`` (written to ``path`` as ASS) with libass, in the bundled font only."""
    captions.save(path)
    return f"ass=filename={_filter_value(path)}:fontsdir={_filter_value(onscreen.FONT_PATH.parent)}"


def _filter_value(path: Path) -> str:
    """A path as one quoted filter option value (a quote inside it closed, escaped and reopened)."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def _rendered_texts(overlays: Sequence[onscreen.TextOverlay], w: int, h: int, presenter: Box, total: float,
                    folder: Path, reserved: Box | None = None) -> list[_RenderedText]:
    """Each overlay laid out clear of the presenter, rendered to a PNG, its span cut to the video (empty: dropped)."""
    texts = []
    for n, item in enumerate(overlays):
        start, end = max(0.0, item.start), min(total, item.end)
        if end - start < 1 / FPS or not onscreen.paragraphs(item.text):
            continue
        layout = onscreen.layout_text(item.text, w, h, presenter, reserved=reserved)
        png = onscreen.render(layout, folder / f"text{n}.png")
        texts.append(_RenderedText(png, layout.box, start, end))
    return texts


def _text_graph(texts: Sequence[_RenderedText], *, first_input: int, base: str, out: str) -> list[str]:
    """Each text PNG, looped for its span only, faded in and out and overlaid only in its window."""
    graph, current = [], base
    for n, text in enumerate(texts):
        span = text.end - text.start
        fade = min(onscreen.FADE_SECONDS, span / 4)
        graph.append(
            f"[{first_input + n}:v]format=yuva420p,fade=t=in:st=0:d={fade:.3f}:alpha=1,"
            f"fade=t=out:st={span - fade:.6f}:d={fade:.3f}:alpha=1,"
            f"setpts=PTS-STARTPTS+{text.start:.6f}/TB[t{n}]"
        )
        graph.append(
            f"[{current}][t{n}]overlay=x={text.box.left}:y={text.box.top}:eof_action=pass:format=yuv420"
            f":enable='between(t,{text.start:.6f},{text.end:.6f})'[o{n}]"
        )
        current = f"o{n}"
    graph.append(f"[{current}]format=yuv420p[{out}]")
    return graph


def _mix_audio(graph: list[str], p_info: MediaInfo, b_info: MediaInfo, total: float, *,
               broll_sound: str = "[0:a]") -> None:
    """The presenter's voice over the ducked B-roll sound (``broll_sound``; or silence), cut to ``total``, as [a]."""
    voices = []
    if p_info.has_audio:
        graph.append(f"[1:a]{_AFORMAT}[pa]")
        voices.append("[pa]")
    if b_info.has_audio:
        level = BROLL_DUCK_VOLUME if p_info.has_audio else 1.0
        graph.append(f"{broll_sound}{_AFORMAT},volume={level}[ba]")
        voices.append("[ba]")
    if len(voices) == 2:
        graph.append(
            f"{''.join(voices)}amix=inputs=2:duration=longest:dropout_transition=0:normalize=0,{_pad_then_cut(total)}[a]"
        )
    elif voices:
        graph.append(f"{voices[0]}{_pad_then_cut(total)}[a]")
    else:
        graph.append(f"{_SILENCE},{_pad_then_cut(total)}[a]")


# --------------------------------------------------------------------------------------------------- poster, preview


def poster_time(duration: float) -> float:
    """Where the poster is taken: a third of the way in (past any fade-in, the presenter on screen and talking)."""
    return max(duration, 0.0) / 3


def poster(video: Path, output: Path, *, at: float) -> None:
    """One frame of ``video`` at ``at`` seconds, full size, as a JPEG (quality ``POSTER_QUALITY``: 2 best..31)."""
    args = ["-ss", _seconds(at), "-i", str(video), "-frames:v", "1", "-an", "-vf", "format=yuvj420p",
            "-c:v", "mjpeg", "-q:v", str(POSTER_QUALITY)]  # fmt: skip
    _run(args, output, inputs=[video], muxer=_JPEG)


def preview(video: Path, output: Path, *, seconds: float = PREVIEW_SECONDS) -> MediaInfo:
    """The first ``seconds`` of ``video``, silent and at half size (even sides): an H.264 MP4 for a list or a page
    to loop."""
    threads = _threads()
    args = ["-threads", str(threads), "-t", _seconds(seconds), "-i", str(video), "-an",
            "-vf", f"scale=trunc(iw/4)*2:trunc(ih/4)*2,fps={FPS},format=yuv420p",
            "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(PREVIEW_CRF), "-threads", str(threads)]  # fmt: skip
    _run(args, output, inputs=[video])
    return probe(output)
