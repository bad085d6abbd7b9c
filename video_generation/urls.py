from django.urls import path

from . import views

app_name = "video_generation"

urlpatterns = [
    path("generate/", views.VideoGenerateApi.as_view(), name="generate"),
    path("quote/", views.VideoQuoteApi.as_view(), name="quote"),
    path("status/<str:job_id>/", views.JobStatusApi.as_view(), name="status"),
    path("list_jobs/", views.JobListApi.as_view(), name="list_jobs"),
    path("<str:job_id>/cancel/", views.JobCancelApi.as_view(), name="cancel"),
    path("<str:job_id>/download/", views.JobDownloadApi.as_view(), name="download"),
    path("health/", views.HealthApi.as_view(), name="health"),
]
