"""The OpenAPI security scheme of ApiKeyAuthentication (drf-spectacular finds it once this module is imported)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api_keys.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "vsk_live_…",
                "description": "An API key (POST /api/keys/ or `manage.py create_api_token`), sent as "
                               "`Authorization: Bearer <key>` or `Authorization: Token <key>`."}
