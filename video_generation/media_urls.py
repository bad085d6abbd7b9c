"""Mounted at /media/ by video_saas/urls.py."""

from django.urls import path

from .media_views import signed_media

urlpatterns = [
    path("<str:token>/<str:filename>", signed_media, name="signed-media"),
]
