"""Avatar positioning presets (the brief's values) and what the numbers mean.

Our compositor, not HeyGen, places the presenter (HeyGen does not document what its `offset` means). The
coordinates are defined as:

* ``x``: horizontal position of the presenter's centre, as a fraction of the frame's half-width measured
  from the frame centre. -1 is the left edge, 0 the centre, 1 the right edge.
* ``y``: vertical position of the presenter's centre, as a fraction of the frame's half-height measured
  from the frame centre, growing downwards (screen convention). -1 is the top edge, 1 the bottom edge.
* ``scale``: the presenter's height as a fraction of the frame height (0.1 .. 1.0).

The compositor keeps the presenter inside the frame, so ``bottom_right`` (x 0.7, y 0.8) sits in the
lower-right corner rather than half off-screen.
"""

from __future__ import annotations

from types import MappingProxyType

SCALE_MIN, SCALE_MAX = 0.1, 1.0
POSITION_MIN, POSITION_MAX = -1.0, 1.0

DEFAULT_AVATAR_POSITION = MappingProxyType({"scale": 0.8, "x": 0.7, "y": 0.8})

AVATAR_PRESETS: dict[str, dict[str, float]] = {
    "bottom_right": {"scale": 0.8, "x": 0.7, "y": 0.8},
    "bottom_left": {"scale": 0.8, "x": -0.7, "y": 0.8},
    "top_right": {"scale": 0.8, "x": 0.7, "y": -0.8},
    "top_left": {"scale": 0.8, "x": -0.7, "y": -0.8},
    "center": {"scale": 1.0, "x": 0.0, "y": 0.0},
}


def default_position() -> dict[str, float]:
    return dict(DEFAULT_AVATAR_POSITION)
