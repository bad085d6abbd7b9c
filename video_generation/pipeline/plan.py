"""The scene plan: which provider operations a job needs and in what order.

Veo facts (Vertex AI Veo reference, "Extend Veo videos"): a generated clip is 4, 6 or 8 s; an extension adds
7 s and only accepts an input of at most 30 s, so one chain ends at 37 s at most. Scenes are therefore grouped
into chains of at most five (an 8 s base and four extensions = 36 s). Every chain starts from the product image; chains
render in parallel and are joined locally with a short crossfade.

In v3 mode the presenter does not need the B-roll, so it renders in parallel; in the legacy v2 mode HeyGen
composes over the uploaded B-roll, so it waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import HeyGenMode, Provider, StepKind

EXTENSION_SECONDS = 7
MAX_EXTENSION_INPUT_SECONDS = 30
MAX_CHAIN_SECONDS = 37

IMAGE_KEY = "image"
JOIN_KEY = "join"
HEYGEN_UPLOAD_KEY = "heygen:upload"
HEYGEN_RENDER_KEY = "heygen:render"
COMPOSE_KEY = "compose"
# The plan names the step whose output is the whole B-roll: that step carries YIELDS_BROLL, and every step that
# uses the B-roll finds it under BROLL_KEY in its params.
YIELDS_BROLL_PARAM = "yields_broll"
BROLL_KEY_PARAM = "broll_key"
# Every Veo step carries the model that renders it and whether it renders sound, fixed when the job starts.
VEO_MODEL_PARAM = "model"
GENERATE_AUDIO_PARAM = "generate_audio"


# Who does each kind of step (what build_plan puts in StepSpec.provider).
PROVIDER_OF_KIND = {
    StepKind.FETCH_IMAGE: Provider.LOCAL, StepKind.VEO_GENERATE: Provider.VEO, StepKind.VEO_EXTEND: Provider.VEO,
    StepKind.JOIN_BROLL: Provider.LOCAL, StepKind.HEYGEN_UPLOAD: Provider.HEYGEN,
    StepKind.HEYGEN_RENDER: Provider.HEYGEN, StepKind.COMPOSE: Provider.LOCAL,
}


@dataclass(frozen=True)
class StepSpec:
    key: str
    kind: str
    provider: str
    depends_on: list[str] = field(default_factory=list)
    chain_index: int | None = None
    scene_index: int | None = None
    params: dict = field(default_factory=dict)


def veo_key(chain: int, scene: int) -> str:
    return f"veo:c{chain}:s{scene}"


def scene_prompt(product_title: str, scene: dict, *, with_overlay: bool = False) -> str:
    """The Veo prompt of a scene. Its ``text_overlay`` is drawn by the compositor, so it is asked of Veo only
    ``with_overlay`` (see ``overlay_in_prompt``)."""
    parts = [product_title, scene["visual_description"], scene["camera_movement"], scene["mood"]]
    if with_overlay and scene.get("text_overlay"):
        parts.append(f'on-screen text: "{scene["text_overlay"]}"')
    return " | ".join(part.strip() for part in parts if part and part.strip())


def overlay_in_prompt(scene: dict, heygen_mode: str) -> bool:
    """Whether Veo is also asked to show the scene's text: when the scene asks for it, or in v2 mode, where HeyGen
    composes the video and our compositor draws no text."""
    return bool(scene.get("overlay_in_prompt")) or heygen_mode == HeyGenMode.V2


def group_into_chains(durations: list[int]) -> list[list[int]]:
    """Scene indices grouped so each chain obeys the extension limits, in scene order."""
    chains: list[list[int]] = []
    length = 0
    for index, duration in enumerate(durations):
        fits = length <= MAX_EXTENSION_INPUT_SECONDS and length + EXTENSION_SECONDS <= MAX_CHAIN_SECONDS
        if chains and fits:
            chains[-1].append(index)
            length += EXTENSION_SECONDS
        else:
            chains.append([index])
            length = duration
    return chains


def chain_seconds(durations: list[int], chain: list[int]) -> int:
    return durations[chain[0]] + EXTENSION_SECONDS * (len(chain) - 1)


def broll_seconds(durations: list[int], crossfade: float) -> float:
    """Length of the joined B-roll: the chains back to back, less one crossfade per join."""
    chains = group_into_chains(durations)
    return sum(chain_seconds(durations, chain) for chain in chains) - crossfade * max(0, len(chains) - 1)


def scene_spans(durations: list[int], crossfade: float) -> list[tuple[float, float]]:
    """Each scene's (start, end) in seconds of the joined B-roll. In a chain the first scene lasts its duration
    and each extension EXTENSION_SECONDS; the crossfade between two chains is split at its middle."""
    chains = group_into_chains(durations)
    spans: list[tuple[float, float]] = []
    chain_start = 0.0
    for n, chain in enumerate(chains):
        lead_in = crossfade / 2 if n > 0 else 0.0
        lead_out = crossfade / 2 if n < len(chains) - 1 else 0.0
        ends = [chain_start + chain_seconds(durations, chain[: position + 1]) for position in range(len(chain))]
        starts = [chain_start + lead_in, *ends[:-1]]
        spans += list(zip(starts, [*ends[:-1], ends[-1] - lead_out], strict=True))
        chain_start = ends[-1] - crossfade
    return spans


def scene_durations(scenes: list[dict]) -> list[int]:
    return [int(scene.get("duration", 8)) for scene in scenes]


def build_plan(*, product_title: str, scenes: list[dict], aspect_ratio: str, heygen_mode: str, veo_model: str,
               generate_audio: bool) -> list[StepSpec]:
    durations = scene_durations(scenes)
    chains = group_into_chains(durations)
    broll_key = JOIN_KEY if len(chains) > 1 else veo_key(0, chains[0][-1])
    specs = [StepSpec(IMAGE_KEY, StepKind.FETCH_IMAGE, Provider.LOCAL)]

    chain_ends = []
    for chain_index, chain in enumerate(chains):
        previous = IMAGE_KEY
        for position, scene_index in enumerate(chain):
            key = veo_key(chain_index, scene_index)
            scene = scenes[scene_index]
            prompt = scene_prompt(product_title, scene, with_overlay=overlay_in_prompt(scene, heygen_mode))
            params = {"prompt": prompt, "aspect_ratio": aspect_ratio,
                      VEO_MODEL_PARAM: veo_model, GENERATE_AUDIO_PARAM: generate_audio}
            if position == 0:
                params["duration_seconds"] = durations[scene_index]
                params["expected_seconds"] = durations[scene_index]
                kind = StepKind.VEO_GENERATE
            else:
                params["expected_seconds"] = chain_seconds(durations, chain[: position + 1])
                kind = StepKind.VEO_EXTEND
            if key == broll_key:
                params[YIELDS_BROLL_PARAM] = True
            specs.append(StepSpec(key, kind, Provider.VEO, [previous], chain_index, scene_index, params))
            previous = key
        chain_ends.append(previous)

    if len(chain_ends) > 1:
        specs.append(StepSpec(JOIN_KEY, StepKind.JOIN_BROLL, Provider.LOCAL, list(chain_ends),
                              params={YIELDS_BROLL_PARAM: True}))

    uses_broll = {BROLL_KEY_PARAM: broll_key}
    if heygen_mode == HeyGenMode.V2:
        specs.append(StepSpec(HEYGEN_UPLOAD_KEY, StepKind.HEYGEN_UPLOAD, Provider.HEYGEN, [broll_key],
                              params=uses_broll))
        specs.append(StepSpec(HEYGEN_RENDER_KEY, StepKind.HEYGEN_RENDER, Provider.HEYGEN, [HEYGEN_UPLOAD_KEY]))
    else:
        specs.append(StepSpec(HEYGEN_RENDER_KEY, StepKind.HEYGEN_RENDER, Provider.HEYGEN, []))

    specs.append(StepSpec(COMPOSE_KEY, StepKind.COMPOSE, Provider.LOCAL, [broll_key, HEYGEN_RENDER_KEY],
                          params=uses_broll))
    return specs
