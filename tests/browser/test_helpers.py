"""The browser tests' own tools: the accessibility check fails when it should and says why, the screenshots land
where the README says, the small-phone check sees sideways scrolling, and the mailbox reads what Django's file
backend writes."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail.backends.filebased import EmailBackend

from .helpers import (
    SCREENSHOTS,
    Mailbox,
    _offsite,
    assert_accessible,
    assert_fits_small_phone,
    screenshots,
)

INACCESSIBLE = """<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
<h1>Bad page</h1><p id="faint" style="color:#bbb;background:#fff">hard to read</p><img id="no-alt" src="data:,">
</main></body></html>"""
ACCESSIBLE = """<!doctype html><html lang="en"><head><title>good</title></head><body><main>
<h1>Good page</h1><p style="color:#222;background:#fff">easy to read</p></main></body></html>"""


@pytest.fixture
def blank(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def test_the_accessibility_check_fails_on_serious_and_critical_violations_naming_rule_target_and_help(blank):
    blank.set_content(INACCESSIBLE)
    with pytest.raises(AssertionError) as failed:
        assert_accessible(blank)
    report = str(failed.value)
    assert "color-contrast (serious)" in report and "#faint" in report
    assert "image-alt (critical)" in report and "#no-alt" in report
    assert "Images must have alternative text" in report  # axe's help text


def test_the_accessibility_check_passes_a_clean_page(blank):
    blank.set_content(ACCESSIBLE)
    assert_accessible(blank)


def test_screenshots_are_written_at_phone_and_desktop_widths_and_the_viewport_is_restored(blank):
    blank.set_content(ACCESSIBLE)
    written = screenshots(blank, "selftest")
    try:
        assert [path.name for path in written] == ["selftest-phone.png", "selftest-desktop.png"]
        assert all(path.parent == SCREENSHOTS and path.stat().st_size > 0 for path in written)
        assert blank.viewport_size == {"width": 1280, "height": 800}
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def test_the_small_phone_check_fails_on_a_page_wider_than_360_px(blank):
    blank.set_content('<html lang="en"><body style="margin:0"><div style="width:500px">wide</div></body></html>')
    with pytest.raises(AssertionError, match="500 px wide at a 360 px viewport"):
        assert_fits_small_phone(blank)
    blank.set_content(ACCESSIBLE)
    assert_fits_small_phone(blank)


def test_only_this_machine_counts_as_onsite():
    assert not _offsite("http://127.0.0.1:8000/static/webapp/app.css")
    assert not _offsite("http://localhost:9023/bucket/video.mp4")
    assert _offsite("https://cdn.example.com/htmx.js")
    assert _offsite("https://fonts.googleapis.com/css")
    assert not _offsite("data:image/png;base64,AAAA")


def test_the_mailbox_reads_the_newest_message_to_an_address_and_its_one_link(tmp_path):
    backend = EmailBackend(file_path=str(tmp_path))
    backend.send_messages([
        mail.EmailMessage("first", "Follow http://127.0.0.1:1/accounts/verify/a/b/ now.", to=["ann@example.com"]),
        mail.EmailMessage("other", "Not yours: http://127.0.0.1:1/x/", to=["bob@example.com"]),
    ])
    EmailBackend(file_path=str(tmp_path)).send_messages([
        mail.EmailMessage("second", "Hello Ann,\n\nhttp://127.0.0.1:1/accounts/verify/c/d/\n", to=["ann@example.com"]),
    ])
    box = Mailbox(tmp_path)

    assert [m["Subject"] for m in box.messages()] == ["first", "other", "second"]
    assert box.link("ann@example.com") == "http://127.0.0.1:1/accounts/verify/c/d/"
    assert box.link("ann@example.com", after=1) == "http://127.0.0.1:1/accounts/verify/c/d/"
    with pytest.raises(AssertionError, match="no new e-mail to ann@example.com"):
        box.newest("ann@example.com", after=2, timeout=0.2)
