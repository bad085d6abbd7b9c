"""Rectangles in frame pixels, shared by the compositor and the on-screen text layout."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def intersects(self, other: Box) -> bool:
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)

    def contains(self, other: Box) -> bool:
        return (self.left <= other.left and other.right <= self.right
                and self.top <= other.top and other.bottom <= self.bottom)


# Where a presenter's face is within its box: HeyGen presenters are framed from the head down, so the face is in
# the upper part of the frame, around its middle. Captions (captions.py) never cross this box.
FACE_WIDTH_FRACTION = 0.6
FACE_HEIGHT_FRACTION = 0.5


def face_of(presenter: Box) -> Box:
    """The part of the presenter box that holds the face: the middle of its width, the top of its height."""
    width = round(presenter.width * FACE_WIDTH_FRACTION)
    return Box(presenter.left + (presenter.width - width) // 2, presenter.top, width,
               round(presenter.height * FACE_HEIGHT_FRACTION))
