from django.urls import path

from . import newvideo_views

urlpatterns = [
    path("videos/new/", newvideo_views.new_video, name="new_video"),
    path("videos/new/quote/", newvideo_views.new_video_quote, name="new_video_quote"),
    path("videos/new/scenes/", newvideo_views.new_video_scenes, name="new_video_scenes"),
    path("videos/new/preview/", newvideo_views.catalogue_preview, name="catalogue_preview"),
]
