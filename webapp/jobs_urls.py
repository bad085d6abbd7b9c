"""The videos list and a job's page (included in webapp/urls.py: the names are in the `webapp` namespace)."""

from django.urls import path

from . import jobs_views

urlpatterns = [
    path("videos/", jobs_views.videos, name="videos"),
    path("videos/<uuid:job_id>/", jobs_views.job_page, name="job"),
    path("videos/<uuid:job_id>/live/", jobs_views.job_live, name="job_live"),
    path("videos/<uuid:job_id>/cancel/", jobs_views.job_cancel, name="job_cancel"),
    path("videos/<uuid:job_id>/retry/", jobs_views.job_retry, name="job_retry"),
    path("videos/<uuid:job_id>/captions.vtt", jobs_views.job_captions, name="job_captions"),
    path("videos/<uuid:job_id>/download/<str:artifact>/", jobs_views.job_download, name="job_download"),
]
