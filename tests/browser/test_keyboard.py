"""The pages by keyboard: the skip link comes first and jumps to the content, and the focus ring on links and buttons
is drawn in a colour that stands out from the page (3:1, WCAG 1.4.11), which axe does not check."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

MIN_FOCUS_CONTRAST = 3.0


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rgb(css: str) -> tuple[int, int, int]:
    red, green, blue = (int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return red, green, blue


def focus_ring(page: Page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        let behind = el.parentElement, background = 'rgba(0, 0, 0, 0)';
        while (behind && /rgba\\(0, 0, 0, 0\\)|transparent/.test(background)) {
            background = getComputedStyle(behind).backgroundColor; behind = behind.parentElement;
        }
        return {tag: el.tagName, text: el.textContent.trim(), style: style.outlineStyle,
                width: parseFloat(style.outlineWidth), color: style.outlineColor, background};
    }""")


def focused(page: Page) -> str:
    return page.evaluate("() => document.activeElement.id || document.activeElement.textContent.trim()")


def test_the_skip_link_comes_first_and_moves_the_focus_to_the_content(page):
    page.goto("/")  # the sign-in page starts in its username field (autofocus)
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"
    expect(page.get_by_role("link", name="Skip to main content")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert focused(page) == "main"


def test_the_focus_ring_of_links_and_buttons_stands_out_from_the_page(page):
    page.goto("/accounts/sign-in/")
    seen = set()
    for _ in range(12):  # the skip link, the header's links, the form's fields, its button and the links below
        page.keyboard.press("Tab")
        ring = focus_ring(page)
        if ring["tag"] not in ("A", "BUTTON"):
            continue
        seen.add(ring["tag"])
        where = f"{ring['tag']} {ring['text']!r}"
        assert ring["style"] != "none" and ring["width"] >= 2, f"{where} has no visible focus ring: {ring}"
        ratio = contrast(rgb(ring["color"]), rgb(ring["background"]))
        assert ratio >= MIN_FOCUS_CONTRAST, \
            f"{where}: its focus ring {ring['color']} on {ring['background']} is {ratio:.2f}:1"
    assert seen == {"A", "BUTTON"}
