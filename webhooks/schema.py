"""The endpoint URL field in the OpenAPI schema: the pattern the server enforces (https-only where required)."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from .serializers import EndpointUrlField, endpoint_url_pattern


class EndpointUrlFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EndpointUrlField
    priority = 1  # before the HttpUrlField extension it would otherwise match as a subclass

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "maxLength": self.target.max_length, "pattern": endpoint_url_pattern()}
