"""Small, fast test media made with the imageio-ffmpeg binary.

Everything is solid colour so tests can check pixels after decoding (a B-roll can be a moving test pattern instead):

- ``make_broll``: a Veo-like H.264 MP4 (24 fps) of one colour, with an optional 220 Hz tone.
- ``make_presenter``: a HeyGen-like presenter whose "person" is a solid box (default magenta) covering the
  middle half of the frame (``PRESENTER_BODY``). Around it is either real transparency (``kind="alpha"``,
  VP9 WebM with ``alpha_mode=1``) or the key colour (``kind="chroma"``, H.264 MP4 on e.g. #00FF00).
- ``make_corrupt``: a file with an .mp4 name that is not a video.
- ``frame_at``: decode one frame (RGB numpy array) at a given time with PyAV.
- ``longest_still``: the longest stretch (seconds) over which a video's frames do not change.

Each call takes well under a second for a few seconds of media.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FRAME_SIZES = {"9:16": (720, 1280), "16:9": (1280, 720)}

# The presenter's opaque "body": (left, top, right, bottom) as fractions of the presenter frame.
PRESENTER_BODY = (0.25, 0.25, 0.75, 0.75)


def ffmpeg(*args: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr[-2000:]}")


def _hex(color: str) -> str:
    """'#FF00FF' -> '0xFF00FF' (ffmpeg colour syntax)."""
    return "0x" + color.lstrip("#").upper()


def make_broll(
    path: Path,
    seconds: float,
    aspect_ratio: str = "9:16",
    color: str = "#0000FF",
    with_audio: bool = True,
    *,
    size: tuple[int, int] | None = None,
    fps: int = 24,
    moving: bool = False,
) -> Path:
    """A solid-colour H.264 MP4 like a Veo clip (default 720p at the given aspect ratio, 24 fps); ``moving``: ffmpeg's
    ``testsrc2`` pattern instead, whose every frame differs from the one before (``color`` is then unused)."""
    path = Path(path)
    w, h = size or FRAME_SIZES[aspect_ratio]
    source = "testsrc2=" if moving else f"color=c={_hex(color)}:"
    args = ["-f", "lavfi", "-i", f"{source}s={w}x{h}:r={fps}:d={seconds}"]
    if with_audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=44100:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-t", str(seconds)]
    if with_audio:
        args += ["-c:a", "aac", "-ac", "2"]
    ffmpeg(*args, "-f", "mp4", str(path))
    return path


def make_presenter(
    path: Path,
    seconds: float,
    kind: str = "alpha",
    key_color: str = "#00FF00",
    *,
    color: str = "#FF00FF",
    size: tuple[int, int] = (360, 640),
    with_audio: bool = True,
    fps: int = 25,
) -> Path:
    """A presenter video: a solid ``color`` box (PRESENTER_BODY) on transparency or on ``key_color``.

    kind="alpha"  -> VP9 WebM with an alpha channel (yuva420p, like HeyGen's transparent export), Opus audio.
    kind="chroma" -> H.264 MP4 on a solid key colour, AAC audio.
    HeyGen renders at 25 fps, so that is the default here too.
    """
    if kind not in ("alpha", "chroma"):
        raise ValueError(f"kind must be 'alpha' or 'chroma', not {kind!r}")
    path = Path(path)
    w, h = size
    left, top, right, bottom = PRESENTER_BODY
    bx, by = int(w * left), int(h * top)
    bw, bh = int(w * (right - left)), int(h * (bottom - top))
    if kind == "alpha":
        source = f"color=c=black@0.0:s={w}x{h}:r={fps}:d={seconds},format=yuva420p"
        box = f"drawbox=x={bx}:y={by}:w={bw}:h={bh}:color={_hex(color)}@1.0:t=fill:replace=1"
    else:
        source = f"color=c={_hex(key_color)}:s={w}x{h}:r={fps}:d={seconds}"
        box = f"drawbox=x={bx}:y={by}:w={bw}:h={bh}:color={_hex(color)}:t=fill"
    args = ["-f", "lavfi", "-i", f"{source},{box}"]
    if with_audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    if kind == "alpha":
        args += [
            "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-b:v", "0", "-crf", "35",
            "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0",
        ]  # fmt: skip
        if with_audio:
            args += ["-c:a", "libopus", "-b:a", "64k"]
        args += ["-t", str(seconds), "-f", "webm"]
    else:
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if with_audio:
            args += ["-c:a", "aac", "-ac", "2"]
        args += ["-t", str(seconds), "-f", "mp4"]
    ffmpeg(*args, str(path))
    return path


def make_corrupt(path: Path) -> Path:
    """A file named like a video that holds no decodable media (a truncated MP4 header plus junk)."""
    path = Path(path)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xde\xad\xbe\xef" * 4096)
    return path


def longest_still(path: Path, *, tolerance: float = 0.3) -> float:
    """Seconds of the longest stretch over which the video does not change: consecutive frames (decoded by the
    imageio-ffmpeg binary, grey and scaled down) whose mean absolute difference is at most ``tolerance`` (of 255)
    count as identical. (A held frame, re-encoded, differs from the one before by about 0.1; consecutive frames of
    make_broll's moving pattern by 0.8 or more.)"""
    import numpy as np

    side = 160  # every frame squeezed to side x side: enough to see any change, little to compare
    frames = imageio_ffmpeg.read_frames(str(path), pix_fmt="gray", bpp=1, output_params=["-vf", f"scale={side}:{side}"])
    fps = next(frames)["fps"]
    longest = run = 0
    previous = None
    for raw in frames:
        frame = np.frombuffer(raw, dtype=np.uint8).astype(np.int16).reshape(side, side)
        if previous is not None:
            run = run + 1 if float(np.abs(frame - previous).mean()) <= tolerance else 0
            longest = max(longest, run)
        previous = frame
    return longest / fps


def frame_at(path: Path, seconds: float):
    """Decode the first frame at or after ``seconds`` (or the last frame) as an RGB numpy array (H, W, 3)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.time is not None and frame.time >= seconds - 1e-6:
                break
        if last is None:
            raise ValueError("no video frames")
        return last.to_ndarray(format="rgb24")
