from django.apps import AppConfig


class WebappConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webapp"
    verbose_name = "Web app"

    def ready(self):
        from . import newvideo_receivers  # noqa: F401  (connects its receivers)
