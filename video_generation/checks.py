"""Configuration errors caught by `manage.py check` (and every management command) before a job pays for them."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from .rate_limits import parse_rate
from .services.veo_service import supported_resolutions


@checks.register(checks.Tags.compatibility)
def provider_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    allowed = supported_resolutions(settings.VEO_MODEL_ID)
    if settings.VEO_RESOLUTION not in allowed:
        errors.append(checks.Error(
            f"VEO_RESOLUTION={settings.VEO_RESOLUTION!r} is not offered by VEO_MODEL_ID={settings.VEO_MODEL_ID!r}",
            hint=f"Use one of: {', '.join(sorted(allowed))}.", id="video_generation.E001"))
    if settings.HEYGEN_API_VERSION not in ("v2", "v3"):
        errors.append(checks.Error(f"HEYGEN_API_VERSION={settings.HEYGEN_API_VERSION!r} is not v3 or v2",
                                   id="video_generation.E002"))
    try:
        parse_rate(settings.GENERATE_RATE_LIMIT)
    except ValueError as exc:
        errors.append(checks.Error(f"GENERATE_RATE_LIMIT: {exc}", id="video_generation.E003"))
    return errors
