"""The billing API: pay through Stripe Checkout, manage the subscription in Stripe's portal, and Stripe's webhook.

Checkout and portal need `Authorization: Token <key>` like the rest of the API and answer 503 while payments are
not configured (STRIPE_SECRET_KEY unset). The webhook is Stripe's: no authentication but its signature.
"""

from __future__ import annotations

import logging

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
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

from . import services, stripe_service
from .models import CreditPack, Plan
from .serializers import CheckoutRequestSerializer, CheckoutSerializer, PortalSerializer

logger = logging.getLogger("billing")


class PaymentsUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Payments are not configured"
    default_code = "payments_not_configured"


class PaymentProviderFailed(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The payment provider could not be reached; try again shortly"
    default_code = "payment_provider_failed"


_AUTH_ERROR = OpenApiResponse(AuthErrorSerializer, description="Missing or invalid token.")
_NOT_CONFIGURED = OpenApiResponse(ErrorSerializer, description='{"error": "Payments are not configured"} '
                                                               '(STRIPE_SECRET_KEY is not set).')
_PROVIDER_FAILED = OpenApiResponse(ErrorSerializer, description="Stripe refused the request or could not be "
                                                                "reached (logged).")
_SERVER_ERROR = OpenApiResponse(ServerErrorSerializer, description="Unexpected error (logged).")


def require_payments() -> None:
    if not stripe_service.configured():
        raise PaymentsUnavailable()


class CheckoutApi(APIView):
    required_scope = "billing"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="billing_checkout",
        summary="Pay for a plan or a credit pack: a Stripe Checkout page to send the user to",
        description='Send exactly one of `plan` (a monthly subscription) and `pack` (credits bought once). The '
                    'credits arrive when Stripe tells us the payment succeeded (its webhook), usually within '
                    'seconds of paying. 400 for a code that is not on sale or the plan you are on; 409 if you '
                    'already subscribe to another plan (change plans in the portal: GET /api/billing/portal/).',
        request=CheckoutRequestSerializer,
        responses={
            200: CheckoutSerializer,
            400: ValidationErrorSerializer,
            401: _AUTH_ERROR,
            409: OpenApiResponse(ErrorSerializer, description="You already subscribe to another plan."),
            413: OpenApiResponse(BodyTooLargeSerializer, description="The body is over REQUEST_MAX_BODY_BYTES."),
            500: _SERVER_ERROR,
            502: _PROVIDER_FAILED,
            503: _NOT_CONFIGURED,
        },
    )
    def post(self, request):
        require_payments()
        serializer = CheckoutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account(request.user)
        try:
            if plan_code := serializer.validated_data.get("plan"):
                checkout = subscribe(account, Plan.objects.get(code=plan_code))
            else:
                pack = CreditPack.objects.get(code=serializer.validated_data["pack"])
                checkout = stripe_service.checkout_pack(account, pack)
        except stripe_service.PaymentProviderError:
            raise PaymentProviderFailed() from None
        return Response({"checkout_url": checkout.url, "session_id": checkout.session_id})


def subscribe(account, plan: Plan) -> stripe_service.Checkout:
    try:
        return stripe_service.subscribe(account, plan)
    except stripe_service.AlreadyOnPlan:
        raise serializers.ValidationError({"plan": [f"You are on the {plan.name} plan already."]}) from None
    except stripe_service.AlreadySubscribed:
        raise Conflict("You already subscribe to a plan; change plans in the billing portal "
                       "(GET /api/billing/portal/).") from None


class PortalApi(APIView):
    required_scope = "billing"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="billing_portal",
        summary="Stripe's billing portal: change or cancel the subscription, see invoices, update the card",
        description="409 until you have paid through Checkout once (you have no Stripe customer before that).",
        responses={
            200: PortalSerializer,
            401: _AUTH_ERROR,
            409: OpenApiResponse(ErrorSerializer, description="You have not paid through Stripe yet."),
            500: _SERVER_ERROR,
            502: _PROVIDER_FAILED,
            503: _NOT_CONFIGURED,
        },
    )
    def get(self, request):
        require_payments()
        account = services.account(request.user)
        try:
            url = stripe_service.portal_url(account)
        except stripe_service.NoCustomer:
            raise Conflict("You have no billing account yet: buy a plan or a pack first "
                           "(POST /api/billing/checkout/).") from None
        except stripe_service.PaymentProviderError:
            raise PaymentProviderFailed() from None
        return Response({"portal_url": url})


class StripeWebhookApi(APIView):
    """Stripe's event deliveries. Not part of the client API's schema: only Stripe can sign a request to it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request):
        try:
            event = stripe_service.verified_event(request.body, request.headers.get("Stripe-Signature"))
        except stripe_service.PaymentsNotConfigured:
            raise PaymentsUnavailable() from None
        except stripe_service.InvalidWebhook as refused:
            logger.warning("Stripe webhook refused: %s", refused)
            return Response({"error": str(refused)}, status=status.HTTP_400_BAD_REQUEST)
        outcome = stripe_service.handle_event(event)
        return Response({"received": True, "outcome": outcome})
