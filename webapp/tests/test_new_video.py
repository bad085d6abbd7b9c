"""The New video page: the form, the live quote, the confirmation and the start, on the API's own rules."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from PIL import Image

from billing.models import UserProfile
from devstack.briefs import headphones_brief
from video_generation import catalog, uploads
from video_generation.models import VideoJob
from video_generation.pipeline import dispatch, pricing
from video_generation.serializers import VideoGenerationRequestSerializer
from webapp.newvideo_forms import form_data

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGE, QUOTE, SCENES = "/videos/new/", "/videos/new/quote/", "/videos/new/scenes/"
IMAGE_URL = "https://cdn.example.com/headphones.jpg"
AVATARS = [{"avatar_id": "josh_lite3_20230714", "name": "Josh", "gender": "male", "avatar_type": "studio_avatar",
            "default_voice_id": "", "preview_image_url": "https://files.heygen.ai/josh.png",
            "preview_video_url": "", "transparent": True}]
VOICES = [{"voice_id": "d7bbcdd6964c47bdaae26decade4a933", "name": "Aria", "language": "English",
           "gender": "female", "preview_audio_url": "https://files.heygen.ai/aria.mp3"}]


@pytest.fixture(autouse=True)
def the_catalogue(monkeypatch):
    """HeyGen's catalogue, as catalog.py serves it, without asking HeyGen; jobs are never really published."""
    avatars = catalog.Catalogue(catalog.AVATARS, tuple(AVATARS), True)
    voices = catalog.Catalogue(catalog.VOICES, tuple(VOICES), True)
    monkeypatch.setattr(catalog, "avatars", lambda: avatars)
    monkeypatch.setattr(catalog, "voices", lambda: voices)
    monkeypatch.setitem(catalog.LOADERS, catalog.AVATARS, lambda: avatars)
    monkeypatch.setitem(catalog.LOADERS, catalog.VOICES, lambda: voices)
    monkeypatch.setattr(dispatch, "publish", lambda *args, **kwargs: True)


def brief_form(**changes) -> dict:
    return {**form_data(headphones_brief(IMAGE_URL)), **changes}


def picture(kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(out, format=kind)
    return out.getvalue()


def upload(data: bytes, name: str):
    file = io.BytesIO(data)
    file.name = name
    return file


def review(browser, data) -> str:
    """Post the form for review; the confirmation page's text."""
    response = browser.post(PAGE, {**data, "action": "review"})
    assert response.status_code == 200, response.text
    return response.text


def confirmation(page: str) -> dict:
    """The confirmation form's fields, as the browser would send them back."""
    form = page[page.index('id="confirm-form"'):]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", '"'))
    return {**data, "action": "start"}


def credits_of(user) -> UserProfile:
    return UserProfile.objects.get(user=user)


# --- The page ------------------------------------------------------------------------------------------------------

def test_the_page_needs_sign_in(client):
    for path in (PAGE, QUOTE, SCENES):
        response = client.post(path) if path != PAGE else client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/?next=")


def test_the_page_offers_every_input_under_its_api_name_with_the_stable_ids(browser):
    page = browser.get(PAGE).text

    assert 'id="new-video-form"' in page and 'enctype="multipart/form-data"' in page
    for name in ("product_title", "product_id", "image_url", "image_file", "avatar_id", "voice_id", "avatar_script",
                 "aspect_ratio", "scenes-0-description", "scenes-0-camera_movement", "scenes-0-mood",
                 "scenes-0-duration", "scenes-0-text_overlay", "captions_style", "quality"):
        assert f'name="{name}"' in page, name
    for element in ('id="quote"', 'id="word-count"', 'id="narration-seconds"', 'id="add-scene"'):
        assert element in page
    assert "Complete the form to see the price." in page
    assert '<option value="josh_lite3_20230714">Josh (male, studio avatar)</option>' in page
    assert "files.heygen.ai" not in page  # the catalogue's previews are HeyGen's: never loaded by our pages


def test_the_nav_marks_the_page(browser):
    assert '<a href="/videos/new/" aria-current="page">New video</a>' in browser.get(PAGE).text


def test_a_catalogue_that_cannot_be_read_leaves_typed_ids(browser, monkeypatch):
    def down():
        raise catalog.CatalogUnavailable("avatars")

    monkeypatch.setattr(catalog, "avatars", down)
    page = browser.get(PAGE).text

    assert '<input type="text" name="avatar_id"' in page and "type the id" in page


# --- The quote --------------------------------------------------------------------------------------------------------

def test_the_headphones_brief_quotes_3_credits_as_the_api_does(browser):
    response = browser.post(QUOTE, brief_form())

    api = pricing.quote(_validated(headphones_brief(IMAGE_URL)))
    assert response.status_code == 200
    assert api.credits == 3
    assert '<dd id="quote-credits">3</dd>' in response.text
    assert f"${api.estimated_cost_usd}" in response.text and f"{api.duration_seconds} s" in response.text


def test_the_quote_needs_no_image_yet(browser):
    assert '<dd id="quote-credits">3</dd>' in browser.post(QUOTE, brief_form(image_url="")).text


def test_the_quote_counts_the_scripts_words_with_the_pricing_rule(browser):
    response = browser.post(QUOTE, {"avatar_script": "Hello there, it's a test of twelve words said in five seconds."})

    assert '<span id="word-count" hx-swap-oob="true">12</span>' in response.text
    assert '<span id="narration-seconds" hx-swap-oob="true">4.8</span>' in response.text


def test_an_incomplete_form_shows_no_price_and_no_errors(browser):
    response = browser.post(QUOTE, brief_form(product_title="", **{"scenes-0-mood": ""}))

    assert response.status_code == 200
    assert "Complete the form to see the price." in response.text and "quote-credits" not in response.text
    assert "errorlist" not in response.text


def test_what_asks_for_the_quote_is_never_replaced_by_an_answer(browser):
    # htmx drops a queued request whose element has left the page: if the answers replaced the element that asks, a
    # change made while a quote was on its way would never be priced (the browser test saw a stale price).
    page = browser.get(PAGE).text
    updater = re.search(r'<div id="quote-updater"[^>]*>', page).group(0)
    answers = (browser.post(QUOTE, brief_form()).text, browser.post(SCENES, {**brief_form(), "action": "add"}).text)

    for attribute in ('hx-post="/videos/new/quote/"', 'hx-target="#quote"', 'hx-swap="outerHTML"',
                      'hx-sync="this:queue last"'):
        assert attribute in updater
    assert page.index('id="quote-updater"') < page.index('id="quote"')  # #quote is inside it
    for answer in answers:
        assert 'id="quote"' in answer and "quote-updater" not in answer and "hx-post" not in _quote_div(answer)


def _quote_div(html: str) -> str:
    return re.search(r'<div id="quote"[^>]*>', html).group(0)


def test_the_quote_is_post_only(browser):
    assert browser.get(QUOTE).status_code == 405


# --- Errors next to their fields ------------------------------------------------------------------------------------

def test_field_errors_are_a_400_with_each_message_next_to_its_input(browser):
    data = brief_form(product_title="", avatar_position="custom", position_x="5", position_scale="big",
                      **{"scenes-1-mood": "   ", "scenes-2-duration": "5"})

    response = browser.post(PAGE, {**data, "action": "review"})

    assert response.status_code == 400
    page = response.text
    assert_error(page, "id_product_title", "Please fill this in.")
    assert_error(page, "id_position_x", "Enter a number of at most 1.0.")
    assert_error(page, "id_position_scale", "Enter a number, e.g. 0.5.")
    assert_error(page, "id_scenes-1-mood", "Please fill this in.")
    assert_error(page, "id_scenes-2-duration", "Duration must be 4, 6 or 8 seconds (got 5).")
    assert not VideoJob.objects.exists()


def assert_error(page: str, input_id: str, message: str) -> None:
    errors = re.search(rf'<ul class="errorlist" id="{re.escape(input_id)}_error">(.*?)</ul>', page, re.S)
    assert errors, f"no errors for {input_id}"
    assert message in errors.group(1), errors.group(1)
    assert re.search(rf'id="{re.escape(input_id)}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="'
                     rf'{re.escape(input_id)}"', page), f"{input_id} is not marked invalid"


def test_an_avatar_not_in_the_catalogue_is_refused_next_to_its_picker(browser, settings):
    settings.HEYGEN_CATALOG_VALIDATION, settings.HEYGEN_API_VERSION = True, "v3"

    response = browser.post(PAGE, {**brief_form(avatar_id="nobody"), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_avatar_id", "This presenter is not in the catalogue (any more). Choose another.")


@pytest.mark.parametrize("url", ["http://127.0.0.1/p.png", "http://10.1.2.3/p.png", "ftp://cdn.example.com/p.png",
                                 "http://metadata.google.internal/p.png", "file:///etc/passwd",
                                 "https://user:pw@cdn.example.com/p.png"])
def test_an_image_url_the_api_refuses_is_refused_with_the_apis_words(browser, url):
    api = VideoGenerationRequestSerializer(data=headphones_brief(url))
    assert not api.is_valid()

    response = browser.post(PAGE, {**brief_form(image_url=url), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_url", str(api.errors["image_url"][0]).replace("'", "&#x27;")
                 .replace('"', "&quot;"))


def test_a_form_without_an_image_asks_for_one(browser):
    response = browser.post(PAGE, {**brief_form(image_url=""), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_url", "Upload the product image, or give its web address.")


def test_more_scenes_than_the_plan_allows_are_refused(browser):
    brief = headphones_brief(IMAGE_URL, scenes=11)  # the free plan allows 10

    response = browser.post(PAGE, {**form_data(brief), "action": "review"})

    assert response.status_code == 400
    assert "Your Free plan allows at most 10 scenes per video (this brief has 11)." in response.text
    assert not VideoJob.objects.exists()


# --- The image by upload ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "name", "why"), [
    (b"%PDF-1.7 not a picture at all", "photo.png", "not an image we can read"),
    (picture("GIF"), "photo.jpg", "we take PNG, JPEG or WebP only"),
    (picture("PNG")[:-12], "photo.png", "damaged or incomplete"),
])
def test_an_upload_is_judged_by_its_content_not_its_name(browser, member, data, name, why):
    response = browser.post(PAGE, {**brief_form(image_url=""), "image_file": upload(data, name), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_file", why)
    assert not uploads.delete_user_uploads(member.pk)  # nothing was kept


def test_an_upload_over_the_size_limit_is_refused(browser, settings):
    settings.IMAGE_MAX_BYTES = len(picture()) - 1

    response = browser.post(PAGE, {**brief_form(image_url=""), "image_file": upload(picture(), "p.png"),
                                   "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_file", "the largest we take is")


def test_an_upload_as_large_as_the_image_limit_gets_past_the_request_body_limit(browser, settings):
    settings.REQUEST_MAX_BODY_BYTES = 2000  # smaller than the image: the page's own limit applies
    big = picture("PNG") + b"\0" * 5000  # trailing bytes after IEND: still a PNG

    response = browser.post(PAGE, {**brief_form(image_url=""), "image_file": upload(big, "p.png"),
                                   "action": "review"})

    assert response.status_code == 200, response.content[:300]
    assert browser.post("/videos/new/quote/", {"avatar_script": "x" * 5000}).status_code == 413


def test_both_an_upload_and_a_web_address_is_one_too_many(browser):
    response = browser.post(PAGE, {**brief_form(), "image_file": upload(picture(), "p.png"), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_url", "not both")


def test_an_uploaded_image_reaches_the_job(browser, member):
    page = review(browser, {**brief_form(image_url=""), "image_file": upload(picture("WEBP"), "product.webp")})
    assert "The WEBP image you uploaded" in page

    response = browser.post(PAGE, confirmation(page))

    job = VideoJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/videos/{job.id}/"
    assert uploads.owners_upload_path(job.image_url, member.pk) is not None
    assert uploads.stored_image(member.pk, job.image_url.rsplit("/", 1)[-1]).content_type == "image/webp"


def test_an_upload_survives_the_scene_builder_without_javascript(browser, member):
    response = browser.post(PAGE, {**brief_form(image_url=""), "image_file": upload(picture(), "p.png"),
                                   "action": "add"})

    assert response.status_code == 200
    name = re.search(r'name="image_upload" value="([0-9a-f]{32}\.png)"', response.text).group(1)
    assert uploads.stored_image(member.pk, name) is not None
    assert "Using the PNG image you uploaded" in response.text


def test_another_users_upload_cannot_be_named(browser, django_user_model):
    other = django_user_model.objects.create_user("ned", "ned@example.com", PASSWORD)
    theirs = uploads.store_image(other.pk, io.BytesIO(picture()), len(picture()))

    response = browser.post(PAGE, {**brief_form(image_url=""), "image_upload": theirs.name, "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_image_file", "no longer here")


# --- The confirmation and the start -------------------------------------------------------------------------------

def test_the_confirmation_says_what_it_will_hold_and_starts_nothing(browser, member):
    page = review(browser, brief_form())

    available = credits_of(member).available_credits
    assert f"This video will hold 3 credits from your balance of {available}; you are charged only when it is " \
           "delivered." in page
    assert 'id="start-video"' in page and '<dd id="quote-credits">3</dd>' in page
    assert "Josh (male, studio avatar), voice Aria (English, female)" in page
    assert not VideoJob.objects.exists() and credits_of(member).held_credits == 0


def test_one_click_starts_the_video_and_holds_its_quote(browser, member):
    response = browser.post(PAGE, confirmation(review(browser, brief_form())))

    job = VideoJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/videos/{job.id}/"
    assert job.user == member and job.product_title == "Premium Wireless Headphones" and len(job.scenes_data) == 3
    assert job.quote["credits"] == 3 and credits_of(member).held_credits == 3


def test_a_double_submitted_confirmation_starts_one_job(browser, member):
    confirm = confirmation(review(browser, brief_form()))

    first, second = browser.post(PAGE, confirm), browser.post(PAGE, confirm)

    job = VideoJob.objects.get()
    assert first["Location"] == second["Location"] == f"/videos/{job.id}/"
    assert credits_of(member).held_credits == 3


def test_a_confirmation_without_its_key_asks_again(browser):
    confirm = confirmation(review(browser, brief_form()))
    confirm["idempotency_key"] = "not-ours"

    response = browser.post(PAGE, confirm)

    assert response.status_code == 400 and "Please confirm once more" in response.text
    assert not VideoJob.objects.exists()


def test_too_few_credits_is_said_with_the_numbers_and_holds_nothing(browser, member):
    UserProfile.objects.filter(user=member).update(granted_credits=1, purchased_credits=0)
    confirm = confirmation(review(browser, brief_form()))

    response = browser.post(PAGE, confirm)

    assert response.status_code == 402
    assert "This video needs 3 credits and you have 1 available." in response.text
    assert not VideoJob.objects.exists() and credits_of(member).held_credits == 0
    assert 'id="new-video-form"' in response.text  # the form again, as it was, to change


def test_too_many_videos_in_progress_is_said_in_words(browser, member):
    UserProfile.objects.filter(user=member).update(jobs_in_progress=5)

    response = browser.post(PAGE, confirmation(review(browser, brief_form())))

    assert response.status_code == 429 and "You already have 5 videos in progress" in response.text


def test_the_rate_limit_is_said_in_words(browser, settings):
    settings.GENERATE_RATE_LIMIT = "1/hour"
    browser.post(PAGE, confirmation(review(browser, brief_form())))

    response = browser.post(PAGE, confirmation(review(browser, brief_form(product_title="Another"))))

    assert response.status_code == 429
    assert "You have started as many videos as your plan allows for now (1/hour)." in response.text
    assert VideoJob.objects.count() == 1


def test_change_something_brings_the_form_back_filled(browser):
    confirm = {**confirmation(review(browser, brief_form())), "action": "edit"}

    response = browser.post(PAGE, confirm)

    assert response.status_code == 200
    assert 'value="Premium Wireless Headphones"' in response.text and 'name="scenes-2-mood"' in response.text


# --- The scene builder ---------------------------------------------------------------------------------------------

def scene_count(page: str) -> int:
    return int(re.search(r'name="scenes-TOTAL_FORMS" value="(\d+)"', page).group(1))


def test_add_a_scene_without_javascript_comes_back_with_one_more_focused(browser):
    response = browser.post(PAGE, {**brief_form(), "action": "add"})

    assert response.status_code == 200 and scene_count(response.text) == 4
    assert re.search(r'<textarea name="scenes-3-description"[^>]*autofocus', response.text)
    assert "Scene 4 added." in response.text
    assert 'value="Premium Wireless Headphones"' in response.text  # the rest kept as typed


def test_remove_and_move_keep_what_was_typed_in_order(browser):
    data = brief_form(**{"scenes-0-mood": "first", "scenes-1-mood": "second", "scenes-2-mood": "third"})

    moved = browser.post(SCENES, {**data, "action": "up-2"}).text
    removed = browser.post(SCENES, {**data, "action": "remove-0"}).text

    assert re.findall(r'name="scenes-\d-mood" value="(\w+)"', moved) == ["first", "third", "second"]
    assert re.findall(r'name="scenes-\d-mood" value="(\w+)"', removed) == ["second", "third"]
    assert 'id="quote" ' in moved and 'hx-swap-oob="true"' in moved  # the quote follows the scenes


def test_the_last_scene_cannot_be_removed(browser):
    data = form_data(headphones_brief(IMAGE_URL, scenes=1))

    response = browser.post(SCENES, {**data, "action": "remove-0"})

    assert scene_count(response.text) == 1 and "remove-0" not in response.text


def test_no_scene_is_added_past_the_plans_limit(browser):
    data = form_data(headphones_brief(IMAGE_URL, scenes=10))

    response = browser.post(SCENES, {**data, "action": "add"})

    assert scene_count(response.text) == 10
    assert "Your plan allows at most 10 scenes per video." in response.text and 'id="add-scene"' not in response.text


def test_a_forged_scene_count_reads_at_most_the_apis_maximum(browser):
    response = browser.post(SCENES, {**brief_form(), "scenes-TOTAL_FORMS": "100000", "action": "add"})

    assert response.status_code == 200 and scene_count(response.text) <= 20


def _validated(brief: dict) -> dict:
    serializer = VideoGenerationRequestSerializer(data=brief)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def test_erasing_the_account_deletes_its_uploads(member, django_capture_on_commit_callbacks):
    from accounts.services import erase_account

    stored = uploads.store_image(member.pk, io.BytesIO(picture()), len(picture()))

    with django_capture_on_commit_callbacks(execute=True):
        erase_account(member.pk)

    assert uploads.stored_image(member.pk, stored.name) is None


URL_ATTRIBUTE = re.compile(r'\b(?:src|href|action|srcset|poster|data)\s*=\s*["\']([^"\']*)["\']', re.IGNORECASE)


@pytest.mark.parametrize("step", ["form", "errors", "confirmation"])
def test_every_step_labels_its_inputs_and_loads_nothing_from_a_third_party(browser, step):
    if step == "form":
        html = browser.get(PAGE).text
    else:
        html = browser.post(PAGE, {**brief_form(product_title="" if step == "errors" else "Kettle"),
                                   "action": "review"}).text

    for url in URL_ATTRIBUTE.findall(html):
        assert not re.match(r"(?i)^\s*(?:[a-z][a-z0-9+.-]*:)?//", url), url
    assert "/static/webapp/newvideo.js" in html or step == "confirmation"
    for input_id in re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{input_id}"' in html, input_id
    assert re.findall(r"<h(\d)", html)[:2] == ["1", "2"]


def test_the_scene_builder_is_post_only(browser):
    assert browser.get(SCENES).status_code == 405


def test_a_quality_the_plan_does_not_offer_is_refused_next_to_its_picker(browser, member):
    plan = credits_of(member).plan
    plan.allowed_qualities = ["fast"]
    plan.save()

    page = browser.get(PAGE).text
    response = browser.post(PAGE, {**brief_form(quality="standard"), "action": "review"})

    assert '<option value="standard"' not in page and '<option value="fast"' in page
    assert response.status_code == 400
    assert_error(response.text, "id_quality", "offers quality fast only")


def test_a_typed_web_address_replaces_an_earlier_upload(browser, member):
    mine = uploads.store_image(member.pk, io.BytesIO(picture()), len(picture()))

    page = review(browser, {**brief_form(), "image_upload": mine.name})
    browser.post(PAGE, confirmation(page))

    assert "The PNG image you uploaded" not in page and IMAGE_URL in page
    assert VideoJob.objects.get().image_url == IMAGE_URL


@pytest.mark.parametrize("path", [PAGE, QUOTE, SCENES])
def test_a_forged_post_without_the_scene_builders_counts_is_answered_not_a_500(browser, path):
    data = {key: value for key, value in brief_form().items() if "TOTAL_FORMS" not in key}

    response = browser.post(path, {**data, "action": "review" if path == PAGE else "add"})

    assert response.status_code in (200, 400)
    if path == PAGE:
        assert "A video needs at least 1 scene." in response.text


def test_a_huge_script_is_refused_with_its_length(browser, settings):
    response = browser.post(PAGE, {**brief_form(avatar_script="word " * 20_000), "action": "review"})

    assert response.status_code == 400
    assert_error(response.text, "id_avatar_script",
                 f"This is too long: at most {settings.HEYGEN_MAX_SCRIPT_CHARS} characters.")


# --- The catalogue's previews, from our own origin ------------------------------------------------------------


@pytest.fixture
def fetched_previews(monkeypatch):
    """The files behind the catalogue's preview links, as safe_http would fetch them; records each fetch."""
    from django.core.cache import cache

    from video_generation.services.safe_http import Fetched

    cache.clear()
    files = {AVATARS[0]["preview_image_url"]: ("image/png", png_bytes()),
             VOICES[0]["preview_audio_url"]: ("audio/mpeg", b"ID3 a voice")}
    asked = []

    def fetch(url, target, *, max_bytes, allowed_content_types, **kwargs):
        asked.append(url)
        content_type, body = files[url]
        assert content_type in allowed_content_types and len(body) <= max_bytes
        target.write_bytes(body)
        return Fetched(content_type=content_type, size=len(body))

    monkeypatch.setattr(catalog, "fetch_to_file", fetch)
    return asked


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (9, 16), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def test_the_chosen_presenters_picture_and_voices_sample_come_from_our_own_origin(browser, fetched_previews):
    chosen = brief_form(avatar_id=AVATARS[0]["avatar_id"], product_title="")  # the page again, with the choice
    html = browser.post(PAGE, {**chosen, "action": "review"}).text
    assert f'src="/videos/new/preview/?avatar={AVATARS[0]["avatar_id"]}"' in html
    assert 'id="voice-preview"' in html and "files.heygen.ai" not in html

    picture = browser.get("/videos/new/preview/", {"avatar": AVATARS[0]["avatar_id"]})
    again = browser.get("/videos/new/preview/", {"avatar": AVATARS[0]["avatar_id"]})
    sample = browser.get("/videos/new/preview/", {"voice": VOICES[0]["voice_id"]})

    assert picture.status_code == again.status_code == 200 and picture["Content-Type"] == "image/png"
    assert picture.content == png_bytes() and sample.content == b"ID3 a voice"
    assert fetched_previews == [AVATARS[0]["preview_image_url"], VOICES[0]["preview_audio_url"]]  # kept, not refetched


@pytest.mark.parametrize("query", [{"avatar": "not-in-the-catalogue"}, {}, {"avatar": "x" * 300},
                                   {"avatar": AVATARS[0]["avatar_id"], "voice": VOICES[0]["voice_id"]},
                                   {"url": "https://files.heygen.ai/josh.png"}])
def test_a_preview_of_anything_but_one_catalogue_item_is_the_404_page_and_fetches_nothing(browser, fetched_previews,
                                                                                         query):
    response = browser.get("/videos/new/preview/", query)

    assert response.status_code == 404 and fetched_previews == []


def test_a_preview_the_provider_cannot_give_is_the_404_page(browser, fetched_previews, monkeypatch):
    from video_generation.services.safe_http import UrlRefusedError

    def refuse(*args, **kwargs):
        raise UrlRefusedError("private address", provider="heygen", code="url_not_allowed")

    monkeypatch.setattr(catalog, "fetch_to_file", refuse)

    assert browser.get("/videos/new/preview/", {"avatar": AVATARS[0]["avatar_id"]}).status_code == 404


def test_previews_need_sign_in(fetched_previews):
    response = Client().get("/videos/new/preview/", {"avatar": AVATARS[0]["avatar_id"]})

    assert response.status_code == 302 and fetched_previews == []
