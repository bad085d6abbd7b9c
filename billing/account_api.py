"""The account API: the caller's plan and balances, their credit ledger, their usage per day."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from video_generation.serializers import ErrorSerializer, ValidationErrorSerializer
from video_generation.views import _AUTH_ERROR, _SERVER_ERROR
from video_saas.pagination import StrictPageNumberPagination

from . import services
from .models import EntryKind, LedgerEntry

DEFAULT_USAGE_DAYS = 30


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    monthly_credits = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    price_usd = serializers.CharField(help_text="Per month, a decimal string.")
    max_scenes = serializers.IntegerField()
    max_jobs_in_flight = serializers.IntegerField()
    allowed_qualities = serializers.ListField(child=serializers.CharField(), allow_null=True,
                                              help_text="null: every quality.")
    unlimited = serializers.BooleanField()


class CreditsSerializer(serializers.Serializer):
    available = serializers.IntegerField(allow_null=True, help_text="Granted + purchased - held; null: unlimited.")
    held = serializers.IntegerField(help_text="Held by videos in progress.")
    granted = serializers.IntegerField(help_text="Left of this period's plan credits (they expire at its end).")
    purchased = serializers.IntegerField(help_text="Bought credits (they do not expire).")


class AccountSerializer(serializers.Serializer):
    username = serializers.CharField()
    plan = PlanSerializer()
    credits = CreditsSerializer()
    videos_this_month = serializers.IntegerField(help_text="Videos delivered in the current period.")
    period_ends_at = serializers.DateTimeField(help_text="When the period's unused plan credits expire and the "
                                                         "next grant comes.")


class LedgerEntrySerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", allow_null=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "job", "payment_ref", "memo", "created_at"]
        read_only_fields = fields
        extra_kwargs = {"amount": {"help_text": "The change to your available credits."},
                        "balance_after": {"help_text": "Your available credits after it."}}


class LedgerFilterSerializer(serializers.Serializer):
    job = serializers.UUIDField(required=False, help_text="Only the entries of this job.")


class UsageFilterSerializer(serializers.Serializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so these fields cannot be declared as class attributes.
        self.fields["from"] = serializers.DateField(required=False, help_text="First day (default: 29 days "
                                                                             "before `to`).")
        self.fields["to"] = serializers.DateField(required=False, help_text="Last day, inclusive (default: today).")

    def validate(self, attrs):
        end = attrs.get("to") or timezone.localdate()
        start = attrs.get("from") or end - timedelta(days=DEFAULT_USAGE_DAYS - 1)
        return {"start": start, "end": end}


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    videos = serializers.IntegerField(help_text="Videos delivered that day.")
    seconds = serializers.FloatField(help_text="Seconds of finished video delivered.")
    credits = serializers.IntegerField(help_text="Credits charged.")
    provider_cost_usd = serializers.CharField(help_text="What the providers charged for the jobs that ended that "
                                                        "day, a decimal string.")


class UsageSerializer(serializers.Serializer):
    days = UsageDaySerializer(many=True, help_text="Days with activity, oldest first.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.DateField()
        self.fields["to"] = serializers.DateField()


class AccountApi(APIView):
    required_scope = "account:read"  # api_keys.permissions.KeyHasScope
    @extend_schema(operation_id="account", summary="Your plan, credit balances and this period's usage",
                   responses={200: AccountSerializer, 401: _AUTH_ERROR, 500: _SERVER_ERROR})
    def get(self, request):
        return Response(AccountSerializer(services.summary(request.user)).data)


class LedgerPagination(StrictPageNumberPagination):
    page_size = 50


class LedgerApi(APIView):
    required_scope = "account:read"  # api_keys.permissions.KeyHasScope
    pagination_class = LedgerPagination

    @extend_schema(
        operation_id="account_ledger",
        summary="Your credit ledger, newest first",
        description="Every change to your credits: `grant` (plan credits for a period), `purchase`, `hold` (a video "
                    "accepted at its quote), `capture` (a video delivered), `release` (a hold ended), `refund`, "
                    "`expire` (unused plan credits at a period's end), `adjust` (a correction by our staff). "
                    f"Kinds: {', '.join(EntryKind.values)}.",
        parameters=[OpenApiParameter("job", OpenApiTypes.UUID, description="Only the entries of this job (its id)."),
                    OpenApiParameter("page", int, description="Page number (1-based).")],
        responses={200: LedgerEntrySerializer(many=True), 400: ValidationErrorSerializer, 401: _AUTH_ERROR,
                   404: OpenApiResponse(ErrorSerializer, description="Page out of range."), 500: _SERVER_ERROR},
    )
    def get(self, request):
        filters = LedgerFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        rows = services.entries(request.user, job_id=filters.validated_data.get("job"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


class UsageApi(APIView):
    required_scope = "account:read"  # api_keys.permissions.KeyHasScope
    @extend_schema(
        operation_id="account_usage",
        summary="Your usage per day: videos, seconds, credits and provider cost",
        description="Only days with activity are listed, so any range is answered (`from` after `to` is an empty "
                    "one). Days are in the server's time zone (TIME_ZONE).",
        parameters=[OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 29 days before "
                                                                           "`to`)."),
                    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, inclusive (default: today).")],
        responses={200: UsageSerializer, 400: ValidationErrorSerializer, 401: _AUTH_ERROR, 500: _SERVER_ERROR},
    )
    def get(self, request):
        filters = UsageFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        start, end = filters.validated_data["start"], filters.validated_data["end"]
        days = services.usage_per_day(request.user, start=start, end=end)
        return Response(UsageSerializer({"from": start, "to": end, "days": days}).data)
