from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("endpoints/", views.EndpointListCreateApi.as_view(), name="endpoints"),
    path("endpoints/<str:endpoint_id>/", views.EndpointDetailApi.as_view(), name="endpoint"),
    path("endpoints/<str:endpoint_id>/rotate-secret/", views.EndpointRotateSecretApi.as_view(),
         name="endpoint-rotate-secret"),
    path("endpoints/<str:endpoint_id>/test/", views.EndpointTestApi.as_view(), name="endpoint-test"),
    path("deliveries/", views.DeliveryListApi.as_view(), name="deliveries"),
    path("deliveries/<str:delivery_id>/", views.DeliveryDetailApi.as_view(), name="delivery"),
    path("deliveries/<str:delivery_id>/replay/", views.DeliveryReplayApi.as_view(), name="delivery-replay"),
]
