"""A stand-in product CDN: `GET /assets/<name>.png|jpg` serves a generated product photo.

The brief's example points at https://cdn.example.com/headphones.jpg, which cannot be reached from here;
the demo points at this instead. "headphones" draws a pair of headphones; any other name a boxed product.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter

SIZE = (1024, 1024)


def _backdrop() -> Image.Image:
    image = Image.new("RGB", SIZE, (236, 238, 242))
    draw = ImageDraw.Draw(image)
    for y in range(SIZE[1]):  # soft studio gradient
        shade = int(250 - 40 * y / SIZE[1])
        draw.line([(0, y), (SIZE[0], y)], fill=(shade, shade, shade + 4))
    draw.ellipse([212, 820, 812, 900], fill=(190, 192, 198))  # contact shadow
    return image.filter(ImageFilter.GaussianBlur(1))


def _headphones(draw: ImageDraw.ImageDraw) -> None:
    draw.arc([232, 150, 792, 710], start=180, end=360, fill=(40, 42, 48), width=46)  # headband
    draw.arc([262, 180, 762, 680], start=200, end=340, fill=(90, 92, 100), width=14)  # padding
    for left in (190, 654):
        draw.rounded_rectangle([left + 20, 400, left + 160, 520], radius=30, fill=(60, 62, 70))  # yoke
        draw.ellipse([left, 430, left + 180, 790], fill=(28, 30, 34))  # ear cup
        draw.ellipse([left + 30, 470, left + 150, 750], fill=(70, 74, 84))  # cushion
        draw.ellipse([left + 60, 540, left + 120, 680], fill=(180, 150, 90))  # brass accent


def _box(draw: ImageDraw.ImageDraw, name: str) -> None:
    draw.rounded_rectangle([292, 260, 732, 800], radius=24, fill=(52, 96, 170))
    draw.polygon([(292, 260), (412, 180), (852, 180), (732, 260)], fill=(92, 136, 210))
    draw.polygon([(732, 260), (852, 180), (852, 720), (732, 800)], fill=(32, 66, 130))
    draw.text((320, 480), name[:24], fill=(255, 255, 255))


@lru_cache(maxsize=32)
def product_image(name: str, fmt: str) -> bytes:
    image = _backdrop()
    draw = ImageDraw.Draw(image)
    if "headphone" in name.lower():
        _headphones(draw)
    else:
        _box(draw, name)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if fmt in ("jpg", "jpeg") else "PNG", quality=90)
    return buffer.getvalue()
