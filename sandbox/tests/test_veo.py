import base64
import concurrent.futures as cf

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from .conftest import ledger
from .helpers import png_b64, probe

PROMPT = "Premium Wireless Headphones. Slow zoom in on the headphones, warm premium mood"


def gcs_bytes(sbx, uri):
    bucket, _, name = uri[5:].partition("/")
    client = storage.Client(project="sandbox-project", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": sbx.env["STORAGE_EMULATOR_HOST"]})
    return client.bucket(bucket).blob(name).download_as_bytes()


def gen_body(prompt=PROMPT, duration=4, aspect="9:16", storage=True, **params):
    body = {"instances": [{"prompt": prompt, "image": {"bytesBase64Encoded": png_b64(), "mimeType": "image/png"}}],
            "parameters": {"durationSeconds": duration, "aspectRatio": aspect, "sampleCount": 1,
                           "generateAudio": True, "resolution": "720p", **params}}
    if storage:
        body["parameters"]["storageUri"] = "gs://sandbox-videos/veo-out/"
    return body


def test_token_issuance_and_401(sbx, http, token, veo):
    assert token.startswith("ya29.")
    r = http.post(veo.url("predictLongRunning"), json=gen_body())
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = veo.submit(gen_body(), token="ya29.not-issued")
    assert r.status_code == 401
    r = http.post("/oauth2/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                         "assertion": "a.b.c"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.fixture(scope="module")
def generated(sbx, veo):
    r = veo.submit(gen_body())
    assert r.status_code == 200, r.text
    name = r.json()["name"]
    assert "/operations/" in name and set(r.json()) == {"name"}
    first = veo.poll(name).json()
    assert not first.get("done")
    return name, veo.wait(name)


def test_generate_to_gcs(sbx, generated):
    name, op = generated
    resp = op["response"]
    assert resp["@type"].endswith("GenerateVideoResponse") and resp["raiMediaFilteredCount"] == 0
    uri = resp["videos"][0]["gcsUri"]
    assert uri.startswith("gs://sandbox-videos/veo-out/") and uri.endswith("/sample_0.mp4")
    assert uri.split("/")[-2].isdigit()
    info = probe(gcs_bytes(sbx, uri))
    assert (info["width"], info["height"], info["fps"], info["codec"]) == (720, 1280, 24.0, "h264")
    assert abs(info["duration"] - 4) < 0.1 and info["audio"] == ["aac"]


def test_extension_adds_seven_seconds(sbx, veo, generated):
    uri = generated[1]["response"]["videos"][0]["gcsUri"]
    r = veo.submit({"instances": [{"prompt": "The camera keeps moving, pan right",
                                   "video": {"gcsUri": uri, "mimeType": "video/mp4"}}],
                    "parameters": {"sampleCount": 1, "storageUri": "gs://sandbox-videos/veo-ext/"}})
    assert r.status_code == 200, r.text
    op = veo.wait(r.json()["name"])
    info = probe(gcs_bytes(sbx, op["response"]["videos"][0]["gcsUri"]))
    assert abs(info["duration"] - 11) < 0.15 and info["fps"] == 24.0 and (info["width"], info["height"]) == (720, 1280)
    kinds = [e["kind"] for e in ledger(sbx_http(sbx))]
    assert "veo.extend" in kinds


def sbx_http(sbx):
    return httpx.Client(base_url=sbx.url, timeout=30)


def test_inline_base64_and_faults(sbx, veo):
    bodies = {"inline": gen_body(prompt="Headphones rotating 360, cool tone", aspect="16:9", storage=False,
                                 generateAudio=False),
              "safety": gen_body(prompt="A scene [[fault:safety]]"),
              "op_failed": gen_body(prompt="A scene [[fault:op_failed]]")}
    names = {k: veo.submit(b).json()["name"] for k, b in bodies.items()}
    with cf.ThreadPoolExecutor(3) as ex:
        ops = dict(zip(names, ex.map(veo.wait, names.values()), strict=False))
    v = ops["inline"]["response"]["videos"][0]
    info = probe(base64.b64decode(v["bytesBase64Encoded"]))
    assert (info["width"], info["height"], info["audio"]) == (1280, 720, [])
    s = ops["safety"]["response"]
    assert s["raiMediaFilteredCount"] == 1 and "Support codes" in s["raiMediaFilteredReasons"][0]
    assert not s.get("videos")
    assert ops["op_failed"]["error"]["code"] == 13 and ops["op_failed"]["error"]["message"]


@pytest.mark.parametrize("mutate,status,needle", [
    (lambda b: b["instances"][0].update(video={"gcsUri": "gs://sandbox-videos/x.mp4", "mimeType": "video/mp4"}),
     400, "Image and video"),
    (lambda b: b["instances"][0].update(prompt="") or b["instances"][0].pop("image"), 400, "Prompt is required"),
    (lambda b: b["parameters"].update(durationSeconds=5), 400, "duration"),
    (lambda b: b["parameters"].update(aspectRatio="4:3"), 400, "aspect ratio"),
    (lambda b: b["parameters"].update(sampleCount=5), 400, "sampleCount"),
    (lambda b: b["parameters"].update(sampleCount=0), 400, "sampleCount"),
    (lambda b: b["instances"][0]["image"].update(mimeType="image/gif"), 400, "MIME"),
    (lambda b: b["parameters"].update(storageUri="gs://sandbox-videos/no-slash"), 400, "storageUri"),
    (lambda b: b["parameters"].update(storageUri="s3://sandbox-videos/x/"), 400, "storageUri"),
])
def test_validation(veo, mutate, status, needle):
    body = gen_body()
    mutate(body)
    r = veo.submit(body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == status and err["status"] == "INVALID_ARGUMENT" and needle.lower() in err["message"].lower()


def test_unknown_model_404(veo):
    r = veo.submit(gen_body(), model="veo-3.1-fast-generate-preview")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    assert "Publisher model" in r.json()["error"]["message"]


def test_extension_input_rules(sbx, veo, generated):
    uri = generated[1]["response"]["videos"][0]["gcsUri"]
    base = {"instances": [{"video": {"gcsUri": uri, "mimeType": "video/mp4"}}], "parameters": {"sampleCount": 1}}
    r = veo.submit({**base, "parameters": {"durationSeconds": 6}})
    assert r.status_code == 400
    r = veo.submit({"instances": [{"video": {"gcsUri": uri, "mimeType": "video/mov"}}]})
    assert r.status_code == 400 and "MP4" in r.json()["error"]["message"]
    r = veo.submit({"instances": [{"video": {"gcsUri": uri, "mimeType": "video/mp4"}}],
                    "parameters": {"aspectRatio": "16:9"}})
    assert r.status_code == 400


def test_extension_rejects_long_or_25fps_input(sbx, veo, tmp_path):
    import subprocess

    import imageio_ffmpeg
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    for name, args in {"long": ["-r", "24", "-t", "31"], "fps25": ["-r", "25", "-t", "2"]}.items():
        out = tmp_path / f"{name}.mp4"
        subprocess.run([ff, "-v", "error", "-f", "lavfi", "-i", "color=c=blue:s=320x180", *args, "-s", "1280x720",
                        "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
        b64 = base64.b64encode(out.read_bytes()).decode()
        r = veo.submit({"instances": [{"video": {"bytesBase64Encoded": b64, "mimeType": "video/mp4"}}]})
        assert r.status_code == 400, name
        assert ("30 seconds" if name == "long" else "24 fps") in r.json()["error"]["message"]


def ledger_entry(sbx, name):
    return next(e for e in ledger(sbx_http(sbx)) if e["id"] == name)


STANDARD = "veo-3.1-generate-001"


@pytest.fixture(scope="module")
def silent_standard(sbx, veo):
    r = veo.submit(gen_body(prompt="Headphones resting on a desk, calm", generateAudio=False), model=STANDARD)
    assert r.status_code == 200, r.text
    name = r.json()["name"]
    return name, veo.wait(name)


def test_the_ledger_records_the_model_and_the_sound_it_bills_for(sbx, generated, silent_standard):
    fast, standard = ledger_entry(sbx, generated[0]), ledger_entry(sbx, silent_standard[0])
    assert (fast["kind"], fast["model"], fast["audio"]) == ("veo.generate", "veo-3.1-fast-generate-001", True)
    assert (standard["kind"], standard["model"], standard["audio"]) == ("veo.generate", STANDARD, False)


def test_the_standard_model_renders_on_its_own_path_and_without_sound_when_asked(sbx, silent_standard):
    name, op = silent_standard
    assert f"/publishers/google/models/{STANDARD}/operations/" in name
    info = probe(gcs_bytes(sbx, op["response"]["videos"][0]["gcsUri"]))
    assert info["audio"] == [] and abs(info["duration"] - 4) < 0.1


def test_an_operation_is_found_only_on_its_own_models_path(veo, generated):
    r = veo.http.post(veo.url("fetchPredictOperation", model=STANDARD), json={"operationName": generated[0]},
                      headers={"Authorization": f"Bearer {veo.token}"})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_an_extension_has_sound_only_when_its_input_has(sbx, veo, generated, silent_standard):
    names = {}
    for label, source in {"sound": generated, "silent": silent_standard}.items():
        uri = source[1]["response"]["videos"][0]["gcsUri"]
        r = veo.submit({"instances": [{"prompt": "The camera keeps moving, pan left",
                                       "video": {"gcsUri": uri, "mimeType": "video/mp4"}}],
                        "parameters": {"sampleCount": 1, "storageUri": "gs://sandbox-videos/veo-ext/"}},
                       model=STANDARD)
        assert r.status_code == 200, r.text
        names[label] = r.json()["name"]
    assert {label: ledger_entry(sbx, name)["audio"] for label, name in names.items()} == {"sound": True,
                                                                                          "silent": False}
    silent = veo.wait(names["silent"])
    assert probe(gcs_bytes(sbx, silent["response"]["videos"][0]["gcsUri"]))["audio"] == []


def test_veo_quota_answers_429_resource_exhausted_beyond_the_requests_per_minute_of_a_model():
    import google.auth.transport.requests
    from google.oauth2 import service_account

    from sandbox import SandboxProcess

    from .conftest import SCOPES, Veo

    with SandboxProcess(veo_latency=0.5, heygen_latency=0.5,
                        extra_args=["--veo-requests-per-minute", "3"]) as quota_sbx, \
            httpx.Client(base_url=quota_sbx.url, timeout=60) as client:
        creds = service_account.Credentials.from_service_account_file(quota_sbx.env["GCP_SERVICE_ACCOUNT_FILE"],
                                                                      scopes=SCOPES)
        creds.refresh(google.auth.transport.requests.Request())
        veo = Veo(client, creds.token)
        blocked = gen_body(prompt="A scene [[fault:safety]]")  # finished at once: nothing to render
        answers = [veo.submit(blocked) for _ in range(5)]
        other_model = veo.submit(blocked, model="veo-3.1-generate-001").status_code
        report = client.get("/_sandbox/veo/quota").json()
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert answers[-1].json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert other_model == 200  # counted per model
    assert report == {"requests_per_minute": 3, "accepted": 4, "refused": 2}
