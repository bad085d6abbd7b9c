"""OpenAPI generation (drf-spectacular) that says what the serializers enforce."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema

from .serializers import HttpUrlField, RejectUnknownFieldsMixin
from .validators import url_pattern


class VideoSaasAutoSchema(AutoSchema):
    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if getattr(serializer, "exactly_one_of", None):
            required = True  # no field is required on its own, but an empty body is refused
        return schema, required

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        _drop_redundant_blank_choice(schema)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if isinstance(serializer, RejectUnknownFieldsMixin):
            schema["additionalProperties"] = False  # unknown fields are answered 400, not ignored
        if one_of := getattr(serializer, "exactly_one_of", None):
            schema["oneOf"] = [{"required": [name]} for name in one_of]  # exactly one of these fields is sent
        return schema


def _drop_redundant_blank_choice(schema: dict) -> None:
    """drf-spectacular offers a blank-allowing string with a pattern as `oneOf: [pattern, maxLength 0]`; when the
    pattern itself takes "", the empty string matches both branches and so, under oneOf, neither. Keep the one."""
    choices = schema.get("oneOf")
    if not choices or len(choices) != 2 or choices[1] != {"type": "string", "maxLength": 0}:
        return
    inner = choices[0]
    if "format" in inner or inner.get("minLength", 0) > 0 or not re.search(inner.get("pattern", ""), ""):
        return
    del schema["oneOf"]
    schema.update(inner)


class HttpUrlFieldExtension(OpenApiSerializerFieldExtension):
    """A URL field is a string of at most MAX_URL_LENGTH matching the pattern the server enforces."""

    target_class = HttpUrlField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = {"type": "string", "maxLength": field.max_length, "pattern": url_pattern()}
        if field.allow_null:
            schema["nullable"] = True
        return schema
