"""POST/GET /api/keys/ and DELETE /api/keys/{id}/: the caller's own keys, never a secret except once at creation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from video_generation.serializers import AuthErrorSerializer, ErrorSerializer, ValidationErrorSerializer
from video_saas.pagination import StrictPageNumberPagination

from . import services
from .models import ApiKey
from .permissions import ANY_SCOPE
from .serializers import KeyCreatedSerializer, KeyCreateSerializer, KeySerializer

_AUTH_ERROR = OpenApiResponse(AuthErrorSerializer, description="Missing or invalid key.")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description='{"error": "Not found"}')


def request_key(request) -> ApiKey | None:
    """The key the request came with, or None for a session."""
    return request.auth if isinstance(request.auth, ApiKey) else None


class KeyListCreateApi(APIView):
    required_scope = ANY_SCOPE  # what a key may create or revoke is bounded by its own scopes (services)
    pagination_class = StrictPageNumberPagination

    @extend_schema(operation_id="keys_list", summary="Your API keys that are not revoked (never their secrets)",
                   responses={200: KeySerializer(many=True), 401: _AUTH_ERROR,
                              404: OpenApiResponse(ErrorSerializer, description="Page out of range.")})
    def get(self, request):
        keys = services.listed_keys(request.user)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(keys, request, view=self)
        return paginator.get_paginated_response(KeySerializer(page, many=True).data)

    @extend_schema(operation_id="keys_create", summary="Create an API key; its secret is in this answer only",
                   request=KeyCreateSerializer,
                   responses={201: KeyCreatedSerializer, 400: ValidationErrorSerializer, 401: _AUTH_ERROR})
    def post(self, request):
        body = KeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.issue_key(user=request.user, issuer=request_key(request), **body.validated_data)
        data = {"key": issued.secret, **KeySerializer(issued.api_key).data}
        return Response(data, status=status.HTTP_201_CREATED)


class KeyRevokeApi(APIView):
    required_scope = ANY_SCOPE

    @extend_schema(operation_id="keys_revoke", summary="Revoke one of your API keys: it stops working at once",
                   responses={204: None, 400: ValidationErrorSerializer, 401: _AUTH_ERROR, 404: _NOT_FOUND})
    def delete(self, request, key_id: str):
        parsed = services.parse_key_id(key_id)
        if parsed is None or not services.revoke_key(user=request.user, key_id=parsed, revoker=request_key(request)):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
