from django.urls import path

from . import account_api

app_name = "account"

urlpatterns = [
    path("", account_api.AccountApi.as_view(), name="account"),
    path("ledger/", account_api.LedgerApi.as_view(), name="ledger"),
    path("usage/", account_api.UsageApi.as_view(), name="usage"),
]
