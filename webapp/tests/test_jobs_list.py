"""The videos list: the user's jobs newest first, with posters, status, length and credits from the ledger; a status
filter; pages; a constant number of queries however many jobs; and the dashboard's links into it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from video_generation.models import JobStatus, VideoJob
from video_generation.tests.factories import make_job

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<a class="video-title" href="/videos/([0-9a-f-]+)/">([^<]+)</a>')


def listed(html: str) -> list[str]:
    """The titles on the page, in order."""
    return [title for _, title in ROW.findall(html)]


def titled(user, titles, **fields) -> list[VideoJob]:
    """Jobs one minute apart, the first the oldest."""
    made = [make_job(user, product_title=title, **fields) for title in titles]
    for age, job in enumerate(reversed(made)):
        VideoJob.objects.filter(id=job.id).update(created_at=job.created_at - timedelta(minutes=age))
    return made


def test_the_list_shows_only_the_users_jobs_newest_first_each_linking_to_its_page(member, member_client,
                                                                                   django_user_model):
    theirs = django_user_model.objects.create_user("ned", "ned@example.com", PASSWORD)
    make_job(theirs, product_title="Someone else's kettle")
    mine = titled(member, ["Oldest lamp", "Middle chair", "Newest desk"])

    html = member_client.get("/videos/").text

    assert listed(html) == ["Newest desk", "Middle chair", "Oldest lamp"]
    assert [job_id for job_id, _ in ROW.findall(html)] == [str(job.id) for job in reversed(mine)]
    assert "kettle" not in html


def test_it_needs_sign_in(client):
    response = client.get("/videos/")

    assert response.status_code == 302 and response["Location"] == "/accounts/sign-in/?next=/videos/"


def test_a_finished_video_has_a_poster_thumbnail_that_loads_and_others_a_placeholder(member, member_client, jobs):
    done = jobs.completed(member)
    jobs.running(member)

    html = member_client.get("/videos/").text

    [poster] = re.findall(r'<img class="poster" src="([^"]+)" alt=""', html)
    assert poster.startswith("/media/")  # ours, relative: same-origin whatever host the page is reached on
    served = Client().get(poster)
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"\xff\xd8poster"
    assert f"{done.id}-poster.jpg" in poster
    assert html.count('class="poster poster-placeholder"') == 1


def test_each_row_shows_its_status_length_and_credits_from_the_ledger(member, member_client, jobs):
    jobs.completed(member, seconds=15.2)  # 2 credits charged of the 3 held
    jobs.running(member)
    jobs.failed(member)

    html = member_client.get("/videos/").text

    credits = re.findall(r"<dt>Credits</dt><dd>([^<]+)</dd>", html)
    assert credits == ["Not charged", "3 held", "2 charged"]  # newest first: failed, running, completed
    assert "<dt>Length</dt><dd>15 s</dd>" in html
    assert re.findall(r'<span class="status status-([a-z_]+)">', html) == ["failed", "processing_veo", "completed"]


def test_the_status_filter_shows_only_jobs_in_that_status(member, member_client):
    titled(member, ["Done lamp"], status=JobStatus.COMPLETED)
    titled(member, ["Broken chair"], status=JobStatus.FAILED)

    html = member_client.get("/videos/", {"status": "failed"}).text

    assert listed(html) == ["Broken chair"]
    assert '<option value="failed" selected>' in html
    assert listed(member_client.get("/videos/", {"status": ""}).text) == ["Broken chair", "Done lamp"]


def test_the_filter_offers_the_apis_statuses(member_client):
    html = member_client.get("/videos/").text

    assert re.findall(r'<option value="([a-z_]+)"', html) == list(JobStatus.values)


@pytest.mark.parametrize("status", ["bogus", "COMPLETED", "x" * 5000, "failed' OR 1=1 --"])
def test_an_unknown_status_is_a_400_with_a_message_by_the_filter(member, member_client, status):
    make_job(member)

    response = member_client.get("/videos/", {"status": status})

    assert response.status_code == 400
    assert 'aria-invalid="true" aria-describedby="status-filter-error"' in response.text
    assert '<ul class="errorlist" id="status-filter-error"><li>Choose one of the statuses in the list.</li></ul>' \
        in response.text
    assert listed(response.text) == []


def test_the_list_comes_in_pages_of_the_apis_page_size(member, member_client, settings):
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    titled(member, [f"Video {n:02d}" for n in range(page_size + 3)])

    first = member_client.get("/videos/").text
    second = member_client.get("/videos/", {"page": 2}).text

    assert len(listed(first)) == page_size and listed(first)[0] == f"Video {page_size + 2:02d}"
    assert listed(second) == ["Video 02", "Video 01", "Video 00"]
    assert 'rel="next" href="?page=2"' in first and "Page 1 of 2" in first
    assert 'rel="prev" href="?page=1"' in second and 'rel="next"' not in second


def test_pages_keep_the_filter(member, member_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 2}
    titled(member, ["A", "B", "C"], status=JobStatus.FAILED)

    html = member_client.get("/videos/", {"status": "failed"}).text

    assert 'href="?status=failed&amp;page=2"' in html


@pytest.mark.parametrize("page", ["2", "0", "abc", "-1", "1.5", "99999999999999999999"])
def test_a_page_out_of_range_or_not_a_number_is_the_404_page(member, member_client, page):
    make_job(member)

    response = member_client.get("/videos/", {"page": page})

    assert response.status_code == 404 and "Page not found" in response.text and "Traceback" not in response.text


def test_a_user_without_videos_is_told_so(member_client):
    assert "No videos yet." in member_client.get("/videos/").text
    assert "No videos with this status." in member_client.get("/videos/", {"status": "failed"}).text


def test_the_list_reads_in_the_same_number_of_queries_for_three_videos_or_twenty(member, member_client, jobs):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert member_client.get("/videos/").status_code == 200
        return len(captured)

    jobs.completed(member)
    jobs.failed(member)
    jobs.running(member)
    few = queries()
    for _ in range(17):
        titled(member, ["More"], status=JobStatus.COMPLETED)

    assert queries() == few
    assert few <= 5  # session, user, count, the page with its credits (a constant, not one per job)


def test_the_dashboard_links_each_latest_video_to_its_page_and_to_all_videos(member, member_client):
    job = make_job(member, product_title="Desk lamp")

    html = member_client.get("/").text

    assert f'<a class="job-title" href="/videos/{job.id}/">Desk lamp</a>' in html
    assert '<a href="/videos/">All videos</a>' in html


def test_the_nav_marks_the_videos_page_as_current(member_client):
    assert '<a href="/videos/" aria-current="page">Videos</a>' in member_client.get("/videos/").text


@pytest.mark.parametrize("query", [{}, {"status": "bogus"}])
def test_the_list_is_labelled_and_loads_only_our_files(member, member_client, jobs, query):
    from .test_pages import URL_ATTRIBUTE

    jobs.completed(member)
    jobs.running(member)

    html = member_client.get("/videos/", query).text

    for url in URL_ATTRIBUTE.findall(html):
        assert url.startswith(("/", "?", "#")), url
    for control in re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{control}"' in html, control
    assert re.findall(r"<h([1-6])", html) == ["1"]
