"""Covers Plex will take: small ones untouched, large ones re-encoded or scaled, junk refused."""

import io
import os

from PIL import Image

from reconciler.images import fit_for_upload


def png_noise(width, height):
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        out, format="PNG", compress_level=0
    )
    return out.getvalue()


def test_a_small_image_is_sent_as_it_is():
    data = png_noise(20, 20)
    assert fit_for_upload(data, limit=10_000) is data


def test_a_large_image_is_reencoded_then_scaled_below_the_limit():
    data = png_noise(400, 300)  # 360 KB
    fitted = fit_for_upload(data, limit=20_000)
    assert fitted is not None and len(fitted) <= 20_000
    image = Image.open(io.BytesIO(fitted))
    assert image.format == "JPEG" and image.size[0] < 400
    assert abs(image.size[0] / image.size[1] - 4 / 3) < 0.05


def test_bytes_that_are_no_image_cannot_be_fitted():
    assert fit_for_upload(b"\xff\xd8\xff" + b"\0" * 5000, limit=1000) is None
