import base64
import io
import subprocess
import tempfile

import av
import imageio_ffmpeg
import numpy as np
from PIL import Image


def png_b64(size=(640, 640), color=(200, 60, 60)) -> str:
    img = Image.new("RGB", size, color)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def probe(data: bytes) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".bin") as fh:
        fh.write(data)
        fh.flush()
        with av.open(fh.name) as c:
            v = c.streams.video[0]
            dur = float(v.duration * v.time_base) if v.duration else c.duration / 1e6
            return {"format": c.format.name, "width": v.codec_context.width, "height": v.codec_context.height,
                    "fps": float(v.average_rate), "duration": dur, "codec": v.codec_context.name,
                    "audio": [a.codec_context.name for a in c.streams.audio]}


def webm_rgba_frame(data: bytes, t: float = 0.5) -> np.ndarray:
    """Decode one frame with the libvpx decoder (the native one drops alpha) as an RGBA array."""
    with tempfile.NamedTemporaryFile(suffix=".webm") as fh:
        fh.write(data)
        fh.flush()
        head = av.open(fh.name)
        w, h = head.streams.video[0].codec_context.width, head.streams.video[0].codec_context.height
        head.close()
        out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-c:v", "libvpx-vp9", "-i", fh.name,
                              "-ss", str(t), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
                             capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(h, w, 4)


def mp4_rgb_frame(data: bytes, index: int = 5) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        with av.open(fh.name) as c:
            for i, frame in enumerate(c.decode(video=0)):
                if i == index:
                    return frame.to_ndarray(format="rgb24")
    raise AssertionError("frame not found")
