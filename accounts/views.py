"""`/api/account/`: GET (billing's account summary) and DELETE (erase the account); `/api/account/export/`."""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.account_api import AccountApi as BillingAccountApi
from billing.account_api import AccountSerializer, LedgerEntrySerializer
from video_generation.api_errors import UnprocessableRequest
from video_generation.schema import VideoSaasAutoSchema
from video_generation.serializers import (
    ErrorSerializer,
    RejectUnknownFieldsMixin,
    ValidationErrorSerializer,
)
from video_generation.views import _AUTH_ERROR, _SERVER_ERROR

from . import services


@extend_schema_field({"type": "string", "minLength": 1})
class ConfirmationField(serializers.Field):
    """Any non-empty string, taken as sent: whether it is the caller's username is decided by the view (422)."""

    default_error_messages = {"invalid": "Must be a non-empty string: your username."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class EraseConfirmationSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The body of DELETE /api/account/."""

    confirm = ConfirmationField(help_text="Your username, to confirm that the account and everything in it is to be "
                                          "erased.")


NOT_CONFIRMED = "The confirmation is not your username: nothing was erased."


class BodyOnDeleteSchema(VideoSaasAutoSchema):
    """drf-spectacular documents a body only for POST, PUT and PATCH; this DELETE takes one (its confirmation)."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"  # the body is documented as for a POST; the operation stays the DELETE
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class AccountApi(BillingAccountApi):
    """GET is billing's summary; DELETE erases the account (accounts/services.py erase_account)."""

    schema = BodyOnDeleteSchema()
    required_scope_by_method = {"DELETE": None}  # reading needs account:read; erasing, an unrestricted key

    @extend_schema(
        operation_id="account_delete",
        summary="Erase your account: your jobs, stored files, keys and webhook endpoints",
        description="Send `{\"confirm\": \"<your username>\"}` (none: 400; another name: 422; nothing is erased "
                    "either way). Running jobs are cancelled first (not charged), "
                    "then every file of your jobs is deleted from storage, then your jobs, API keys, "
                    "webhook endpoints and your user. Only an anonymised record of money is kept (your credit "
                    "ledger and one usage row per job, naming neither you nor your content). Your credentials stop "
                    "working at once. A running paid subscription must be cancelled first (409).",
        request=EraseConfirmationSerializer,
        responses={204: OpenApiResponse(description="Erased."),
                   400: OpenApiResponse(ValidationErrorSerializer, description="No confirmation (nothing erased)."),
                   401: _AUTH_ERROR,
                   409: OpenApiResponse(ErrorSerializer, description="A paid subscription is still active."),
                   422: OpenApiResponse(ErrorSerializer, description="The confirmation is not your username "
                                                                     "(nothing erased)."),
                   500: _SERVER_ERROR},
    )
    def delete(self, request):
        user = request.user
        confirmation = EraseConfirmationSerializer(data=request.data if isinstance(request.data, dict) else {})
        confirmation.is_valid(raise_exception=True)  # no confirmation at all: 400
        try:
            services.erase_confirmed_account(user, confirmation.validated_data["confirm"])
        except services.NotConfirmed:
            raise UnprocessableRequest(NOT_CONFIRMED) from None  # a well-formed one that names someone else: 422
        except services.SubscriptionActive:
            return Response({"error": "Cancel your paid subscription first (POST /api/billing/portal/)."},
                            status=status.HTTP_409_CONFLICT)
        if hasattr(request._request, "session"):
            logout(request._request)  # a fresh, empty session: nothing of the user's is written back
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Export: documented by these serializers, produced as a stream by services.export_account -------------------

class ExportStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error_message = serializers.CharField(allow_blank=True)
    cost_usd = serializers.CharField(help_text="A decimal string.")


class ExportPositionSerializer(serializers.Serializer):
    scale = serializers.FloatField()
    x = serializers.FloatField()
    y = serializers.FloatField()


class ExportBriefSerializer(serializers.Serializer):
    product_id = serializers.CharField(allow_null=True)
    product_title = serializers.CharField()
    scenes = serializers.ListField(child=serializers.DictField())
    avatar_script = serializers.CharField()
    avatar_id = serializers.CharField()
    voice_id = serializers.CharField()
    image_url = serializers.CharField()
    aspect_ratio = serializers.CharField()
    quality = serializers.CharField()
    broll_audio = serializers.BooleanField()
    captions = serializers.DictField(help_text="{enabled, style, position}.")
    broll_fit = serializers.CharField()
    scene_transitions = serializers.CharField()
    avatar_position = ExportPositionSerializer()
    webhook_url = serializers.CharField(allow_null=True, help_text="Any credential in it is redacted.")


class ExportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    error_message = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    brief = ExportBriefSerializer()
    credits_quoted = serializers.IntegerField(allow_null=True)
    credits_used = serializers.IntegerField()
    cost_usd = serializers.CharField(help_text="A decimal string.")
    duration_seconds = serializers.FloatField(allow_null=True)
    processing_time_seconds = serializers.IntegerField(allow_null=True)
    expired = serializers.BooleanField()
    video_expires_at = serializers.DateTimeField(allow_null=True)
    video_expired_at = serializers.DateTimeField(allow_null=True)
    intermediates_expired_at = serializers.DateTimeField(allow_null=True)
    download = serializers.CharField(allow_null=True, help_text="The API path that issues a fresh link (no link "
                                                                "is in the export: links are credentials).")
    steps = ExportStepSerializer(many=True)


class ExportAccountSerializer(AccountSerializer):
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    date_joined = serializers.DateTimeField()


class AccountExportSerializer(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    account = ExportAccountSerializer(help_text="You, your plan, your credits and this period's usage.")
    jobs = ExportJobSerializer(many=True, help_text="Every job, oldest first, with its brief and its steps.")
    ledger = LedgerEntrySerializer(many=True, help_text="Every change to your credits, oldest first.")


class AccountExportApi(APIView):
    required_scope = "account:read"

    @extend_schema(
        operation_id="account_export",
        summary="Everything we hold about you, as one JSON document",
        description="Your account, plan and credits, every job (its brief, statuses, steps, costs and credits) and "
                    "your credit ledger. Streamed, so a big account arrives as it is read. No secret, key, token "
                    "or signed link is in it: a job's `download` is the API path that issues a fresh link.",
        responses={200: AccountExportSerializer, 401: _AUTH_ERROR, 500: _SERVER_ERROR},
    )
    def get(self, request):
        response = StreamingHttpResponse(services.export_account(request.user), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="account-export.json"'
        response["Cache-Control"] = "no-store"
        return response
