from django.urls import path

from . import account_api

app_name = "account"

# GET /api/account/ is account_api.AccountApi, served by accounts/urls.py (with DELETE: the erasure).
urlpatterns = [
    path("ledger/", account_api.LedgerApi.as_view(), name="ledger"),
    path("usage/", account_api.UsageApi.as_view(), name="usage"),
]
