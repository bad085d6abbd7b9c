"""Provider clients for the pipeline, one per process (they hold connection pools): one HeyGen client, and one
Veo client per model (the model is part of every Vertex URL)."""

from __future__ import annotations

from functools import cache

from ..services.heygen_service import HeyGenService
from ..services.veo_service import VeoService


@cache
def veo(model_id: str) -> VeoService:
    return VeoService(model_id=model_id)


@cache
def heygen() -> HeyGenService:
    return HeyGenService()
