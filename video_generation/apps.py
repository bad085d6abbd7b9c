from django.apps import AppConfig


class VideoGenerationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "video_generation"
    verbose_name = "Video generation"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the configuration checks)
