"""Rendering: Veo-like clips (camera move, grade, text, ambient audio), extensions, and HeyGen-like presenters.

Everything goes through the static ffmpeg from imageio-ffmpeg; probing uses PyAV (there is no ffprobe).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .faults import strip_markers

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
log = logging.getLogger(__name__)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FPS = 24
EXTENSION_SECONDS = 7


class RenderError(Exception):
    pass


def ffmpeg(args: list[str], stdin=None, timeout: float = 600) -> None:
    """Run ffmpeg. `stdin` may be bytes or an iterable of byte chunks, streamed while ffmpeg encodes."""
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args]
    if stdin is None or isinstance(stdin, (bytes, bytearray)):
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        rc, err = proc.returncode, proc.stderr
    else:
        with tempfile.TemporaryFile() as errf:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errf)
            try:
                for chunk in stdin:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            rc = proc.wait(timeout)
            errf.seek(0)
            err = errf.read()
    if rc != 0:
        raise RenderError(f"ffmpeg failed ({rc}): {err.decode(errors='replace')[-1500:]}")


# -- probing ----------------------------------------------------------------------------------------

@dataclass
class Probe:
    format_name: str
    duration: float
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None


def probe(path) -> Probe:
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise RenderError("no video stream")
            v = c.streams.video[0]
            fps = float(v.average_rate or v.guessed_rate or 0)
            if v.duration is not None and v.time_base is not None:
                duration = float(v.duration * v.time_base)
            else:
                duration = (c.duration or 0) / 1e6
            frames = v.frames or int(round(duration * fps))
            a = c.streams.audio[0] if c.streams.audio else None
            return Probe(c.format.name, duration, v.codec_context.width, v.codec_context.height, fps, frames,
                         v.codec_context.name, a is not None, a.codec_context.name if a else None)
    except RenderError:
        raise
    except Exception as exc:  # av.error.* and friends
        raise RenderError(f"cannot read the video: {exc}") from None


def probe_bytes(data: bytes) -> Probe:
    with tempfile.NamedTemporaryFile(suffix=".bin") as fh:
        fh.write(data)
        fh.flush()
        return probe(fh.name)


# -- prompt interpretation ----------------------------------------------------------------------------

def frame_size(aspect_ratio: str, resolution: str = "720p") -> tuple[int, int]:
    short = 1080 if resolution == "1080p" else 720
    long_ = short * 16 // 9
    return (short, long_) if aspect_ratio == "9:16" else (long_, short)


def camera_move(prompt: str) -> str:
    p = (prompt or "").lower()
    if re.search(r"\b360\b|rotat|orbit|spin|turntable|revolv", p):
        return "rotate"
    if re.search(r"zoom(s|ing)? out|pull(s|ing)? (out|back)|dolly(-| )?out", p):
        return "zoom_out"
    if re.search(r"zoom(s|ing)? in|push(es|ing)?(-| )in|dolly(-| )?in|close(-| )?up", p):
        return "zoom_in"
    if re.search(r"pan(s|ning)? (to the )?left|truck(s|ing)? left", p):
        return "pan_left"
    if re.search(r"pan(s|ning)? (to the )?right|truck(s|ing)? right|\bpan", p):
        return "pan_right"
    return "zoom_in"


def scene_text(prompt: str, max_chars: int = 60) -> str:
    """The on-screen text the prompt asks for (`on-screen text: "..."`), else its first segment."""
    text = strip_markers(prompt or "")
    quoted = re.search(r'on-screen text:\s*"([^"]+)"', text)
    if quoted:
        return quoted.group(1)[:max_chars]
    first = next((s.strip() for s in re.split(r"[.|;\n]|\s[-\u2013\u2014]\s", text) if s.strip()), "")
    if len(first) > max_chars:
        first = first[:max_chars].rsplit(" ", 1)[0].rstrip(",:") + "\u2026"
    return first


def wrap(text: str, width: int) -> str:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


# -- Veo-like clips -----------------------------------------------------------------------------------

def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    return ImageOps.fit(img.convert("RGB"), size, Image.LANCZOS)


def placeholder_image(prompt: str, size: tuple[int, int]) -> Image.Image:
    """A product-ish still for text-to-video: a gradient with a soft object in the middle."""
    w, h = size
    seed = sum(map(ord, prompt or "veo")) % 360
    y = np.linspace(0, 1, h)[:, None]
    x = np.linspace(0, 1, w)[None, :]
    hue = seed / 360
    ones = np.ones((h, w))
    base = np.stack([ones * (0.35 + 0.3 * np.sin(2 * np.pi * (hue + 0.0) + y * 2)),
                     ones * (0.35 + 0.3 * np.sin(2 * np.pi * (hue + 0.33) + x * 2)),
                     ones * (0.45 + 0.3 * np.sin(2 * np.pi * (hue + 0.66) + (x + y)))], axis=-1)
    img = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    r = min(w, h) // 4
    d.ellipse((w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r), fill=(235, 235, 240), outline=(40, 40, 50), width=6)
    d.ellipse((w // 2 - r // 2, h // 2 - r // 2, w // 2 + r // 2, h // 2 + r // 2), fill=(60, 60, 70))
    return img


def grade_image(img: Image.Image, prompt: str) -> Image.Image:
    """The mood as a colour grade, applied once to the source still."""
    p = (prompt or "").lower()
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if re.search(r"premium|dramatic|luxur|moody|cinematic|elegant|noir|\bdark", p):
        arr = np.clip((arr - 0.5) * 1.25 + 0.5 - 0.04, 0, 1)
        grey = arr.mean(axis=2, keepdims=True)
        arr = grey + (arr - grey) * 0.85
        hh, ww = arr.shape[:2]
        yy, xx = np.ogrid[-1:1:complex(0, hh), -1:1:complex(0, ww)]
        arr = arr * (1 - 0.35 * np.clip((xx ** 2 + yy ** 2) / 2, 0, 1))[..., None]
    if re.search(r"bright|vibrant|energetic|cheerful|fresh|playful|airy|sunny", p):
        grey = arr.mean(axis=2, keepdims=True)
        arr = grey + (arr - grey) * 1.3 + 0.07
    if re.search(r"warm|golden|sunset|cozy|cosy|amber", p):
        arr = arr * np.array([1.12, 1.02, 0.86], np.float32)
    elif re.search(r"\bcool|\bcold|\bblue|icy|winter|clinical|futuristic|tech", p):
        arr = arr * np.array([0.88, 1.0, 1.14], np.float32)
    return Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8), "RGB")


def text_layer(text: str, w: int, h: int) -> tuple[Image.Image, Image.Image, tuple[int, int]] | None:
    """The scene text as an RGB patch, its mask and its position (top centre)."""
    if not text:
        return None
    from PIL import ImageFont
    size = max(28, w // 18 if w < h else h // 14)
    font = ImageFont.truetype(FONT, size)
    lines = wrap(text, 22 if w < h else 38)
    probe_draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe_draw.multiline_textbbox((0, 0), lines, font=font, spacing=size // 4,
                                                             align="center", stroke_width=3)
    left, top, right, bottom = int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom))
    tw, th = right - left + 8, bottom - top + 8
    mask = Image.new("L", (tw, th), 0)
    rgb = Image.new("RGB", (tw, th), (0, 0, 0))
    ImageDraw.Draw(mask).multiline_text((4 - left, 4 - top), lines, font=font, fill=255, spacing=size // 4,
                                        align="center", stroke_width=3, stroke_fill=255)
    ImageDraw.Draw(rgb).multiline_text((4 - left, 4 - top), lines, font=font, fill=(255, 255, 255), spacing=size // 4,
                                       align="center", stroke_width=3, stroke_fill=(0, 0, 0))
    return rgb, mask, ((w - tw) // 2, int(h * 0.1))


def ambient(duration: float, rate: int = 48000) -> np.ndarray:
    """A quiet two-tone pad, stereo float32 (frames, 2)."""
    t = np.arange(int(round(duration * rate)), dtype=np.float32) / rate
    left = 0.04 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)) \
        + 0.025 * np.sin(2 * np.pi * 330 * t)
    right = 0.04 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t)) \
        + 0.025 * np.sin(2 * np.pi * 277 * t)
    fade = np.minimum(1, np.minimum(t / 0.3, (duration - t) / 0.3)).clip(0, 1)
    return np.stack([left * fade, right * fade], axis=1)


def write_wav(path: Path, audio: np.ndarray, rate: int = 24000) -> None:
    audio = audio if audio.ndim == 2 else audio[:, None]
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(audio.shape[1])
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.tobytes())


# ultrafast: about half of veryfast's CPU (a sandbox needs no compression efficiency), and no B-frames, so
# segments join cleanly. Every sandbox H.264 stream is encoded with exactly these settings, so an extension can
# append a freshly encoded segment to its input without re-encoding it (see render_extension).
_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", str(FPS)]
_AAC = ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]


def _move_filter(move: str, n: int, w: int, h: int) -> str:
    """The camera move as ffmpeg filters over ONE yuv420p frame of the still (>= 1.3x the
    frame, aspect w:h); the chain loops it itself and outputs w x h frames. p = n/(frames-1) runs 0 -> 1."""
    p = f"(n/{max(1, n - 1)})"
    loop = "loop=loop=-1:size=1:start=0"
    if move in ("zoom_in", "zoom_out"):  # a 1/z view of the still, z 1 -> 1.3 (in) or 1.3 -> 1 (out)
        z = f"(1+0.3*{p})" if move == "zoom_in" else f"(1.3-0.3*{p})"
        z = z.replace("n/", "on/")  # zoompan's output frame number
        return f"{loop},zoompan=z='{z}':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s={w}x{h}:fps={FPS}"
    if move in ("pan_left", "pan_right"):  # a fixed 1/1.25 view sliding across: scale once, then crop per frame
        cw, ch = _even(w * 1.25), _even(h * 1.25)
        span = cw - w
        x = f"{span}*(1-{p})" if move == "pan_left" else f"{span}*{p}"
        return f"scale={cw}:{ch}:flags=bicubic,{loop},crop={w}:{h}:x='{x}':y={(ch - h) // 2}"
    # rotate: a 1/1.55 view turning through 60 degrees
    return (f"scale={_even(w * 1.55)}:{_even(h * 1.55)}:flags=bicubic,{loop},"
            f"rotate=a='PI/3*{p}':ow={w}:oh={h}:bilinear=0")


def _render_segment(out: Path, tmp: Path, still: Image.Image, move: str, n: int, w: int, h: int, text: str,
                    wav: Path | None) -> None:
    """Encode n frames of a camera move over `still` (graded, aspect w:h, >= 1.3x the frame) with a fading title.

    All per-frame work happens in ffmpeg filters: the still is converted to yuv420p once and looped. The scene
    text is a title that fades out a second before the clip ends, so the last frame (which an extension
    continues from) carries no text to be doubled by the next scene's title.
    """
    sw, sh = still.size
    (tmp / "still.rgb").write_bytes(still.convert("RGB").tobytes())
    inputs = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{sw}x{sh}", "-i", str(tmp / "still.rgb")]
    graph = f"[0:v]format=yuv420p,{_move_filter(move, n, w, h)},setpts=N/{FPS}/TB,setsar=1"
    layer = text_layer(text, w, h)
    fade_end = max(1, n - FPS)
    fade_start = max(0, fade_end - FPS // 2)
    if layer:
        rgb, mask, (tx, ty) = layer
        rgba = rgb.copy()
        rgba.putalpha(mask)
        (tmp / "text.rgba").write_bytes(rgba.tobytes())
        inputs += ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{rgba.width}x{rgba.height}",
                   "-i", str(tmp / "text.rgba")]
        fade = f",fade=t=out:s={fade_start}:n={fade_end - fade_start}:alpha=1" if fade_end > fade_start else ""
        graph += (f"[bg];[1:v]format=yuva420p,loop=loop={fade_end - 1}:size=1:start=0,setpts=N/{FPS}/TB{fade}[txt];"
                  f"[bg][txt]overlay=x={tx}:y={ty}:eof_action=pass:format=yuv420[v]")
    else:
        graph += "[v]"
    maps = ["-map", "[v]"]
    if wav is not None:
        maps += ["-map", f"{2 if layer else 1}:a"] + _AAC
        inputs += ["-i", str(wav)]
    else:
        maps += ["-an"]
    ffmpeg(inputs + ["-filter_complex", graph] + maps + _X264 + ["-frames:v", str(n), "-movflags", "+faststart",
                                                                 str(out)])


def render_clip(out: Path, *, prompt: str, image_bytes: bytes | None, duration: int, aspect_ratio: str,
                resolution: str = "720p", audio: bool = True) -> Path:
    """A Veo-like clip: camera move over the image (or a placeholder), grade, scene text, ambient audio."""
    w, h = frame_size(aspect_ratio, resolution)
    n = int(duration * FPS)
    if image_bytes:
        try:
            img = Image.open(io.BytesIO(image_bytes))
            img.load()
        except Exception as exc:
            raise RenderError(f"cannot decode the input image: {exc}") from None
    else:
        img = placeholder_image(prompt, (w, h))
    still = grade_image(_cover(img, (int(w * 1.3) // 2 * 2, int(h * 1.3) // 2 * 2)), prompt)
    with tempfile.TemporaryDirectory(prefix="sbx-veo-") as t:
        tmp = Path(t)
        wav = None
        if audio:
            wav = tmp / "amb.wav"
            write_wav(wav, ambient(duration), 48000)
        _render_segment(Path(out), tmp, still, camera_move(prompt), n, w, h, scene_text(prompt), wav)
    return out


@dataclass
class _StreamInfo:
    """What must be identical for two H.264 MP4 segments to be joined with `-c copy`."""
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    profile: str | None
    level: int
    rate: object
    time_base: object
    extradata: bytes
    has_b_frames: int
    frames: int
    start_pts: int | None


def _stream_info(path: Path) -> _StreamInfo:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        cc = v.codec_context
        frames, first = 0, None
        for pkt in c.demux(v):  # demux only: cheap
            if pkt.size:
                frames += 1
                if first is None:
                    first = pkt.pts
        return _StreamInfo(cc.name, cc.width, cc.height, cc.pix_fmt, cc.profile, cc.level, v.average_rate,
                           v.time_base, bytes(cc.extradata or b""), cc.has_b_frames, frames, first)


def _joinable(a: _StreamInfo, b: _StreamInfo) -> bool:
    return (a.codec == b.codec == "h264" and (a.width, a.height) == (b.width, b.height) and a.pix_fmt == b.pix_fmt
            and a.profile == b.profile and a.level == b.level and a.rate == b.rate == FPS
            and a.time_base == b.time_base and bool(a.extradata) and a.extradata == b.extradata
            and a.has_b_frames == b.has_b_frames == 0 and a.start_pts == b.start_pts == 0)


def check_playback(path: Path, frames: int, duration: float, has_audio: bool, full: bool = False,
                   from_seconds: float | None = None) -> None:
    """Raise RenderError unless `path` plays straight through: `frames` video frames at 24 fps with strictly
    increasing, gap-free timestamps, the expected duration and (if `has_audio`) gap-free audio covering it.

    Packets are checked by demuxing (cheap); frames are decoded from `from_seconds` on (a join), or all if `full`.
    """
    try:
        with av.open(str(path)) as c:
            v = c.streams.video[0]
            a = c.streams.audio[0] if c.streams.audio else None
            if bool(a) != has_audio:
                raise RenderError("audio stream missing or unexpected")
            vts, a_end, a_gap = [], None, 0.0
            for pkt in c.demux(*([v, a] if a else [v])):
                if pkt.size == 0 or pkt.pts is None:
                    continue
                if pkt.stream is v:
                    vts.append(pkt.pts)
                else:
                    start = float(pkt.pts * pkt.time_base)
                    if a_end is not None:
                        a_gap = max(a_gap, abs(start - a_end))
                    a_end = start + float(pkt.duration * pkt.time_base)
            if len(vts) != frames:
                raise RenderError(f"expected {frames} video frames, found {len(vts)}")
            step = round(1 / (FPS * v.time_base))
            if vts[0] != 0 or any(y - x != step for x, y in zip(vts, vts[1:], strict=False)):
                raise RenderError("video timestamps are not a gap-free, increasing 24 fps sequence")
            got = float((vts[-1] + step) * v.time_base)
            if abs(got - duration) > 0.5 / FPS:
                raise RenderError(f"video lasts {got:.3f} s, expected {duration:.3f} s")
            if a is not None and (a_gap > 0.002 or a_end is None or a_end < duration - 0.05):
                raise RenderError(f"audio is not continuous (largest gap {a_gap:.4f} s, ends at {a_end})")
            if full or from_seconds is not None:
                target = 0 if full else from_seconds
                c.seek(int(target / v.time_base), stream=v, backward=True)
                last, decoded = None, 0
                for frame in c.decode(v):
                    if (frame.width, frame.height) != (v.codec_context.width, v.codec_context.height) \
                            or frame.pts is None or (last is not None and frame.pts <= last):
                        raise RenderError("decoded frames are out of order or malformed")
                    last, decoded = frame.pts, decoded + 1
                    if not full and frame.pts * v.time_base >= from_seconds + 0.5:
                        break
                if full and decoded != frames:
                    raise RenderError(f"decoded {decoded} of {frames} frames")
                if not full and (last is None or last * v.time_base < from_seconds):
                    raise RenderError("the frames after the join do not decode")
    except RenderError:
        raise
    except Exception as exc:  # av.error.*
        raise RenderError(f"the video does not decode: {exc}") from None


def render_extension(out: Path, *, input_bytes: bytes, prompt: str, seconds: int = EXTENSION_SECONDS) -> Path:
    """The input video followed by `seconds` more, continuing from its last frame, in one MP4.

    Only the new seconds are encoded. When the input is a sandbox render (same size, rate, pixel format, H.264
    profile/level, time base and byte-identical parameter sets) the two video streams are joined with the concat
    demuxer and `-c copy`; the audio (cheap) is re-encoded over the whole length so it stays gap-free with a
    single AAC priming delay. Any other input (e.g. a user's own MP4) is re-encoded as before.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="sbx-ext-") as t:
        tmp = Path(t)
        src = tmp / "in.mp4"
        src.write_bytes(input_bytes)
        info = probe(src)
        w, h = info.width - info.width % 2, info.height - info.height % 2
        din = info.frames / FPS if info.frames else info.duration
        ffmpeg(["-sseof", "-1", "-i", str(src), "-vf", f"scale={w}:{h}", "-update", "1", str(tmp / "last.png")])
        last = Image.open(tmp / "last.png").convert("RGB")
        still = last.resize((int(w * 1.3) // 2 * 2, int(h * 1.3) // 2 * 2), Image.BICUBIC)
        n = seconds * FPS
        move = camera_move(prompt) if prompt else "zoom_in"
        seg = tmp / "seg.mp4"
        _render_segment(seg, tmp, still, move, n, w, h, scene_text(prompt) if prompt else "", None)
        wav = tmp / "amb.wav"
        if info.has_audio:
            write_wav(wav, ambient(seconds), 48000)

        def audio_graph(a: int, b: int) -> str:  # the input's audio fitted to its video, then the ambience
            return (f"[{a}:a]aresample=48000,aformat=channel_layouts=stereo,apad,atrim=duration={din:.4f}[aa];"
                    f"[{b}:a]aformat=channel_layouts=stereo[ba];[aa][ba]concat=n=2:v=0:a=1[a]")

        src_info, seg_info = _stream_info(src), _stream_info(seg)
        if _joinable(src_info, seg_info) and abs(src_info.frames / FPS - din) < 0.5 / FPS:
            din = src_info.frames / FPS
            lst = tmp / "list.txt"
            # inpoint 0: keep the input's video timestamps as they are (its AAC priming would otherwise shift them)
            lst.write_text(f"file '{src}'\ninpoint 0\nduration {din:.6f}\nfile '{seg}'\n")
            args = ["-f", "concat", "-safe", "0", "-i", str(lst)]
            if info.has_audio:
                args += ["-i", str(src), "-i", str(wav), "-filter_complex", audio_graph(1, 2),
                         "-map", "0:v", "-map", "[a]"] + _AAC
            else:
                args += ["-map", "0:v", "-an"]
            ffmpeg(args + ["-c:v", "copy", "-movflags", "+faststart", str(out)])
            try:
                check_playback(out, src_info.frames + n, din + seconds, info.has_audio, from_seconds=din)
                return out
            except RenderError as exc:  # not expected; but never hand out a broken join
                log.warning("copy-joined extension failed its check (%s); re-encoding", exc)

        # Fallback: re-encode the input (normalised to w x h at 24 fps) followed by the new segment.
        graph = (f"[0:v]fps={FPS},scale={w}:{h},setsar=1,trim=duration={din:.4f},format=yuv420p[av];"
                 f"[1:v]setsar=1,format=yuv420p[bv];")
        args = ["-i", str(src), "-i", str(seg)]
        if info.has_audio:
            args += ["-i", str(wav)]
            graph += audio_graph(0, 2) + ";[av][bv]concat=n=2:v=1:a=0[v]"
            maps = ["-map", "[v]", "-map", "[a]"] + _AAC
        else:
            graph += "[av][bv]concat=n=2:v=1:a=0[v]"
            maps = ["-map", "[v]", "-an"]
        ffmpeg(args + ["-filter_complex", graph] + maps + _X264 + ["-movflags", "+faststart", str(out)])
    return out


# -- text to speech ----------------------------------------------------------------------------------

_tts = None
_tts_lock = threading.Lock()
SAMPLE_RATE = 24000


@functools.lru_cache(maxsize=32)
def _speak_cached(text: str, speed: float) -> np.ndarray:
    audio = np.array(_synthesise(text, speed), dtype=np.float32)
    audio.setflags(write=False)
    return audio


def speak(text: str, speed: float = 1.0) -> np.ndarray:
    """Offline neural TTS, memoised per (text, speed): the model is seeded, so a repeat is identical."""
    return _speak_cached(text, float(speed))


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_AUDIBLE = 0.02  # |sample| above which the speech is taken to have started (float32 at full scale 1.0)


def speak_timed(text: str, speed: float = 1.0) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The text spoken sentence by sentence, and each sentence's (start, end, text) in that audio, from its first
    audible sample to its last: the timings of the sandbox's subtitle file, taken from its own speech."""
    parts, cues, at = [], [], 0
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        audio = speak(sentence, speed)
        audible = np.flatnonzero(np.abs(audio) > _AUDIBLE)
        first, last = (audible[0], audible[-1] + 1) if len(audible) else (0, len(audio))
        cues.append((float(at + first) / SAMPLE_RATE, float(at + last) / SAMPLE_RATE, sentence))
        parts.append(audio)
        at += len(audio)
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), cues


def _synthesise(text: str, speed: float = 1.0) -> np.ndarray:
    """Offline neural TTS (hibari-tts, voice 'heart' shipped in the wheel): float32 mono at 24 kHz."""
    global _tts
    with _tts_lock:
        if _tts is None:
            from hibari import Hibari
            _tts = Hibari()
        audio = _tts(text, speed=speed, seed=7)
    return np.asarray(audio, dtype=np.float32)


def mouth_levels(audio: np.ndarray, frames: int, levels: int = 6) -> list[int]:
    per = SAMPLE_RATE // FPS
    out = []
    padded = np.zeros(frames * per, np.float32)
    padded[: min(len(audio), len(padded))] = audio[: len(padded)]
    rms = np.sqrt(np.mean(padded.reshape(frames, per) ** 2, axis=1))
    ref = np.percentile(rms[rms > 1e-4], 90) if np.any(rms > 1e-4) else 1.0
    for r in rms:
        out.append(int(round(min(1.0, r / ref) * (levels - 1))) if r > 0.01 * ref else 0)
    return out


# -- presenter -----------------------------------------------------------------------------------------

@dataclass
class Look:
    skin: tuple = (224, 180, 150)
    hair: tuple = (60, 40, 30)
    shirt: tuple = (40, 70, 130)
    backdrop: tuple | None = None  # None = matted (transparent around the figure)


def draw_figure(fw: int, fh: int, look: Look) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A head-and-shoulders figure (RGBA). Returns the image and the mouth box (x, y, w, h) inside it."""
    s = 2
    W, H = fw * s, fh * s
    img = Image.new("RGBA", (W, H), (*look.backdrop, 255) if look.backdrop else (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    P = lambda x0, y0, x1, y1: (int(x0 * W), int(y0 * H), int(x1 * W), int(y1 * H))  # noqa: E731
    d.ellipse(P(0.04, 0.70, 0.96, 1.45), fill=(*look.shirt, 255))
    d.polygon([(int(0.42 * W), int(0.70 * H)), (int(0.58 * W), int(0.70 * H)), (int(0.5 * W), int(0.80 * H))],
              fill=(*look.skin, 255))
    d.rectangle(P(0.42, 0.52, 0.58, 0.72), fill=(*look.skin, 255))
    d.ellipse(P(0.27, 0.12, 0.73, 0.44), fill=(*look.hair, 255))
    d.ellipse(P(0.30, 0.19, 0.70, 0.62), fill=(*look.skin, 255))
    for ex in (0.42, 0.58):
        d.ellipse(P(ex - 0.025, 0.365, ex + 0.025, 0.395), fill=(255, 255, 255, 255))
        d.ellipse(P(ex - 0.012, 0.369, ex + 0.012, 0.391), fill=(40, 30, 30, 255))
    d.arc(P(0.46, 0.40, 0.54, 0.47), 200, 340, fill=(150, 100, 80, 255), width=max(2, W // 200))
    img = img.resize((fw, fh), Image.LANCZOS)
    mw, mh = _even(0.14 * fw), _even(0.07 * fh)
    mx, my = _even(0.5 * fw - mw / 2), _even(0.535 * fh - mh / 2)
    return img, (mx, my, mw, mh)


def mouth_sprites(mw: int, mh: int, look: Look, levels: int = 6) -> list[bytes]:
    out = []
    for lv in range(levels):
        im = Image.new("RGBA", (mw, mh), (*look.skin, 255))
        d = ImageDraw.Draw(im)
        open_h = max(2, int(mh * 0.9 * lv / (levels - 1)))
        top = (mh - open_h) // 2
        d.ellipse((int(mw * 0.12), top, int(mw * 0.88), top + open_h), fill=(110, 40, 45, 255),
                  outline=(150, 80, 70, 255), width=2)
        if lv >= 3:
            d.rectangle((int(mw * 0.3), top + 1, int(mw * 0.7), top + max(2, open_h // 5)), fill=(245, 245, 245, 255))
        out.append(im.tobytes())
    return out


def _even(v: float) -> int:
    return int(v) // 2 * 2


def hex_to_ffmpeg(color: str) -> str:
    return "0x" + color.lstrip("#")


@dataclass
class PresenterResult:
    path: Path
    duration: float
    cues: list[tuple[float, float, str]]  # each sentence's (start, end, text) in the speech, as its SRT says


def render_presenter(out: Path, *, script: str, speed: float, canvas: tuple[int, int], look: Look,
                     fmt: str = "mp4", background: dict | None = None, scale: float | None = None,
                     offset: tuple[float, float] = (0.0, 0.0)) -> PresenterResult:
    """Render a talking presenter.

    fmt 'webm': VP9 + alpha (yuva420p) with Opus; the figure opaque, everything else transparent.
    fmt 'mp4': H.264 + AAC over `background`: {'type': 'color', 'value': '#RRGGBB'} or
    {'type': 'video', 'path': Path, 'play_style': ...}. `scale`/`offset` place the figure (v2 semantics).
    """
    W, H = canvas
    text = strip_markers(script)
    audio, cues = speak_timed(text, speed=speed)
    frames = int(math.ceil(len(audio) / (SAMPLE_RATE / FPS))) + FPS // 4
    duration = frames / FPS
    padded = np.zeros(int(round(duration * SAMPLE_RATE)), np.float32)
    padded[: len(audio)] = audio[: len(padded)]
    levels = mouth_levels(audio, frames)

    if scale is None:
        fh = _even(min(0.72 * H, 0.9 * W / 0.75))
        fw = _even(0.75 * fh)
        fx, fy = _even((W - fw) / 2), H - fh
    else:
        # HeyGen does not document `offset`; read as the avatar centre's shift from the canvas centre in canvas
        # fractions, and `scale` as the avatar's share of the canvas height.
        fh = _even(max(64, min(4096, H * scale)))
        fw = _even(0.75 * fh)
        fx = _even(W / 2 - fw / 2 + offset[0] * W)
        fy = _even(H / 2 - fh / 2 + offset[1] * H)
    fig, (mx, my, mw, mh) = draw_figure(fw, fh, look)
    sprites = mouth_sprites(mw, mh, look)
    stream = b"".join(sprites[lv] for lv in levels)

    bg = background or {"type": "color", "value": "#EDEDED"}
    vp9 = ["-r", str(FPS), "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-b:v", "0", "-crf", "35",
           "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-auto-alt-ref", "0", "-lag-in-frames", "0",
           "-c:a", "libopus", "-b:a", "96k", "-ar", "48000"]
    h264 = _X264 + ["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]
    with tempfile.TemporaryDirectory(prefix="sbx-pres-") as t:
        tmp = Path(t)
        write_wav(tmp / "speech.wav", padded, SAMPLE_RATE)
        mouth = ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{mw}x{mh}", "-r", str(FPS), "-i", "pipe:0"]
        if fmt == "webm" or bg.get("type") != "video":
            # A static backdrop: compose the figure onto the whole canvas once (transparent for webm, the colour
            # for mp4), convert it to YUV once and loop it; per frame only the small mouth sprite is overlaid.
            if fmt == "webm":
                base = Image.new("RGBA", (W, H), (0, 0, 0, 0))
            else:
                color = (bg.get("value") or "#EDEDED").lstrip("#")
                base = Image.new("RGBA", (W, H), tuple(int(color[i:i + 2], 16) for i in (0, 2, 4)) + (255,))
            if 0 <= fx and 0 <= fy and fx + fw <= W and fy + fh <= H:
                base.alpha_composite(fig, (fx, fy))
            else:  # partly off the canvas (v2 scale/offset)
                base.paste(fig, (fx, fy), fig)
            (tmp / "base.rgba").write_bytes(base.tobytes())
            pix = "yuva420p" if fmt == "webm" else "yuv420p"
            args = ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{W}x{H}", "-i", str(tmp / "base.rgba"), *mouth,
                    "-i", str(tmp / "speech.wav")]
            graph = (f"[0:v]format={pix},loop=loop=-1:size=1:start=0,setpts=N/{FPS}/TB[base];"
                     f"[1:v]format=yuva420p[m];[base][m]overlay=x={fx + mx}:y={fy + my}:format=yuv420"
                     f":shortest=1:eof_action=endall,format={pix}[v]")
            enc = vp9 if fmt == "webm" else h264
        else:
            fig.save(tmp / "figure.png", compress_level=1)
            args = ["-i", str(tmp / "figure.png"), *mouth, "-i", str(tmp / "speech.wav")]
            graph = (f"[0:v]loop=loop=-1:size=1:start=0,setpts=N/{FPS}/TB,format=rgba[fig];"
                     f"[fig][1:v]overlay=x={mx}:y={my}:shortest=1:eof_action=endall,format=rgba[figm];")
            play = bg.get("play_style") or "loop"
            bg_info = probe(bg["path"])
            if play == "loop":
                args += ["-stream_loop", "-1"]
            args += ["-i", str(bg["path"])]
            chain = f"[3:v]fps={FPS},scale={W}:{H}:force_original_aspect_ratio=increase,crop={W}:{H},setsar=1"
            if play == "fit_to_scene" and bg_info.duration > 0:
                chain += f",setpts=PTS*{duration / bg_info.duration:.5f},fps={FPS}"
            if play != "loop":
                chain += ",tpad=stop_mode=clone:stop=-1"
            graph += chain + "[bg];"
            graph += f"[bg][figm]overlay=x={fx}:y={fy}:shortest=1:eof_action=endall,format=yuv420p[v]"
            enc = h264
        args += ["-filter_complex", graph, "-map", "[v]", "-map", "2:a"] + enc
        args += ["-frames:v", str(frames), "-t", f"{duration:.3f}", str(out)]
        ffmpeg(args, stdin=stream)
    return PresenterResult(Path(out), duration, cues)


def concat_mp4(parts: list[Path], out: Path) -> Path:
    if len(parts) == 1:
        Path(out).write_bytes(Path(parts[0]).read_bytes())
        return out
    with tempfile.TemporaryDirectory(prefix="sbx-cat-") as t:
        lst = Path(t) / "list.txt"
        lst.write_text("".join(f"file '{p}'\n" for p in parts))
        ffmpeg(["-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-movflags", "+faststart", str(out)])
    return out


def write_srt(path: Path, cues: list[tuple[float, float, str]]) -> None:
    """A SubRip file of the cues, numbered from 1 (what HeyGen's `subtitle_url` serves)."""
    def ts(s: float) -> str:
        ms = int(round(s * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
    Path(path).write_text("".join(f"{n}\n{ts(start)} --> {ts(end)}\n{text}\n\n"
                                  for n, (start, end, text) in enumerate(cues, start=1)))
