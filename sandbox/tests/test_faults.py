import httpx
import pytest

from .conftest import ledger
from .test_heygen import v3_body
from .test_veo import gen_body


def test_veo_429_then_ok_and_500_then_ok(http, veo):
    body = gen_body(prompt="Fault scene [[fault:429]] [[fault:500]]")
    r = veo.submit(body)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    r = veo.submit(body)
    assert r.status_code == 500 and r.json()["error"]["status"] == "INTERNAL"
    r = veo.submit(body)
    assert r.status_code == 200
    entries = [e for e in ledger(http) if e["id"] == r.json()["name"]]
    assert len(entries) == 1


def test_heygen_hang_then_ok(http, hg):
    body = v3_body(script="Hang around [[fault:hang]]")
    before = len(ledger(http))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/heygen/v3/videos", json=body, headers=hg.h(), timeout=1.0)
    assert len(ledger(http)) == before
    r = hg.create(body)
    assert r.status_code == 200 and len(ledger(http)) == before + 1


def test_lost_response_records_then_idempotent_retry_replays(http, hg):
    body = v3_body(script="Lost [[fault:lost_response]]")
    before = len(ledger(http))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/heygen/v3/videos", json=body, headers=hg.h(**{"Idempotency-Key": "lost-1"}), timeout=1.0)
    entries = ledger(http)
    assert len(entries) == before + 1 and entries[-1]["kind"] == "heygen.v3.create"
    r = hg.create(body, **{"Idempotency-Key": "lost-1"})
    assert r.status_code == 200 and r.json()["data"]["video_id"] == entries[-1]["id"]
    assert len(ledger(http)) == before + 1


def test_veo_lost_response(http, veo):
    body = gen_body(prompt="Lost op [[fault:lost_response]]", storage=False)
    before = len(ledger(http))
    with pytest.raises(httpx.ReadTimeout):
        veo.submit(body, timeout=1.0)
    entries = ledger(http)
    assert len(entries) == before + 1 and entries[-1]["kind"] == "veo.generate"
    assert veo.wait(entries[-1]["id"])["done"]


def test_ledger_reset(http):
    assert http.post("/_sandbox/reset").status_code == 200
    assert ledger(http) == []
    assert http.get("/_sandbox/health").status_code == 200


def test_a_transient_fault_does_not_fire_again_when_the_retry_writes_elsewhere():
    from sandbox.faults import FaultBook

    book = FaultBook({}, transient_count=1)
    body = {"instances": [{"prompt": "desk [[fault:500]]"}], "parameters": {"storageUri": "gs://b/attempt-1/"}}
    retry = {**body, "parameters": {"storageUri": "gs://b/attempt-2/"}}
    assert book.submit_fault("veo", "generate", body) == "500"
    assert book.submit_fault("veo", "generate", retry) is None
