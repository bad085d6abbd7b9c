"""GET /api/catalog/avatars/ and /api/catalog/voices/: what a brief's avatar_id and voice_id may be (catalog.py).

The catalogue is HeyGen's, the same for every caller: it holds nothing of any user. Paged like the job list.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.views import APIView

from video_saas.pagination import StrictPageNumberPagination

from . import catalog
from .serializers import (
    AuthErrorSerializer,
    CatalogAvatarFilterSerializer,
    CatalogAvatarSerializer,
    CatalogVoiceFilterSerializer,
    CatalogVoiceSerializer,
    ErrorSerializer,
    ServerErrorSerializer,
    ValidationErrorSerializer,
)


class CatalogUnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The avatar and voice catalogue cannot be read just now; try again shortly."


def _responses(item_serializer) -> dict:
    return {
        200: item_serializer(many=True),
        400: ValidationErrorSerializer,
        401: OpenApiResponse(AuthErrorSerializer, description="Missing or invalid token."),
        404: OpenApiResponse(ErrorSerializer, description="Page out of range."),
        500: ServerErrorSerializer,
        503: OpenApiResponse(ErrorSerializer, description="HeyGen's catalogue cannot be read just now."),
    }


_PAGE = OpenApiParameter("page", int, description="Page number (1-based).")


class CatalogListApi(APIView):
    """One catalogue's list; a subclass names the catalogue, its filters and its items, and gets its schema."""

    required_scope = "jobs:read"  # api_keys.permissions.KeyHasScope
    pagination_class = StrictPageNumberPagination
    kind: str
    filter_serializer: type
    item_serializer: type
    summary: str
    description: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        def get(self, request):
            return self.list(request)

        cls.get = extend_schema(
            operation_id=f"catalog_{cls.kind}", summary=cls.summary, description=cls.description,
            parameters=[cls.filter_serializer, _PAGE], responses=_responses(cls.item_serializer),
        )(get)

    def list(self, request):
        filters = self.filter_serializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        try:
            items = catalog.LOADERS[self.kind]().select(**filters.validated_data)
        except catalog.CatalogUnavailable:
            raise CatalogUnavailableError() from None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self.item_serializer(page, many=True).data)


class CatalogAvatarsApi(CatalogListApi):
    kind = catalog.AVATARS
    filter_serializer = CatalogAvatarFilterSerializer
    item_serializer = CatalogAvatarSerializer
    summary = "The avatars a video may use (HeyGen's catalogue), with preview images"
    description = ("Each avatar's `avatar_id` is what generate takes; generate and quote refuse an id that is not "
                   "here (400), except while the catalogue cannot be read. `transparent` says how it is rendered.")


class CatalogVoicesApi(CatalogListApi):
    kind = catalog.VOICES
    filter_serializer = CatalogVoiceFilterSerializer
    item_serializer = CatalogVoiceSerializer
    summary = "The voices a presenter may speak with (HeyGen's catalogue)"
    description = ("Each voice's `voice_id` is what generate takes; generate and quote refuse an id that is not "
                   "here (400), except while the catalogue cannot be read.")
