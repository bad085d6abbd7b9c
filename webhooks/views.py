"""The webhooks API: one view per operation, each validating, calling a service and serializing. Another user's
endpoint or delivery is indistinguishable from one that does not exist (404)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from video_generation.api_errors import Conflict
from video_generation.serializers import (
    AuthErrorSerializer,
    BodyTooLargeSerializer,
    ErrorSerializer,
    ServerErrorSerializer,
    ValidationErrorSerializer,
)
from video_saas.pagination import StrictPageNumberPagination

from . import services
from .models import SUBSCRIBABLE_EVENTS, Delivery, Endpoint, EventType
from .serializers import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    PageSerializer,
    RotatedSecretSerializer,
)

_AUTH = OpenApiResponse(AuthErrorSerializer, description="Missing or invalid token.")
_SERVER = OpenApiResponse(ServerErrorSerializer, description="Unexpected error.")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such endpoint or delivery of yours.")
_PAGE_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Page out of range.")
_CONFLICT = OpenApiResponse(ErrorSerializer, description="The endpoint is disabled, or you have the most allowed.")
_TOO_LARGE = OpenApiResponse(BodyTooLargeSerializer, description="Body over the size limit.")


def own_endpoint(request, endpoint_id: str) -> Endpoint:
    endpoint = services.endpoint_of(request.user, endpoint_id)
    if endpoint is None:
        raise exceptions.NotFound()
    return endpoint


def own_delivery(request, delivery_id: str) -> Delivery:
    found = services.delivery_of(request.user, delivery_id)
    if found is None:
        raise exceptions.NotFound()
    return found


class EndpointListCreateApi(APIView):
    pagination_class = StrictPageNumberPagination

    @extend_schema(operation_id="webhooks_endpoints_list", summary="Your webhook endpoints, newest first",
                   parameters=[OpenApiParameter("page", int, description="Page number (1-based).")],
                   responses={200: EndpointSerializer(many=True), 400: ValidationErrorSerializer, 401: _AUTH,
                              404: _PAGE_NOT_FOUND, 500: _SERVER})
    def get(self, request):
        PageSerializer(data=request.query_params.dict()).is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Endpoint.objects.filter(user=request.user), request, view=self)
        return paginator.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_endpoints_create", summary="Register a webhook endpoint",
        description=f"Events: {', '.join(SUBSCRIBABLE_EVENTS)} (default: all). The answer carries the "
                    "endpoint's signing secret (`whsec_...`), shown this once.",
        request=EndpointCreateSerializer,
        responses={201: EndpointCreatedSerializer, 400: ValidationErrorSerializer, 401: _AUTH, 409: _CONFLICT,
                   413: _TOO_LARGE, 500: _SERVER})
    def post(self, request):
        data = EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = services.endpoint_create(user=request.user, **data.validated_data)
        except services.EndpointLimitReached as refused:
            raise Conflict(str(refused)) from None
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(APIView):
    @extend_schema(operation_id="webhooks_endpoints_read", summary="One of your webhook endpoints",
                   responses={200: EndpointSerializer, 401: _AUTH, 404: _NOT_FOUND, 500: _SERVER})
    def get(self, request, endpoint_id: str):
        return Response(EndpointSerializer(own_endpoint(request, endpoint_id)).data)

    @extend_schema(operation_id="webhooks_endpoints_update",
                   summary="Change an endpoint's URL, events, description, or enable or disable it",
                   request=EndpointUpdateSerializer,
                   responses={200: EndpointSerializer, 400: ValidationErrorSerializer, 401: _AUTH, 404: _NOT_FOUND,
                              413: _TOO_LARGE, 500: _SERVER})
    def patch(self, request, endpoint_id: str):
        endpoint = own_endpoint(request, endpoint_id)
        data = EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(EndpointSerializer(services.endpoint_update(endpoint, **data.validated_data)).data)

    @extend_schema(operation_id="webhooks_endpoints_delete",
                   summary="Delete an endpoint (and its delivery history)",
                   responses={204: None, 401: _AUTH, 404: _NOT_FOUND, 500: _SERVER})
    def delete(self, request, endpoint_id: str):
        own_endpoint(request, endpoint_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(APIView):
    @extend_schema(operation_id="webhooks_endpoints_rotate_secret",
                   summary="Replace the endpoint's signing secret (the old one signs too for 24 hours)",
                   request=None,
                   responses={200: RotatedSecretSerializer, 401: _AUTH, 404: _NOT_FOUND, 500: _SERVER})
    def post(self, request, endpoint_id: str):
        endpoint = services.endpoint_rotate_secret(own_endpoint(request, endpoint_id))
        return Response(RotatedSecretSerializer({"id": endpoint.id, "secret": endpoint.secret,
                                                 "previous_secret_expires_at":
                                                     endpoint.previous_secret_expires_at}).data)


class EndpointTestApi(APIView):
    @extend_schema(operation_id="webhooks_endpoints_test",
                   summary=f"Send a {EventType.TEST.value} event to the endpoint", request=None,
                   responses={202: DeliverySerializer, 401: _AUTH, 404: _NOT_FOUND, 409: _CONFLICT, 500: _SERVER})
    def post(self, request, endpoint_id: str):
        try:
            sent = services.send_test(own_endpoint(request, endpoint_id))
        except services.EndpointDisabled as refused:
            raise Conflict(str(refused)) from None
        return Response(DeliverySerializer(sent).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(APIView):
    pagination_class = StrictPageNumberPagination

    @extend_schema(
        operation_id="webhooks_deliveries_list", summary="Your webhook deliveries, newest first",
        parameters=[
            OpenApiParameter("endpoint", OpenApiTypes.UUID, description="Only those to this endpoint."),
            OpenApiParameter("event_type", str, enum=list(EventType.values), description="Only this event type."),
            OpenApiParameter("job", OpenApiTypes.UUID, description="Only the events of this job."),
            OpenApiParameter("outcome", str, enum=["pending", "succeeded", "failed"],
                             description="Only deliveries in this state."),
            OpenApiParameter("page", int, description="Page number (1-based)."),
        ],
        responses={200: DeliverySerializer(many=True), 400: ValidationErrorSerializer, 401: _AUTH,
                   404: _PAGE_NOT_FOUND, 500: _SERVER})
    def get(self, request):
        filters = DeliveryFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        wanted = {name: value for name, value in filters.validated_data.items() if name != "page"}
        rows = services.deliveries_of(request.user, **wanted)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryDetailApi(APIView):
    @extend_schema(operation_id="webhooks_deliveries_read", summary="One delivery, with its event and attempts",
                   responses={200: DeliveryDetailSerializer, 401: _AUTH, 404: _NOT_FOUND, 500: _SERVER})
    def get(self, request, delivery_id: str):
        return Response(DeliveryDetailSerializer(own_delivery(request, delivery_id)).data)


class DeliveryReplayApi(APIView):
    @extend_schema(operation_id="webhooks_deliveries_replay",
                   summary="Send the delivery's event again (a new delivery, the same webhook-id)",
                   request=None,
                   responses={202: DeliverySerializer, 401: _AUTH, 404: _NOT_FOUND, 409: _CONFLICT, 500: _SERVER})
    def post(self, request, delivery_id: str):
        try:
            copy = services.replay(own_delivery(request, delivery_id))
        except services.EndpointDisabled as refused:
            raise Conflict(str(refused)) from None
        return Response(DeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)
