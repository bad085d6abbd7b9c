from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api_keys"
    verbose_name = "API keys"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI security scheme)
