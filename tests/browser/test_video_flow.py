"""Making a video in a real browser: a person fills the New video form with the headphones brief, sees the quote,
confirms once, watches the job's page come together without reloading it, plays the video and downloads it; and a
provider's safety block shows on the same page in plain words, with the held credits given back.

Each test signs in a fresh account (the free plan's credits) through the form, so the balances it reads are its own.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from billing.plans import DEFAULT_PLAN, SEED_PLANS
from devstack.briefs import demo_brief, headphones_brief

from .helpers import SCREENSHOTS, assert_accessible, screenshots, sign_in

FREE_CREDITS = SEED_PLANS[DEFAULT_PLAN]["monthly_credits"]
HEADPHONES_CREDITS = 3  # three 8-second scenes, a 24-second video: one credit for each started 8 seconds
QUOTE_MS = 20_000  # the quote is fetched ~600 ms after typing stops; the stack shares 2 cores
# Two 4-second scenes, as the end-to-end fault tests make them: Veo extends the first clip by 7 s for the second, an
# 11-second video (pricing.quote), two credits.
FAULT_CREDITS = 2
SHORT_SCRIPT = "Premium sound, all day comfort. Order yours today."
FINISH_MS = 240_000  # a headphones job takes a minute or two on this box (as the end-to-end suite waits)
FAIL_MS = 120_000  # a safety block fails the job at its first Veo poll
JOB_PATH = re.compile(r"/videos/([0-9a-f-]{36})/$")
README_SCREENSHOT = SCREENSHOTS / "readme-job-page.png"  # the lead copies it to docs/job-page.png
README_VIEWPORT = {"width": 1024, "height": 768}
README_MAX_HEIGHT = 1600
README_MARGIN = 16

# What the job's page shows now: status, progress and each stage's state. Recorded by the page itself on every change
# of the DOM (htmx swaps the polled part in), so the test sees the states it would miss between its own checks.
WATCH_THE_JOB = """() => {
  window.__marker = 1;
  window.__seen = [];
  const snapshot = () => {
    const status = document.querySelector('#job-status');
    const progress = document.querySelector('#job-progress');
    const seen = {
      status: status ? status.textContent.trim() : null,
      progress: progress ? Number(progress.getAttribute('value')) : null,
      stages: Array.from(document.querySelectorAll('#stepper li[data-stage][data-state]'))
        .map((li) => [li.dataset.stage, li.dataset.state]),
    };
    const last = window.__seen[window.__seen.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(seen)) { window.__seen.push(seen); }
  };
  snapshot();
  new MutationObserver(snapshot).observe(document.body, {childList: true, subtree: true, attributes: true});
}"""
AN_INTERMEDIATE_STATE = """() => (window.__seen || []).some((seen) =>
  seen.stages.some(([, state]) => state === 'working') || (seen.progress > 0 && seen.progress < 100))"""
VIDEO_METADATA = """() => {
  const video = document.querySelector('#job-video');
  return video !== null && video.readyState >= 1 && video.duration > 0;
}"""
# The track is off by default (the captions are burned in): turned on hidden, as a screen reader's user would, it loads.
CAPTIONS_LOADED = """() => {
  const track = document.querySelector('#job-video track[kind="captions"]');
  if (track === null) { return false; }
  if (track.track.mode === 'disabled') { track.track.mode = 'hidden'; }
  return track.readyState === HTMLTrackElement.LOADED && track.track.cues.length > 0;
}"""
SEEK_TO = """async (seconds) => {
  const video = document.querySelector('#job-video');
  const seeked = new Promise((resolve) => video.addEventListener('seeked', resolve, {once: true}));
  video.currentTime = seconds;
  await seeked;
}"""
README_FRAME_SECONDS = 10  # a moment with the presenter, the B-roll, an on-screen text and a caption settled
PLAY_MUTED = """async () => {
  const video = document.querySelector('#job-video');
  video.muted = true;
  await video.play();
  return video.currentTime;
}"""


# --- what a person does ---------------------------------------------------------------------------------------

def signed_in_as_new_account(page: Page, new_account, prefix: str):
    account = new_account(prefix)
    sign_in(page, account)
    return account


def field(page: Page, name: str):
    return page.locator(f'#new-video-form [name="{name}"]')


def add_scenes(page: Page, count: int) -> None:
    """The scene builder's "Add a scene" until the form has `count` scenes (each click swaps the builder in)."""
    scenes = page.locator("#scenes fieldset.scene")
    while scenes.count() < count:
        before = scenes.count()
        page.locator("#add-scene").click()
        expect(scenes).to_have_count(before + 1)


def fill_new_video_form(page: Page, brief: dict) -> None:
    """The New video form filled as a person would, from an API brief (devstack/briefs.py)."""
    page.goto("/videos/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New video")
    add_scenes(page, len(brief["scenes"]))
    field(page, "product_title").fill(brief["product_title"])
    field(page, "product_id").fill(brief["product_id"])
    field(page, "image_url").fill(brief["image_url"])
    for index, scene in enumerate(brief["scenes"]):
        prefix = f"scenes-{index}-"
        field(page, prefix + "description").fill(scene["visual_description"])
        field(page, prefix + "camera_movement").fill(scene["camera_movement"])
        field(page, prefix + "mood").fill(scene["mood"])
        field(page, prefix + "duration").select_option(str(scene["duration"]))
        field(page, prefix + "text_overlay").fill(scene.get("text_overlay", ""))
    field(page, "avatar_id").select_option(brief["avatar_id"])
    field(page, "voice_id").select_option(brief["voice_id"])
    field(page, "avatar_script").fill(brief["avatar_script"])
    field(page, "avatar_position").select_option(brief["avatar_position"])
    page.locator(f'#new-video-form input[name="aspect_ratio"][value="{brief["aspect_ratio"]}"]').check()


def review_and_start(page: Page, credits: int) -> str:
    """Review, check the hold, confirm with one click: the new job's id (the page is the job's page)."""
    page.locator("#review-video").click()
    expect(page.locator("#hold-statement")).to_have_text(re.compile(rf"hold {credits} credits? from your balance"))
    page.locator("#start-video").click()
    expect(page).to_have_url(JOB_PATH)
    return JOB_PATH.search(page.url).group(1)


def assert_loaded_only_our_files(page_log) -> None:
    """PageLog.assert_clean, but a load the browser itself abandoned is no failure: the player fetches the video in
    ranges and drops its first request, and leaving a page drops what it was still loading (a quote on its way)."""
    assert not page_log.offsite, f"requests to third parties: {page_log.offsite}"
    assert not page_log.script_errors, f"script errors: {page_log.script_errors}"
    failed = [failure for failure in page_log.failed if not failure.endswith("(net::ERR_ABORTED)")]
    assert not failed, f"sub-resources that failed: {failed}"


def balance(page: Page) -> int:
    page.goto("/account/")
    return int(page.locator("#credits-available").inner_text())


def image_url(browser_stack) -> str:
    """The headphones picture the sandbox serves: reachable by the stack's worker, as in the end-to-end suite."""
    return f"{browser_stack.sandbox_url}/assets/headphones.png"


def save_readme_screenshot(page: Page) -> None:
    """The finished job's main content at a small desktop width, small enough for the README."""
    page.set_viewport_size(README_VIEWPORT)
    page.evaluate(SEEK_TO, README_FRAME_SECONDS)
    page.evaluate("window.scrollTo(0, 0)")
    main, result = page.locator("#main").bounding_box(), page.locator("#job-result").bounding_box()
    bottom = min(result["y"] + result["height"] + README_MARGIN, main["y"] + README_MAX_HEIGHT)
    clip = {"x": main["x"], "y": main["y"], "width": main["width"], "height": bottom - main["y"]}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=README_SCREENSHOT, type="png", full_page=True, clip=clip, animations="disabled",
                    caret="hide")


# --- the tests ------------------------------------------------------------------------------------------------

@pytest.mark.timeout(480)
def test_the_headphones_video_made_through_the_form_comes_together_live_plays_and_downloads(page, page_log,
                                                                                           new_account, browser_stack):
    signed_in_as_new_account(page, new_account, "flow")
    brief = demo_brief(image_url(browser_stack))  # the headphones brief with on-screen text on every scene

    fill_new_video_form(page, brief)
    expect(page.locator("#quote-credits")).to_have_text(str(HEADPHONES_CREDITS), timeout=QUOTE_MS)
    assert_accessible(page)

    page.locator("#review-video").click()
    expect(page.locator("#hold-statement")).to_have_text(re.compile(
        rf"hold {HEADPHONES_CREDITS} credits from your balance of {FREE_CREDITS}\b"))
    assert_accessible(page)
    page.locator("#start-video").click()
    expect(page).to_have_url(JOB_PATH)
    job_url = page.url

    page.evaluate(WATCH_THE_JOB)
    page.wait_for_function(AN_INTERMEDIATE_STATE, timeout=FINISH_MS)
    screenshots(page, "job-in-progress")
    expect(page.locator("#job-status")).to_have_text("Completed", timeout=FINISH_MS)

    assert page.evaluate("window.__marker") == 1, "the job's page was reloaded"
    assert page.url == job_url
    seen = page.evaluate("window.__seen")
    assert seen[0]["status"] != "Completed" and len(seen) >= 3, seen
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    stages = page.locator("#stepper li[data-stage][data-state]")
    assert stages.count() >= 6  # image, three scenes, presenter, compose
    expect(page.locator('#stepper li[data-stage]:not([data-state="done"])')).to_have_count(0)

    page.wait_for_function(VIDEO_METADATA)
    assert page.evaluate("document.querySelector('#job-video').duration") > 20
    started_at = page.evaluate(PLAY_MUTED)
    page.wait_for_function(f"() => document.querySelector('#job-video').currentTime > {started_at} + 0.5")
    page.evaluate("document.querySelector('#job-video').pause()")
    page.wait_for_function(CAPTIONS_LOADED)

    expect(page.locator("#credits-charged")).to_have_text(f"This video cost {HEADPHONES_CREDITS} credits.")
    for download in ("#download-video", "#download-poster", "#download-captions-vtt"):
        expect(page.locator(download)).to_be_visible()
    video = page.request.get(page.locator("#download-video").get_attribute("href"))
    assert video.ok, video.status
    assert video.headers["content-type"].startswith("video/mp4"), video.headers
    body = video.body()
    assert body[4:8] == b"ftyp" and len(body) > 100_000, len(body)

    screenshots(page, "job-done")
    assert_accessible(page)
    save_readme_screenshot(page)

    assert balance(page) == FREE_CREDITS - HEADPHONES_CREDITS
    assert_loaded_only_our_files(page_log)


@pytest.mark.timeout(360)
def test_a_safety_block_shows_which_provider_failed_which_scene_and_that_nothing_was_charged(page, page_log,
                                                                                            new_account, browser_stack):
    signed_in_as_new_account(page, new_account, "fault")
    brief = headphones_brief(image_url(browser_stack), scenes=2, script=SHORT_SCRIPT)
    for scene in brief["scenes"]:
        scene["duration"] = 4  # the sandbox renders every frame: keep the B-roll short
    brief["scenes"][0]["visual_description"] += " [[fault:safety]]"
    before = balance(page)
    assert before == FREE_CREDITS

    fill_new_video_form(page, brief)
    expect(page.locator("#quote-credits")).to_have_text(str(FAULT_CREDITS), timeout=QUOTE_MS)
    review_and_start(page, FAULT_CREDITS)
    job_url = page.url

    expect(page.locator("#job-status")).to_have_text("Failed", timeout=FAIL_MS)
    failure = page.locator("#job-failure")
    expect(failure).to_contain_text("Google Veo")
    expect(failure).to_contain_text("scene 1")
    expect(failure).to_contain_text("safety")
    expect(page.locator('#stepper li[data-stage="scene-1"]')).to_have_attribute("data-state", "failed")
    expect(page.locator("#not-charged")).to_contain_text(
        f"You were not charged: the {FAULT_CREDITS} credits held for this video were released")
    expect(page.locator("#credits-charged")).to_have_count(0)
    screenshots(page, "job-failed")
    assert_accessible(page)

    assert balance(page) == before, "the held credits were not given back"

    page.goto(job_url)
    page.locator("#retry-job").click()
    expect(page).to_have_url(JOB_PATH)
    assert page.url != job_url, "retrying stayed on the failed job's page"
    expect(page.get_by_role("heading", level=1)).to_have_text(brief["product_title"])
    # The retry has the same brief, so it meets the same block: let it end before the next test uses the stack.
    expect(page.locator("#job-status")).to_have_text("Failed", timeout=FAIL_MS)
    assert_loaded_only_our_files(page_log)
