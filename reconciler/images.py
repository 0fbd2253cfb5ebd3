"""Poster bytes Plex will take: under its upload limit, re-encoded or scaled down with Pillow.

PMS answers 500 to uploads over about 10 MB (shared/reference/plex-http.md §8; Kometa's
`modules/plex.py` keeps posters under `MAX_IMAGE_SIZE = 10480000`), so a larger cover is
re-encoded as JPEG, then scaled down, and given up only when nothing fits.
"""

from __future__ import annotations

import io
import math

from PIL import Image

MAX_UPLOAD_BYTES = 10_480_000
_QUALITIES = (90, 80)
_SMALLEST_SIDE = 64


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def fit_for_upload(data: bytes, limit: int = MAX_UPLOAD_BYTES) -> bytes | None:
    """`data` itself when small enough, else a JPEG of it under `limit`; None when the
    bytes are no image Pillow can read or no size fits."""
    if len(data) <= limit:
        return data
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    encoded = b""
    for quality in _QUALITIES:
        encoded = _jpeg(image, quality)
        if len(encoded) <= limit:
            return encoded
    while min(image.size) > _SMALLEST_SIDE:
        scale = math.sqrt(limit / len(encoded)) * 0.9
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        encoded = _jpeg(image, _QUALITIES[-1])
        if len(encoded) <= limit:
            return encoded
    return None
