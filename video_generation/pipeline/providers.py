"""Provider clients for the pipeline, one per process (they hold connection pools)."""

from __future__ import annotations

from functools import cache

from ..services.heygen_service import HeyGenService
from ..services.veo_service import VeoService


@cache
def veo() -> VeoService:
    return VeoService()


@cache
def heygen() -> HeyGenService:
    return HeyGenService()
