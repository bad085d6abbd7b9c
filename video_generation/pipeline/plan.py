"""The scene plan: which provider operations a job needs and in what order.

Veo facts (Vertex AI Veo reference, "Extend Veo videos"): a generated clip is 4, 6 or 8 s; an extension adds
7 s and only accepts an input of at most 30 s, so one chain ends at 37 s at most. With `continuous` scene transitions
scenes are therefore grouped into chains of at most five (an 8 s base and four extensions = 36 s), each scene
extending the one before; with `cuts` every scene is a chain of its own. Every chain starts from the product image;
chains render in parallel and are joined locally with a short crossfade.

With broll_fit `extend`, padding clips of the last scene follow the scenes until the B-roll covers the estimated
narration (broll_chains). The quote (pricing.py) prices exactly the clips broll_chains returns.

In v3 mode the presenter does not need the B-roll, so it renders in parallel; in the legacy v2 mode HeyGen
composes over the uploaded B-roll, so it waits for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..models import VEO_CLIP_SECONDS, BrollFit, HeyGenMode, Provider, SceneTransitions, StepKind

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
# A Veo step that renders no scene of the brief, only more of the last one so that the B-roll covers the narration.
PADDING_PARAM = "padding"


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


def can_extend(chain_seconds: float) -> bool:
    """Whether a chain this long can take one more extension: its input at most 30 s, the result at most 37 s."""
    return chain_seconds <= MAX_EXTENSION_INPUT_SECONDS and chain_seconds + EXTENSION_SECONDS <= MAX_CHAIN_SECONDS


def group_into_chains(durations: list[int], transitions: str = SceneTransitions.CONTINUOUS) -> list[list[int]]:
    """Scene indices grouped into chains, in scene order. `cuts`: every scene is a chain of its own, generated from
    the product image; `continuous`: each scene extends the one before while the chain obeys the extension limits."""
    if transitions == SceneTransitions.CUTS:
        return [[index] for index in range(len(durations))]
    chains: list[list[int]] = []
    length = 0
    for index, duration in enumerate(durations):
        if chains and can_extend(length):
            chains[-1].append(index)
            length += EXTENSION_SECONDS
        else:
            chains.append([index])
            length = duration
    return chains


@dataclass(frozen=True)
class Clip:
    """One Veo operation of the B-roll: the first clip of a chain is generated from the product image, each later one
    extends the chain so far."""

    scene: int  # the scene whose prompt it renders (a padding clip: the last scene's)
    seconds: int  # the new seconds Veo renders, and bills: a generated clip's duration, or EXTENSION_SECONDS
    padding: bool = False  # no scene of the brief: added so that the B-roll covers the narration (broll_fit extend)


def clips_seconds(chain: list[Clip]) -> int:
    """Length of a chain's video."""
    return sum(clip.seconds for clip in chain)


def joined_seconds(chains: list[list[Clip]], crossfade: float) -> float:
    """Length of the joined B-roll: the chains back to back, less one crossfade per join."""
    return sum(clips_seconds(chain) for chain in chains) - crossfade * max(0, len(chains) - 1)


def scene_chains(durations: list[int], transitions: str = SceneTransitions.CONTINUOUS) -> list[list[Clip]]:
    """The scenes' own Veo operations, chain by chain."""
    return [[Clip(index, durations[index] if position == 0 else EXTENSION_SECONDS)
             for position, index in enumerate(chain)] for chain in group_into_chains(durations, transitions)]


def broll_chains(durations: list[int], *, transitions: str, broll_fit: str, narration_seconds: float,
                 crossfade: float) -> list[list[Clip]]:
    """Every Veo operation of the B-roll, chain by chain; the quote prices these and the plan runs them.

    The scenes' chains (scene_chains); then, with `extend` and a narration longer than them, padding clips that
    continue the last scene until the B-roll covers the narration: extensions of the last chain while it can take
    one, else a further chain from the product image (padding_chain_start). `loop` and `hold` add nothing: the
    compositor covers the narration."""
    chains = scene_chains(durations, transitions)
    cover = narration_seconds if broll_fit == BrollFit.EXTEND else 0.0
    last = len(durations) - 1
    while chains and (missing := round(cover - joined_seconds(chains, crossfade), 3)) > 0:  # no scenes: no B-roll
        if can_extend(clips_seconds(chains[-1])):
            chains[-1].append(Clip(last, EXTENSION_SECONDS, padding=True))
        else:
            chains.append([Clip(last, padding_chain_start(missing + crossfade), padding=True)])
    return chains


def padding_chain_start(needed: float) -> int:
    """The first clip of a further padding chain that must add `needed` seconds: the shortest clip that covers them
    with the fewest extensions (so the fewest seconds billed), the longest when one chain cannot cover them."""
    extensions = math.ceil(max(0.0, needed - max(VEO_CLIP_SECONDS)) / EXTENSION_SECONDS)
    return min((first for first in VEO_CLIP_SECONDS
                if needed <= first + extensions * EXTENSION_SECONDS <= chain_reach(first)),
               default=max(VEO_CLIP_SECONDS))


def chain_reach(first: int) -> int:
    """The longest chain that starts with a `first`-second clip."""
    length = first
    while can_extend(length):
        length += EXTENSION_SECONDS
    return length


def broll_seconds(durations: list[int], crossfade: float, transitions: str = SceneTransitions.CONTINUOUS) -> float:
    """Length of the scenes' joined B-roll (without padding)."""
    return joined_seconds(scene_chains(durations, transitions), crossfade)


def scene_spans(durations: list[int], crossfade: float,
                transitions: str = SceneTransitions.CONTINUOUS) -> list[tuple[float, float]]:
    """Each scene's (start, end) in seconds of the joined B-roll. In a chain the first scene lasts its duration
    and each extension EXTENSION_SECONDS; the crossfade between two chains is split at its middle. Padding clips
    (broll_fit extend) belong to no scene: they come after the last scene's span, which they do not change."""
    chains = scene_chains(durations, transitions)
    spans: list[tuple[float, float]] = []
    chain_start = 0.0
    for n, chain in enumerate(chains):
        lead_in = crossfade / 2 if n > 0 else 0.0
        lead_out = crossfade / 2 if n < len(chains) - 1 else 0.0
        ends = [chain_start + clips_seconds(chain[: position + 1]) for position in range(len(chain))]
        starts = [chain_start + lead_in, *ends[:-1]]
        spans += list(zip(starts, [*ends[:-1], ends[-1] - lead_out], strict=True))
        chain_start = ends[-1] - crossfade
    return spans


def scene_durations(scenes: list[dict]) -> list[int]:
    return [int(scene.get("duration", 8)) for scene in scenes]


def build_plan(*, product_title: str, scenes: list[dict], aspect_ratio: str, heygen_mode: str, veo_model: str,
               generate_audio: bool, scene_transitions: str, broll_fit: str, narration_seconds: float,
               crossfade: float) -> list[StepSpec]:
    """The job's steps. `narration_seconds` is the narration's estimated length (pricing.narration_seconds), which
    a B-roll fitted with `extend` covers (broll_chains)."""
    chains = broll_chains(scene_durations(scenes), transitions=scene_transitions, broll_fit=broll_fit,
                          narration_seconds=narration_seconds, crossfade=crossfade)
    specs = [StepSpec(IMAGE_KEY, StepKind.FETCH_IMAGE, Provider.LOCAL)]
    chain_ends = []
    paddings = 0
    for chain_index, chain in enumerate(chains):
        previous = IMAGE_KEY
        for position, clip in enumerate(chain):
            key = veo_key(chain_index, clip.scene)
            scene = scenes[clip.scene]
            prompt = scene_prompt(product_title, scene, with_overlay=overlay_in_prompt(scene, heygen_mode))
            params = {"prompt": prompt, "aspect_ratio": aspect_ratio,
                      "expected_seconds": clips_seconds(chain[: position + 1]),
                      VEO_MODEL_PARAM: veo_model, GENERATE_AUDIO_PARAM: generate_audio}
            if position == 0:
                params["duration_seconds"] = clip.seconds
            if clip.padding:
                paddings += 1
                key = f"{key}:pad{paddings}"
                params[PADDING_PARAM] = True
            kind = StepKind.VEO_GENERATE if position == 0 else StepKind.VEO_EXTEND
            specs.append(StepSpec(key, kind, Provider.VEO, [previous], chain_index, clip.scene, params))
            previous = key
        chain_ends.append(previous)

    if len(chain_ends) == 1:  # the one chain's last clip is the B-roll
        broll_key = chain_ends[0]
        specs[-1].params[YIELDS_BROLL_PARAM] = True
    else:
        broll_key = JOIN_KEY
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
