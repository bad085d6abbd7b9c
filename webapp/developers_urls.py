"""/developers/...: API keys and webhooks (webapp/developers_views.py)."""

from django.urls import path

from . import developers_views as views

urlpatterns = [
    path("developers/", views.developers, name="developers"),
    path("developers/keys/", views.key_create, name="developers_key_create"),
    path("developers/keys/<str:key_id>/revoke/", views.key_revoke, name="developers_key_revoke"),
    path("developers/webhooks/", views.endpoint_create, name="developers_endpoint_create"),
    path("developers/webhooks/endpoints/<str:endpoint_id>/", views.endpoint, name="developers_endpoint"),
    path("developers/webhooks/endpoints/<str:endpoint_id>/edit/", views.endpoint_edit,
         name="developers_endpoint_edit"),
    path("developers/webhooks/endpoints/<str:endpoint_id>/rotate-secret/", views.endpoint_rotate_secret,
         name="developers_endpoint_rotate_secret"),
    path("developers/webhooks/endpoints/<str:endpoint_id>/test/", views.endpoint_test,
         name="developers_endpoint_test"),
    path("developers/webhooks/endpoints/<str:endpoint_id>/delete/", views.endpoint_delete,
         name="developers_endpoint_delete"),
    path("developers/webhooks/deliveries/", views.deliveries, name="developers_deliveries"),
    path("developers/webhooks/deliveries/<str:delivery_id>/", views.delivery, name="developers_delivery"),
    path("developers/webhooks/deliveries/<str:delivery_id>/replay/", views.delivery_replay,
         name="developers_delivery_replay"),
]
