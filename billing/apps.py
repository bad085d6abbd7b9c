from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Plans, credits and billing"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from video_generation.rate_limits import register_rate_override
        from video_generation.retention import register_video_retention

        from . import receivers, services

        receivers.connect_user_signal(get_user_model())
        register_rate_override(services.plan_rate_limit)
        register_video_retention(services.plan_video_retention)
