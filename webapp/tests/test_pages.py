"""The dashboard, and every page: renders for anonymous and signed-in visitors, loads nothing from elsewhere."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from billing.plans import DEFAULT_PLAN, plan_named
from video_generation.models import JobStatus, VideoJob

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGES = ["/", "/accounts/sign-up/", "/accounts/sign-up/done/", "/accounts/sign-in/", "/accounts/password-reset/",
         "/accounts/password-reset/sent/", "/accounts/reset/done/",
         f"/accounts/verify/{urlsafe_base64_encode(force_bytes(1))}/bad-token/",
         f"/accounts/reset/{urlsafe_base64_encode(force_bytes(1))}/bad-token/"]
URL_ATTRIBUTE = re.compile(r'\b(?:src|href|action|srcset|poster|data)\s*=\s*["\']([^"\']*)["\']', re.IGNORECASE)


def job(user, title, status=JobStatus.PENDING, **fields):
    return VideoJob.objects.create(user=user, product_title=title, status=status, scenes_data=[], avatar_script="Hi.",
                                   avatar_id="avatar", voice_id="voice", image_url="https://cdn.example.com/p.jpg",
                                   **fields)


def test_the_dashboard_shows_the_plan_credits_and_only_the_callers_latest_five_jobs(member, member_client,
                                                                                    django_user_model):
    other = django_user_model.objects.create_user("ned", "ned@example.com", PASSWORD)
    job(other, "Someone else's kettle")
    mine = [job(member, f"Headphones {n}") for n in range(6)]
    mine[5].status, mine[5].progress = JobStatus.PROCESSING_VEO, 35
    mine[5].save()

    page = member_client.get("/").text

    free = plan_named(DEFAULT_PLAN)
    assert f'Your plan: <span id="plan-name">{free.name}</span>' in page
    assert f'<dd id="credits-available">{free.monthly_credits}</dd>' in page
    assert "Someone else" not in page
    titles = re.findall(r'<a class="job-title" href="/videos/[0-9a-f-]+/">([^<]+)</a>', page)
    assert titles == [f"Headphones {n}" for n in (5, 4, 3, 2, 1)]  # newest first, five of them
    assert "Generating B-roll (Veo) (35%)" in page


def test_the_dashboard_of_a_user_without_jobs_says_so(member_client):
    assert "No videos yet." in member_client.get("/").text


def test_an_anonymous_visitor_gets_the_landing_page(client):
    page = client.get("/")

    assert page.status_code == 200
    assert 'href="/accounts/sign-in/"' in page.text and 'href="/accounts/sign-up/"' in page.text
    assert "Credits available" not in page.text


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_every_page_renders_accessibly_and_loads_nothing_from_a_third_party(path, who, member_client):
    client = member_client if who == "signed-in" else Client()

    response = client.get(path, follow=True)

    assert response.status_code in (200, 400), (path, response.status_code)  # 400: a refused link's page
    html = response.text
    assert '<main id="main"' in html and 'href="#main"' in html and '<nav aria-label="Main">' in html
    assert '<html lang="en">' in html and '<meta name="viewport"' in html
    for url in URL_ATTRIBUTE.findall(html):
        assert not re.match(r"(?i)^\s*(?:[a-z][a-z0-9+.-]*:)?//", url) or \
            re.match(r"(?i)^https?://testserver(?:/|$)", url), (path, url)
    assert "/static/webapp/vendor/htmx-2.0.11/htmx.min.js" in html and "/static/webapp/app.css" in html
    for input_id in re.findall(r'<input(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{input_id}"' in html, (path, input_id)


def test_the_stylesheet_and_htmx_are_served_by_us_and_htmx_has_its_licence_beside_it(client):
    for name in ("webapp/app.css", "webapp/vendor/htmx-2.0.11/htmx.min.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
    stylesheet = open(finders.find("webapp/app.css")).read()
    assert "http" not in stylesheet and "@import" not in stylesheet and "url(" not in stylesheet
    assert "@media" in stylesheet and ":focus-visible" in stylesheet
    assert 'version:"2.0.11"' in open(finders.find("webapp/vendor/htmx-2.0.11/htmx.min.js")).read()
    assert "Zero-Clause BSD" in open(finders.find("webapp/vendor/htmx-2.0.11/LICENSE")).read()


def test_signed_in_visitors_are_sent_from_sign_in_and_sign_up_to_the_dashboard(member_client):
    for path in ("/accounts/sign-in/", "/accounts/sign-up/"):
        response = member_client.get(path)
        assert response.status_code == 302 and response["Location"] == "/", path


def test_the_api_admin_and_media_keep_their_addresses(client):
    assert client.get("/api/video/health/").status_code in (200, 503)
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/api/keys/").status_code in (401, 403)  # the API's own answer, not a web page
