"""OpenAPI generation (drf-spectacular) that says what the serializers enforce."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

from .serializers import RejectUnknownFieldsMixin


class VideoSaasAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if isinstance(serializer, RejectUnknownFieldsMixin):
            schema["additionalProperties"] = False  # unknown fields are answered 400, not ignored
        return schema
