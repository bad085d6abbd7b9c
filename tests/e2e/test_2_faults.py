"""Injected provider faults through real processes. Transient ones must still complete with each paid operation
made exactly once; permanent ones must fail fast, name the stage and the provider, and pay for nothing more."""

from __future__ import annotations

import time

import pytest

from .conftest import assert_forward_only, assert_unique_paid_calls

pytestmark = pytest.mark.e2e

SHORT_SCRIPT = "Premium sound, all day comfort. Order yours today."


def short_brief(e2e, scenes: int = 1, script: str = SHORT_SCRIPT) -> dict:
    brief = e2e.brief(scenes=scenes, script=script)
    for scene in brief["scenes"]:
        scene["duration"] = 4  # the sandbox renders every frame: keep the B-roll short
    return brief


def veo_fault(e2e, fault: str, scenes: int = 1) -> dict:
    brief = short_brief(e2e, scenes)
    brief["scenes"][0]["visual_description"] += f" [[fault:{fault}]]"
    return brief


def heygen_fault(e2e, fault: str) -> dict:
    return short_brief(e2e, script=f"{SHORT_SCRIPT} [[fault:{fault}]]")


TRANSIENT = {
    "veo_429": lambda e2e: veo_fault(e2e, "429"),
    "veo_500": lambda e2e: veo_fault(e2e, "500"),
    "veo_poll_500": lambda e2e: veo_fault(e2e, "poll_500"),
    "veo_hang": lambda e2e: veo_fault(e2e, "hang"),
    "veo_lost_response": lambda e2e: veo_fault(e2e, "lost_response"),
    "heygen_429": lambda e2e: heygen_fault(e2e, "429"),
    "heygen_500": lambda e2e: heygen_fault(e2e, "500"),
    "heygen_poll_500": lambda e2e: heygen_fault(e2e, "poll_500"),
    "heygen_lost_response": lambda e2e: heygen_fault(e2e, "lost_response"),
}
# name: (brief, expected words in error_message)
PERMANENT = {
    "veo_safety": (lambda e2e: veo_fault(e2e, "safety", scenes=2), ("B-roll generation", "scene 1", "Google Veo")),
    "veo_op_failed": (lambda e2e: veo_fault(e2e, "op_failed", scenes=2), ("B-roll generation", "scene 1",
                                                                           "Google Veo")),
    "heygen_render_failed": (lambda e2e: heygen_fault(e2e, "render_failed"), ("Presenter render", "HeyGen")),
}
# "Fast" is judged by attempts (the failed step ran once: no retry), plus a generous wall-clock bound: on a loaded
# 2-core box the first poll of a 1.5 s Veo operation can wait behind a broker backlog for tens of seconds.
FAIL_FAST_SECONDS = 90.0


@pytest.fixture(scope="module")
def fault_jobs(e2e):
    start = len(e2e.ledger())
    ids = {}
    for name, make in TRANSIENT.items():
        ids[name] = e2e.submit(make(e2e), interval=1.0)
    for name, (make, _) in PERMANENT.items():
        ids[name] = e2e.submit(make(e2e), interval=0.3)
    return ids, start


@pytest.mark.timeout(400)
@pytest.mark.parametrize("name", list(TRANSIENT))
def test_transient_fault_still_completes_and_pays_once(e2e, fault_jobs, name):
    ids, start = fault_jobs
    job = e2e.wait(ids[name], 300)
    assert job["status"] == "completed", (job["error_message"], [(s["key"], s["state"], s["error_message"])
                                                                 for s in job["steps"]])
    assert_forward_only(e2e.observed[ids[name]])
    # Exactly one Veo operation rendered for the one scene, and exactly one HeyGen render for the job.
    assert dict(e2e.veo_outputs_by_step(ids[name])) == {"veo-c0-s0": 1}
    renders = e2e.heygen_renders(ids[name], e2e.ledger()[start:])
    assert len(renders) == 1, renders


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(PERMANENT))
def test_permanent_fault_fails_fast_and_names_the_stage(e2e, fault_jobs, name):
    ids, start = fault_jobs
    _, words = PERMANENT[name]
    job = e2e.wait(ids[name], 120)
    obs = e2e.observed[ids[name]]
    assert job["status"] == "failed", job["status"]
    assert obs.seconds < FAIL_FAST_SECONDS, f"took {obs.seconds:.1f} s to fail"
    assert_forward_only(obs)
    message = job["error_message"] or ""
    for word in words:
        assert word in message, message
    failed = [s for s in job["steps"] if s["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == 1, failed  # not retried
    assert job["final_video_url"] is None

    # Nothing more is paid for after the failure: give the sweeper a few cadences to misbehave, then look.
    time.sleep(5)
    after = e2e.status(ids[name])
    assert after["status"] == "failed"
    assert not [s for s in after["steps"] if s["state"] in ("pending", "submitting", "submitted", "unknown")
                and s["key"] != "heygen:render"], after["steps"]
    outputs = e2e.veo_outputs_by_step(ids[name])
    renders = e2e.heygen_renders(ids[name], e2e.ledger()[start:])
    if name.startswith("veo_"):
        assert not outputs, outputs  # the failed scene rendered nothing and its extension was never submitted
        assert len(renders) <= 1  # the presenter may already have been started in parallel, but only once
    else:
        assert len(renders) == 1, renders  # the failed render was not re-bought
        assert sum(outputs.values()) <= 1, outputs


@pytest.mark.timeout(400)
def test_fault_module_ledger_is_exact(e2e, fault_jobs):
    """Across every fault job: no paid call twice; Veo ops = one per scene that rendered + one per failed scene."""
    ids, start = fault_jobs
    e2e.wait_all(ids.values(), 300)
    time.sleep(3)
    entries = e2e.ledger()[start:]
    assert_unique_paid_calls(entries)
    veo = [e for e in entries if e["kind"].startswith("veo.")]
    rendered = sum(sum(e2e.veo_outputs_by_step(j).values()) for j in ids.values())
    # The safety / op_failed operations render nothing: one each, and nothing else unaccounted for.
    assert len(veo) - rendered == 2, (len(veo), rendered)
    completed = sum(1 for name in TRANSIENT if e2e.status(ids[name])["status"] == "completed")
    # one scene per completed transient job (a failed one is reported by its own test), + the HeyGen-failed job's
    # B-roll if it had started
    assert rendered in (completed, completed + 1), (rendered, completed)
