"""Probing and pixel helpers for the end-to-end tests (PyAV + numpy; no ffprobe)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from video_generation.services.captions import area as caption_area
from video_generation.services.compose import Box, MediaInfo, Placement, presenter_box, probe
from video_generation.services.overlay import layout_text

# The sandbox presenter: a figure with skin ~(224,180,150) and a blue shirt ~(40,70,130).
SKIN = (224, 180, 150)
SHIRT = (40, 70, 130)
KEY_GREEN = (0, 255, 0)
PRESENTER_CANVAS = (9, 16)  # the v3 presenter is rendered 9:16

__all__ = ["probe", "MediaInfo", "frames_at", "colour_mask", "Region", "expected_box", "presenter_pixels",
           "SKIN", "SHIRT", "KEY_GREEN", "text_region", "backing_shade"]


@dataclass(frozen=True)
class Region:
    left: int
    top: int
    width: int
    height: int

    @classmethod
    def of(cls, box: Box) -> Region:
        return cls(box.left, box.top, box.width, box.height)

    def crop(self, frame: np.ndarray) -> np.ndarray:
        return frame[self.top:self.top + self.height, self.left:self.left + self.width]

    def intersects(self, other: Region) -> bool:
        return Box(self.left, self.top, self.width, self.height).intersects(
            Box(other.left, other.top, other.width, other.height))


def frames_at(path: Path, seconds: list[float]) -> list[np.ndarray]:
    """RGB frames (H x W x 3, uint8) at or just after each requested time, decoded in one pass."""
    wanted = sorted(seconds)
    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if not wanted:
                break
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            while wanted and t >= wanted[0]:
                out.append(frame.to_ndarray(format="rgb24"))
                wanted.pop(0)
    assert not wanted, f"{path.name} ended before {wanted}"
    return out


def colour_mask(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> np.ndarray:
    """True where every channel is within `tolerance` of `colour`."""
    diff = np.abs(pixels.astype(np.int16) - np.array(colour, dtype=np.int16))
    return (diff <= tolerance).all(axis=-1)


def presenter_pixels(frame: np.ndarray, region: Region | None = None) -> int:
    """How many pixels look like the sandbox presenter (skin or shirt) in the region (default: whole frame)."""
    pixels = region.crop(frame) if region else frame
    return int(colour_mask(pixels, SKIN).sum() + colour_mask(pixels, SHIRT).sum())


def expected_box(frame_w: int, frame_h: int, scale: float, x: float, y: float) -> Region:
    """Where the product's placement rule puts a 9:16 presenter."""
    pw, ph = PRESENTER_CANVAS
    return Region.of(presenter_box(frame_w, frame_h, pw * 120, ph * 120, Placement(scale, x, y)))


def key_green_fraction(frame: np.ndarray, tolerance: int = 60) -> float:
    """Share of the frame that is (close to) pure #00FF00."""
    g = frame.astype(np.int16)
    mask = (g[..., 1] >= 255 - tolerance) & (g[..., 0] <= tolerance) & (g[..., 2] <= tolerance)
    return float(mask.mean())


def caption_band(frame_w: int, frame_h: int, presenter: Region) -> Region:
    """Where the compositor draws a job's captions (default style and position), clear of the presenter's face."""
    box = Box(presenter.left, presenter.top, presenter.width, presenter.height)
    return Region.of(caption_area("bold", "auto", frame_w, frame_h, box).box)


def text_region(text: str, frame_w: int, frame_h: int, presenter: Region) -> Region:
    """Where the compositor draws a scene's on-screen text, clear of the presenter box and of the captions."""
    box = Box(presenter.left, presenter.top, presenter.width, presenter.height)
    band = caption_band(frame_w, frame_h, presenter)
    reserved = Box(band.left, band.top, band.width, band.height)
    return Region.of(layout_text(text, frame_w, frame_h, box, reserved=reserved).box)


def caption_ink(frame: np.ndarray, region: Region) -> tuple[int, int]:
    """(near-white pixels, near-black pixels) in the region: the bold captions' letters and their outline."""
    luma = region.crop(frame)[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    return int((luma > 235).sum()), int((luma < 25).sum())


def backing_shade(frame: np.ndarray, region: Region, inset: int = 4) -> float:
    """The frame's brightness just inside the text region's left and right edges over that just outside them
    (median luma): about 0.35 under the overlay's translucent backing box, about 1 without it. The sandbox's
    B-roll draws text of its own near the top, so letters alone would not tell the overlay apart."""
    rows = slice(region.top + region.height // 4, region.top + region.height * 3 // 4)
    luma = frame[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    inside = np.concatenate([luma[rows, region.left + inset], luma[rows, region.left + region.width - 1 - inset]])
    outside = np.concatenate([luma[rows, region.left - inset], luma[rows, region.left + region.width - 1 + inset]])
    return float(np.median(inside) / max(np.median(outside), 1.0))
