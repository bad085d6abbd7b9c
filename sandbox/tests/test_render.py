"""Renderer-level checks (no server): the copy-joined extension plays straight through."""
import av
import pytest

from sandbox import render as R


def decode_all(path):
    """Every video frame's pts (decode order), the stream time base, and the audio (start, end) spans."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = [f.pts for f in c.decode(v)]
        tb = v.time_base
    with av.open(str(path)) as c:
        spans = [(float(f.pts * f.time_base), float(f.pts * f.time_base) + f.samples / f.sample_rate)
                 for f in c.decode(audio=0)] if c.streams.audio else []
    return pts, tb, spans


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "clip.mp4"
    return R.render_clip(out, prompt='Headphones, pan right, on-screen text: "Hello"', image_bytes=None,
                         duration=4, aspect_ratio="9:16")


@pytest.mark.parametrize("chain", [1, 2])
def test_copy_joined_extension_plays_through(clip, tmp_path, monkeypatch, chain):
    encodes = []
    real = R.ffmpeg
    monkeypatch.setattr(R, "ffmpeg", lambda args, **kw: (encodes.append(args), real(args, **kw))[1])
    src = clip
    for i in range(chain):
        out = R.render_extension(tmp_path / f"ext{i}.mp4", input_bytes=src.read_bytes(), prompt="zoom in")
        src = out
    # the input was never re-encoded: the only full-length ffmpeg runs copy the video
    joins = [a for a in encodes if "concat" in a]
    assert len(joins) == chain and all(a[a.index("-c:v") + 1] == "copy" for a in joins)
    expect = 4 + 7 * chain
    pts, tb, spans = decode_all(src)
    assert len(pts) == expect * R.FPS  # every frame decodes
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))  # monotonic timestamps
    assert pts[0] == 0 and abs(float((pts[-1] - pts[-2] + pts[-1]) * tb) - expect) < 1e-3  # duration
    info = R.probe(src)
    assert abs(info.duration - expect) < 1 / R.FPS and (info.width, info.height, info.fps) == (720, 1280, 24.0)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
    assert max(abs(g) for g in gaps) < 1e-3 and spans[-1][1] >= expect - 0.05  # audio continuous and complete
    R.check_playback(src, expect * R.FPS, expect, True, full=True)


def test_foreign_input_is_reencoded(tmp_path):
    ff = R.FFMPEG
    src = tmp_path / "user.mp4"
    import subprocess
    subprocess.run([ff, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=24", "-t", "2", "-c:v",
                    "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", str(src)], check=True)
    out = R.render_extension(tmp_path / "out.mp4", input_bytes=src.read_bytes(), prompt="")
    pts, _, spans = decode_all(out)
    assert len(pts) == 9 * R.FPS and all(b > a for a, b in zip(pts, pts[1:], strict=False)) and spans == []
    assert R._stream_info(out).has_b_frames == 0  # re-encoded with the sandbox's own settings


def test_tts_model_loaded_once(monkeypatch):
    R.speak("One.")
    model = R._tts
    R.speak("Two, a different line.")
    assert R._tts is model is not None
    calls = []
    monkeypatch.setattr(R, "_tts", lambda *a, **k: calls.append(a) or [0.0] * 10)
    R._speak_cached.cache_clear()
    R.speak("Three.")
    R.speak("Three.")
    assert len(calls) == 1
    R._speak_cached.cache_clear()
