"""Configuration errors caught by `manage.py check` (and every management command) before a job pays for them."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from .rate_limits import parse_rate
from .services.veo_service import supported_resolutions


@checks.register(checks.Tags.compatibility)
def provider_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    errors = veo_resolution_errors() + veo_price_errors()
    if settings.HEYGEN_API_VERSION not in ("v2", "v3"):
        errors.append(checks.Error(f"HEYGEN_API_VERSION={settings.HEYGEN_API_VERSION!r} is not v3 or v2",
                                   id="video_generation.E002"))
    try:
        parse_rate(settings.GENERATE_RATE_LIMIT)
    except ValueError as exc:
        errors.append(checks.Error(f"GENERATE_RATE_LIMIT: {exc}", id="video_generation.E003"))
    return errors


def veo_resolution_errors() -> list[checks.CheckMessage]:
    """VEO_RESOLUTION must be offered by every model a job can choose (VEO_MODELS)."""
    errors = []
    for quality, model_id in settings.VEO_MODELS.items():
        allowed = supported_resolutions(model_id)
        if settings.VEO_RESOLUTION not in allowed:
            errors.append(checks.Error(
                f"VEO_RESOLUTION={settings.VEO_RESOLUTION!r} is not offered by the {quality} model {model_id!r} "
                f"(VEO_MODELS)", hint=f"Use one of: {', '.join(sorted(allowed))}.", id="video_generation.E001"))
    return errors


def veo_price_errors() -> list[checks.CheckMessage]:
    """Every model a job can choose has a price (a step of a model without one could not record its cost)."""
    prices = settings.PROVIDER_PRICES["veo_per_second"]
    return [checks.Error(f"the {quality} model {model_id!r} (VEO_MODELS) has no price in PROVIDER_PRICES",
                         hint="Give it an 'audio' and a 'silent' USD price per second.", id="video_generation.E004")
            for quality, model_id in settings.VEO_MODELS.items()
            if not {"audio", "silent"} <= set(prices.get(model_id, {}))]
