"""The `keys` scenario's URLconf: the product's URLs plus one bare view. Only bench.keys_settings names it;
nothing in production imports this module.

The bare view is a DRF APIView with the product's authentication and permission classes (the API key, its scope)
that answers a tiny constant body: what a status read would cost if reading and showing the job were free.
"""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from .keys import BARE_PATH


class BareKeyApi(APIView):
    required_scope = "jobs:read"  # the status read's scope, so the same permission work is done

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path(BARE_PATH, BareKeyApi.as_view()),
    path("", include("video_saas.urls")),
]
