import time

import google.auth.transport.requests
import httpx
import pytest
from google.oauth2 import service_account

from sandbox import SandboxProcess

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@pytest.fixture(scope="session")
def sbx():
    with SandboxProcess(veo_latency=0.5, heygen_latency=0.5, hang_seconds=3) as s:
        yield s


@pytest.fixture(scope="session")
def http(sbx):
    with httpx.Client(base_url=sbx.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def token(sbx):
    creds = service_account.Credentials.from_service_account_file(sbx.env["GCP_SERVICE_ACCOUNT_FILE"], scopes=SCOPES)
    creds.refresh(google.auth.transport.requests.Request())
    return creds.token


@pytest.fixture(scope="session")
def veo(http, token):
    return Veo(http, token)


@pytest.fixture(scope="session")
def hg(http, sbx):
    return HeyGen(http, sbx.env["HEYGEN_API_KEY"])


class Veo:
    MODEL = "veo-3.1-fast-generate-001"

    def __init__(self, http, token):
        self.http, self.token = http, token

    def url(self, method, model=None):
        return f"/veo/v1/projects/sandbox-project/locations/us-central1/publishers/google/models/" \
               f"{model or self.MODEL}:{method}"

    def submit(self, body, model=None, timeout=120, token=None):
        return self.http.post(self.url("predictLongRunning", model), json=body, timeout=timeout,
                              headers={"Authorization": f"Bearer {token or self.token}"})

    def poll(self, name):
        resource = name.rpartition("/operations/")[0]
        return self.http.post(f"/veo/v1/{resource}:fetchPredictOperation", json={"operationName": name},
                              headers={"Authorization": f"Bearer {self.token}"})

    def wait(self, name, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.poll(name)
            if r.status_code == 200 and r.json().get("done"):
                return r.json()
            time.sleep(0.3)
        raise AssertionError(f"operation {name} not done in {timeout}s")


class HeyGen:
    def __init__(self, http, key):
        self.http, self.key = http, key

    def h(self, **extra):
        return {"X-Api-Key": self.key, **extra}

    def create(self, body, **headers):
        return self.http.post("/heygen/v3/videos", json=body, headers=self.h(**headers))

    def wait_v3(self, video_id, timeout=180):
        deadline, seen = time.time() + timeout, []
        while time.time() < deadline:
            r = self.http.get(f"/heygen/v3/videos/{video_id}", headers=self.h())
            if r.status_code == 200:
                d = r.json()["data"]
                seen.append(d["status"])
                if d["status"] in ("completed", "failed"):
                    return d, seen
            time.sleep(0.2)
        raise AssertionError(f"video {video_id} not finished in {timeout}s")

    def wait_v2(self, video_id, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.http.get("/heygen/v1/video_status.get", params={"video_id": video_id}, headers=self.h())
            d = r.json()["data"]
            if d["status"] in ("completed", "failed"):
                return r.json()
            time.sleep(0.2)
        raise AssertionError(f"video {video_id} not finished in {timeout}s")


def ledger(http):
    return http.get("/_sandbox/ledger").json()["entries"]
