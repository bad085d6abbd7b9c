from django.urls import path

from . import catalog_views

app_name = "catalog"

urlpatterns = [
    path("avatars/", catalog_views.CatalogAvatarsApi.as_view(), name="avatars"),
    path("voices/", catalog_views.CatalogVoicesApi.as_view(), name="voices"),
]
