from django.apps import AppConfig


class VideoGenerationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "video_generation"
    verbose_name = "Video generation"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the configuration checks)

        export_metrics()


def export_metrics() -> None:
    """Every metric family with its known label values at zero, from the moment the process starts."""
    from billing.plans import SEED_PLANS
    from video_saas import metrics

    from .models import StepKind
    from .pipeline.plan import PROVIDER_OF_KIND

    metrics.export_known_series(failure_stages=StepKind.values, step_kinds=PROVIDER_OF_KIND.items(),
                                plans=SEED_PLANS)
