from django.urls import path

from . import views

app_name = "api_keys"

urlpatterns = [
    path("", views.KeyListCreateApi.as_view(), name="keys"),
    path("<str:key_id>/", views.KeyRevokeApi.as_view(), name="key"),
]
