"""Mounted at /api/account/ by video_saas/urls.py, before billing's account URLs (ledger/, usage/)."""

from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.AccountApi.as_view(), name="account"),
    path("export/", views.AccountExportApi.as_view(), name="export"),
]
