from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("checkout/", views.CheckoutApi.as_view(), name="checkout"),
    path("portal/", views.PortalApi.as_view(), name="portal"),
    path("stripe-webhook/", views.StripeWebhookApi.as_view(), name="stripe-webhook"),
]
