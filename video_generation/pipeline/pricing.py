"""What a video costs: credits, which the customer pays, and provider USD, which we pay. One price table
(settings.PROVIDER_PRICES), one credit unit, one quote; the API, the ledger and the steps' cost columns all use these.

The credit unit is the brief's: one credit per started 8 seconds of finished video. A video lasts as long as the
longer of its scenes' B-roll and its narration; before the render the narration is estimated from the script's words
at NARRATION_WORDS_PER_MINUTE. B-roll rendered only to cover the narration (broll_fit extend) costs us its Veo seconds
but does not make the video longer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings

from ..models import BrollFit, HeyGenMode, Quality, SceneTransitions
from . import plan

CREDIT_SECONDS = 8
USD_PLACES = Decimal("0.0001")
COMPOSE_SECONDS = 20
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def credits_for(duration_seconds: float) -> int:
    """One credit per started 8 seconds of finished video (the brief's pricing unit)."""
    return max(1, math.ceil(round(duration_seconds, 3) / CREDIT_SECONDS))


def credits_charged(duration_seconds: float, quoted_credits: int | None) -> int:
    """What a finished video is charged: its real length in credits, never more than the quote it was accepted on."""
    credits = credits_for(duration_seconds)
    return min(credits, quoted_credits) if quoted_credits else credits


def veo_model(quality: str) -> str:
    return settings.VEO_MODELS[quality]


def veo_cost(*, model_id: str, audio: bool, seconds: float) -> Decimal:
    """What Vertex charges for `seconds` of output from `model_id`, with or without audio."""
    prices = settings.PROVIDER_PRICES["veo_per_second"]
    if model_id not in prices:
        raise ValueError(f"no price for Veo model {model_id!r} in PROVIDER_PRICES")
    per_second = Decimal(prices[model_id]["audio" if audio else "silent"])
    return (per_second * Decimal(str(seconds))).quantize(USD_PLACES, ROUND_HALF_UP)


def heygen_cost(seconds: float) -> Decimal:
    """What HeyGen charges for `seconds` of presenter video."""
    per_minute = Decimal(settings.PROVIDER_PRICES["heygen_per_minute"])
    return (per_minute * Decimal(str(seconds)) / 60).quantize(USD_PLACES, ROUND_HALF_UP)


def word_count(script: str) -> int:
    """The words of a script, as the narration estimate counts them."""
    return len(_WORD.findall(script))


def narration_seconds(script: str) -> float:
    """The narration's expected length: its words at the documented speaking rate."""
    return round(word_count(script) * 60 / settings.NARRATION_WORDS_PER_MINUTE, 1)


def estimate_seconds(*, chains: list[list[plan.Clip]], heygen_mode: str) -> int:
    """Expected wall time: the longest Veo chain (chains render in parallel, a chain's clips one after another) and
    the join, the presenter (parallel in v3, after the B-roll in v2), compose."""
    pipeline = settings.PIPELINE
    longest_chain = max((len(chain) for chain in chains), default=0)
    broll = longest_chain * pipeline["VEO_EXPECTED_SECONDS"] + (10 if len(chains) > 1 else 0)
    presenter = pipeline["HEYGEN_EXPECTED_SECONDS"]
    if heygen_mode == HeyGenMode.V2:
        return int(broll + 10 + presenter + COMPOSE_SECONDS)
    return int(max(broll, presenter) + COMPOSE_SECONDS)


@dataclass(frozen=True)
class Quote:
    credits: int
    estimated_cost_usd: Decimal
    duration_seconds: float
    broll_seconds: float
    narration_seconds: float
    estimated_time_seconds: int
    quality: str
    broll_audio: bool
    model: str
    scene_transitions: str
    broll_fit: str
    scene_plan: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The quote as the API shows it and the job keeps it (the cost as a decimal string)."""
        return {
            "credits": self.credits,
            "estimated_cost_usd": str(self.estimated_cost_usd),
            "duration_seconds": self.duration_seconds,
            "broll_seconds": self.broll_seconds,
            "narration_seconds": self.narration_seconds,
            "estimated_time_seconds": self.estimated_time_seconds,
            "quality": self.quality,
            "broll_audio": self.broll_audio,
            "model": self.model,
            "scene_transitions": self.scene_transitions,
            "broll_fit": self.broll_fit,
            "scene_plan": self.scene_plan,
        }


def scene_plan(chains: list[list[plan.Clip]]) -> list[dict[str, Any]]:
    """The Veo operations of a B-roll (plan.broll_chains): chains of clips, each clip with the seconds Veo renders (and
    bills) and whether it is padding (broll_fit extend)."""
    return [{"scenes": list(dict.fromkeys(clip.scene for clip in chain)), "seconds": plan.clips_seconds(chain),
             "clips": [{"scene": clip.scene, "operation": "generate" if position == 0 else "extend",
                        "seconds": clip.seconds, "padding": clip.padding} for position, clip in enumerate(chain)]}
            for chain in chains]


def quote(data: dict[str, Any], *, heygen_mode: str | None = None) -> Quote:
    """The price of a validated generate request, computed without creating anything. The Veo operations are the
    plan's own (plan.broll_chains, as build_plan makes them), so the quote and the steps never disagree."""
    durations = plan.scene_durations(data["scenes"])
    quality = data.get("quality") or Quality.STANDARD
    audio = bool(data.get("broll_audio", False))
    transitions = data.get("scene_transitions") or SceneTransitions.CONTINUOUS
    fit = data.get("broll_fit") or BrollFit.EXTEND
    model = veo_model(quality)
    crossfade = settings.PIPELINE["CROSSFADE_SECONDS"]
    narration = narration_seconds(data["avatar_script"])
    chains = plan.broll_chains(durations, transitions=transitions, broll_fit=fit, narration_seconds=narration,
                               crossfade=crossfade)
    # The finished video lasts as long as the scenes or the narration: padding only covers the narration.
    duration = max(round(plan.broll_seconds(durations, crossfade, transitions), 1), narration)
    veo_seconds = sum(clip.seconds for chain in chains for clip in chain)
    cost = veo_cost(model_id=model, audio=audio, seconds=veo_seconds) + heygen_cost(narration)
    return Quote(
        credits=credits_for(duration),
        estimated_cost_usd=cost,
        duration_seconds=duration,
        broll_seconds=round(plan.joined_seconds(chains, crossfade), 1),
        narration_seconds=narration,
        estimated_time_seconds=estimate_seconds(chains=chains,
                                                heygen_mode=heygen_mode or settings.HEYGEN_API_VERSION),
        quality=quality,
        broll_audio=audio,
        model=model,
        scene_transitions=transitions,
        broll_fit=fit,
        scene_plan=scene_plan(chains),
    )


def job_quote(job) -> Quote:
    """The quote for a saved job's brief (a retry holds this again)."""
    data = {"scenes": job.scenes_data, "avatar_script": job.avatar_script, "quality": job.quality,
            "broll_audio": job.broll_audio, "scene_transitions": job.scene_transitions, "broll_fit": job.broll_fit}
    return quote(data, heygen_mode=job.heygen_mode)
