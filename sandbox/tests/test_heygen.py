import concurrent.futures as cf
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from .conftest import ledger
from .helpers import mp4_rgb_frame, probe, webm_rgba_frame

JOSH, JOSH_VOICE, ANNA = "josh_lite3_20230714", "d7bbcdd6964c47bdaae26decade4a933", "anna_studio_nomatting"
SCRIPT = "Meet the new wireless headphones."


def v3_body(**kw):
    return {"type": "avatar", "avatar_id": JOSH, "voice_id": JOSH_VOICE, "script": SCRIPT, "aspect_ratio": "9:16",
            **kw}


@pytest.fixture(scope="module")
def callbacks():
    got = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    srv.shutdown()


def test_webm_alpha_and_mp4_key_colour(sbx, http, hg, callbacks):
    url, got = callbacks
    key = str(uuid.uuid4())
    r1 = hg.create(v3_body(output_format="webm", callback_url=url, callback_id="cb-1"), **{"Idempotency-Key": key})
    assert r1.status_code == 200, r1.text
    d = r1.json()["data"]
    assert d["status"] == "waiting" and d["output_format"] == "webm"
    r2 = hg.create(v3_body(output_format="webm", callback_url=url, callback_id="cb-1"), **{"Idempotency-Key": key})
    assert r2.json() == r1.json()
    assert [e["id"] for e in ledger(http)].count(d["video_id"]) == 1
    mp4 = hg.create(v3_body(background={"type": "color", "value": "#00FF00"})).json()["data"]["video_id"]
    with cf.ThreadPoolExecutor(2) as ex:
        (done, seen), (done_mp4, _) = ex.map(hg.wait_v3, [d["video_id"], mp4])
    assert done["status"] == "completed" and seen[0] in ("pending", "processing") and done["duration"] > 1
    assert done["video_url"].startswith(sbx.url + "/files/") and ".webm?Expires=" in done["video_url"]
    data = httpx.get(done["video_url"]).content
    info = probe(data)
    assert info["codec"] == "vp9" and info["audio"] == ["opus"] and (info["width"], info["height"]) == (720, 1280)
    frame = webm_rgba_frame(data)
    h, w = frame.shape[:2]
    assert frame[5, 5, 3] == 0 and frame[5, w - 5, 3] == 0 and frame[h // 10, w // 10, 3] == 0
    assert frame[h // 2, w // 2, 3] == 255
    rgb = mp4_rgb_frame(httpx.get(done_mp4["video_url"]).content)
    assert rgb[5, 5, 1] > 200 and rgb[5, 5, 0] < 60 and rgb[5, 5, 2] < 60
    assert probe(httpx.get(done_mp4["video_url"]).content)["audio"] == ["aac"]
    assert httpx.post(done["video_url"]).status_code == 405
    import time
    time.sleep(1.0)
    assert any(c["event_type"] == "avatar_video.success" and c["event_data"]["callback_id"] == "cb-1" for c in got)


def test_the_subtitle_file_has_a_cue_per_sentence_timed_from_the_speech(http, hg):
    script = "Meet the new wireless headphones. Forty hours of battery life. Order yours today."
    video_id = hg.create(v3_body(script=script, caption={"file_format": "srt"})).json()["data"]["video_id"]
    done, _ = hg.wait_v3(video_id)
    srt = httpx.get(done["subtitle_url"]).text
    cues = [block.split("\n") for block in srt.strip().split("\n\n")]
    assert [cue[2] for cue in cues] == ["Meet the new wireless headphones.", "Forty hours of battery life.",
                                        "Order yours today."]

    def seconds(stamp):
        h, m, s = stamp.replace(",", ".").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    times = [tuple(seconds(t) for t in cue[1].split(" --> ")) for cue in cues]
    assert all(start < end for start, end in times)
    assert all(a[1] <= b[0] for a, b in zip(times, times[1:], strict=False))  # in order, not overlapping
    assert 0 < times[0][0] < 0.6 and times[-1][1] <= done["duration"]


@pytest.mark.parametrize("body,headers,status,code", [
    (v3_body(avatar_id="nobody"), None, 404, "avatar_not_found"),
    (v3_body(voice_id="nope"), None, 404, "voice_not_found"),
    (v3_body(script="x" * 5001), None, 400, "invalid_parameter"),
    (v3_body(script=""), None, 400, "invalid_parameter"),
    (v3_body(aspect_ratio="2:1"), None, 400, "invalid_parameter"),
    (v3_body(output_format="mov"), None, 400, "invalid_parameter"),
    (v3_body(output_format="webm", background={"type": "color", "value": "#00FF00"}), None, 400, "invalid_parameter"),
    (v3_body(avatar_id=ANNA, output_format="webm"), None, 400, "invalid_parameter"),
    (v3_body(caption={"file_format": "vtt"}), None, 400, "invalid_parameter"),
    (v3_body(caption="srt"), None, 400, "invalid_parameter"),
    (v3_body(), {"X-Api-Key": "wrong"}, 401, "unauthorized"),
    (v3_body(), {}, 401, "unauthorized"),
])
def test_v3_validation(http, hg, body, headers, status, code):
    r = http.post("/heygen/v3/videos", json=body, headers=hg.h() if headers is None else headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    if body.get("avatar_id") == ANNA:
        assert r.json()["error"]["param"] == "output_format"


def test_catalogue(http, hg):
    assert http.get(f"/heygen/v3/avatars/looks/{JOSH}", headers=hg.h()).json()["data"]["default_voice_id"] == JOSH_VOICE
    assert http.get("/heygen/v3/avatars/looks/zzz", headers=hg.h()).status_code == 404
    assert http.get(f"/heygen/v3/voices/{JOSH_VOICE}", headers=hg.h()).status_code == 200


def test_the_catalogue_lists_looks_in_cursor_pages_with_preview_images(http, hg):
    first = http.get("/heygen/v3/avatars/looks", params={"limit": 2}, headers=hg.h()).json()
    assert len(first["data"]) == 2 and first["has_more"] and first["next_token"]
    rest = http.get("/heygen/v3/avatars/looks", params={"limit": 2, "token": first["next_token"]},
                    headers=hg.h()).json()
    looks = {look["id"]: look for look in first["data"] + rest["data"]}
    assert not rest["has_more"] and rest["next_token"] is None
    assert {JOSH, ANNA, "lukas_photo_20240311"} <= set(looks)
    assert {looks[JOSH]["avatar_type"], looks["lukas_photo_20240311"]["avatar_type"]} == {"studio_avatar",
                                                                                        "photo_avatar"}
    image = http.get(looks[JOSH]["preview_image_url"])  # a CDN link: no key
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    photos = http.get("/heygen/v3/avatars/looks", params={"avatar_type": "photo_avatar"}, headers=hg.h()).json()
    assert [look["id"] for look in photos["data"]] == ["lukas_photo_20240311"]


def test_the_catalogue_filters_voices_by_gender_and_language(http, hg):
    voices = http.get("/heygen/v3/voices", headers=hg.h()).json()
    assert JOSH_VOICE in {voice["voice_id"] for voice in voices["data"]} and not voices["has_more"]
    german = http.get("/heygen/v3/voices", params={"language": "German", "gender": "male"}, headers=hg.h()).json()
    assert [(voice["language"], voice["gender"]) for voice in german["data"]] == [("German", "male")]
    assert http.get("/heygen/v3/voices", params={"limit": 0}, headers=hg.h()).status_code == 400
    assert http.get("/heygen/v3/voices").status_code == 401


def test_a_photo_avatar_cannot_be_rendered_transparent(http, hg):
    r = http.post("/heygen/v3/videos", json=v3_body(avatar_id="lukas_photo_20240311", output_format="webm",
                                                    voice_id="5f1e2a9c0b7d4e3f8a6b2c1d0e9f8a7b"), headers=hg.h())
    assert r.status_code == 400 and r.json()["error"]["param"] == "output_format"


def test_v2_upload_generate_status(sbx, http, hg, tmp_path):
    import subprocess

    import imageio_ffmpeg
    bg = tmp_path / "bg.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=s=720x1280:r=24", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(bg)], check=True)
    r = http.post("/heygen-upload/v1/asset", content=bg.read_bytes(), headers=hg.h(**{"Content-Type": "text/plain"}))
    assert r.status_code == 400
    r = http.post("/heygen-upload/v1/asset", content=bg.read_bytes(), headers=hg.h(**{"Content-Type": "video/mp4"}))
    assert r.status_code == 200 and r.json()["code"] == 100 and r.json()["data"]["file_type"] == "video"
    asset = r.json()["data"]["id"]
    body = {"dimension": {"width": 720, "height": 1280}, "video_inputs": [{
        "character": {"type": "avatar", "avatar_id": JOSH, "scale": 0.5, "offset": {"x": 0.25, "y": 0.0},
                      "matting": True},
        "voice": {"type": "text", "voice_id": JOSH_VOICE, "input_text": SCRIPT},
        "background": {"type": "video", "video_asset_id": asset, "play_style": "loop"}}]}
    bad = json.loads(json.dumps(body))
    bad["video_inputs"][0]["character"]["avatar_id"] = "nobody"
    r = http.post("/heygen/v2/video/generate", json=bad, headers=hg.h())
    assert r.status_code == 400 and r.json()["error"]["code"] == "avatar_not_found"
    r = http.post("/heygen/v2/video/generate", json=body, headers=hg.h())
    assert r.status_code == 200 and r.json()["error"] is None
    vid = r.json()["data"]["video_id"]
    first = http.get("/heygen/v1/video_status.get", params={"video_id": vid}, headers=hg.h()).json()
    assert first["code"] == 100 and first["data"]["status"] in ("waiting", "pending", "processing")
    done = hg.wait_v2(vid)["data"]
    assert done["status"] == "completed" and done["duration"] > 1
    info = probe(httpx.get(done["video_url"]).content)
    assert (info["width"], info["height"], info["audio"]) == (720, 1280, ["aac"])


def test_render_failed_and_poll_500(http, hg):
    vid = hg.create(v3_body(script="Hello [[fault:render_failed]] [[fault:poll_500]]")).json()["data"]["video_id"]
    r = http.get(f"/heygen/v3/videos/{vid}", headers=hg.h())
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    d, _ = hg.wait_v3(vid)
    assert d["status"] == "failed" and d["failure_code"] and d["failure_message"]


def test_v3_bulk_statuses_answer_many_videos_in_one_call(http, hg):
    ids = [hg.create(v3_body(script=f"{SCRIPT} [[fault:render_failed]]" if i == 2 else SCRIPT)).json()["data"]
           ["video_id"] for i in range(3)]
    first = http.get("/heygen/v3/videos/statuses", params={"video_ids": ",".join([*ids, "unknown-id"])},
                     headers=hg.h())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["has_more"] is False and [item["video_id"] for item in body["data"]] == [*ids, "unknown-id"]
    assert all(item["status"] in ("pending", "processing", "waiting") for item in body["data"][:3])
    assert body["data"][3] == {"video_id": "unknown-id", "status": "not_found"}
    for video_id in ids:
        hg.wait_v3(video_id)
    done = http.get("/heygen/v3/videos/statuses", params={"video_ids": ",".join(ids)}, headers=hg.h()).json()
    statuses = {item["video_id"]: item for item in done["data"]}
    assert [statuses[i]["status"] for i in ids] == ["completed", "completed", "failed"]
    assert statuses[ids[2]]["failure_message"]


def test_v3_bulk_statuses_refuse_no_ids_too_many_ids_and_a_missing_key(http, hg):
    assert http.get("/heygen/v3/videos/statuses", params={"video_ids": ""}, headers=hg.h()).status_code == 400
    many = ",".join(f"v{i}" for i in range(101))
    refused = http.get("/heygen/v3/videos/statuses", params={"video_ids": many}, headers=hg.h())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_parameter"
    assert http.get("/heygen/v3/videos/statuses", params={"video_ids": "a"}).status_code == 401
