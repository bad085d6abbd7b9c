"""The Account pages (webapp/account_views.py), under the webapp namespace."""

from django.urls import path

from . import account_views

urlpatterns = [
    path("account/", account_views.overview, name="account"),
    path("account/checkout/", account_views.checkout, name="account_checkout"),
    path("account/payment/done/", account_views.payment_done, name="account_payment_done"),
    path("account/payment/cancelled/", account_views.payment_cancelled, name="account_payment_cancelled"),
    path("account/billing-portal/", account_views.portal, name="account_portal"),
    path("account/ledger/", account_views.ledger, name="account_ledger"),
    path("account/usage/", account_views.usage, name="account_usage"),
    path("account/export/", account_views.export, name="account_export"),
    path("account/delete/", account_views.delete, name="account_delete"),
    path("account/deleted/", account_views.deleted, name="account_deleted"),
]
