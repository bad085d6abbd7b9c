from __future__ import annotations

from rest_framework import serializers

from video_generation.serializers import RejectUnknownFieldsMixin, text

from .models import ApiKey, Scope


class KeyCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    name = text(max_length=100, help_text="What the key is for, e.g. \"CI\" or \"billing export\".")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), required=False, max_length=len(Scope.values),
        help_text="What the key may do; empty or absent: everything. A key can only create keys with scopes it has.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True,
        help_text="When the key stops working (in the future). Absent or null: API_KEY_DEFAULT_LIFETIME_DAYS from "
                  "now, or never if that is unset; never later than the expiry of the key that creates it.")


class KeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at"]
        read_only_fields = fields

    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices),
                                   help_text="Empty: every scope.")


class KeyCreatedSerializer(KeySerializer):
    key = serializers.CharField(help_text="The secret: shown in this answer only. Store it now.")

    class Meta(KeySerializer.Meta):
        fields = ["key", *KeySerializer.Meta.fields]
        read_only_fields = fields
