"""Property-based fuzzing of the image reader super-resolution takes files through (issue 17 §C):
:func:`projects.super_resolution.images.read_image` (on top of ``shared.io.read_image``) on images of odd
modes written by Pillow (1, L, LA, P, PA, RGB, RGBA, CMYK, YCbCr, I;16, I;16B, I, F, HSV, LAB) in each
format, with EXIF orientations valid and not, TIFFs written by tifffile (float, 32-bit, 5 channels, planar,
stacks, big-endian), 16-bit PNGs, then truncated or corrupted; and raw bytes.

Property: a uint8/uint16 (H, W) or (H, W, 2|3|4) array of at least 2×2 OR :class:`~shared.io.DataError`;
anything else is a crash.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from projects.super_resolution.images import read_image
from shared.io import DataError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()
_MODES = st.sampled_from(["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I;16B", "I", "F",
                          "HSV", "LAB", "RGBX", "La"])
_FORMATS = st.sampled_from([("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("BMP", ".bmp"), ("WEBP", ".webp"),
                            ("GIF", ".gif"), ("PNG", ".jpg"), ("TIFF", ".png")])


@st.composite
def pillow_image(draw) -> tuple[bytes, str]:
    from PIL import Image

    mode = draw(_MODES)
    w, h = draw(st.sampled_from([(1, 1), (2, 2), (5, 3), (1, 7), (16, 9)]))
    img = Image.new("RGB", (w, h), (10, 200, 30))
    try:
        img = img.convert(mode)
    except ValueError:
        img = Image.new(mode, (w, h))
    fmt, suffix = draw(_FORMATS)
    buffer = io.BytesIO()
    exif = Image.Exif()
    orientation = draw(st.sampled_from([None, 1, 3, 6, 8, 0, 9, 65535]))
    if orientation is not None:
        exif[0x0112] = orientation
    try:
        img.save(buffer, format=fmt, exif=exif.tobytes()) if orientation is not None else img.save(buffer, format=fmt)
    except (OSError, ValueError, KeyError, TypeError):  # this format cannot hold this mode: a plain PNG of it
        buffer = io.BytesIO()
        img.convert("RGB").save(buffer, format="PNG")
        suffix = ".png"
    return buffer.getvalue(), suffix


@st.composite
def tiff_image(draw) -> tuple[bytes, str]:
    import tifffile

    shape = draw(st.sampled_from([(4, 5), (4, 5, 3), (4, 5, 5), (3, 4, 5), (2, 4, 5, 3), (4, 5, 2), (1, 1), (4, 1)]))
    dtype = draw(st.sampled_from(["u1", "u2", "i4", "f4", "f8", "i1", "u4", "bool", "f2", "c8"]))
    data = (np.arange(np.prod(shape)).reshape(shape) % 7).astype(dtype)
    kwargs = draw(st.sampled_from([{}, {"planarconfig": "separate"}, {"byteorder": ">"}, {"photometric": "minisblack"},
                                   {"tile": (16, 16)}, {"compression": "zlib"}]))
    buffer = io.BytesIO()
    try:
        tifffile.imwrite(buffer, data, **kwargs)
    except Exception:
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, data)
    return buffer.getvalue(), ".tif"


@st.composite
def png16(draw) -> tuple[bytes, str]:
    import cv2

    channels = draw(st.sampled_from([1, 2, 3, 4]))
    data = (np.arange(4 * 5 * channels).reshape(4, 5, channels) * 3000 % 65535).astype(np.uint16)
    if channels == 2:  # OpenCV writes no grey+alpha: write grey, then patch the colour type to 4 (grey+alpha)
        ok, encoded = cv2.imencode(".png", data[..., 0])
        raw = bytearray(encoded.tobytes())
        raw[25] = 4
        return bytes(raw), ".png"
    ok, encoded = cv2.imencode(".png", data if channels > 1 else data[..., 0])
    return encoded.tobytes(), ".png"


@st.composite
def damaged(draw, source) -> tuple[bytes, str]:
    data, suffix = draw(source)
    raw = bytearray(data)
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))
    if damage == "truncate":
        raw = raw[:draw(st.integers(0, len(raw) - 1))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw), suffix


def _check(data: bytes, suffix: str, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("img") / f"i{next(_COUNT)}{suffix}"
    path.write_bytes(data)
    try:
        image = read_image(path)
    except DataError as exc:
        event(f"DataError: {str(exc).split(': ')[-1][:30]}")
        return
    event("read")
    assert image.dtype in (np.uint8, np.uint16) and min(image.shape[:2]) >= 2
    assert image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (2, 3, 4))


@SETTINGS
@given(file=damaged(pillow_image()))
def test_fuzz_pillow_modes(file, tmp_path_factory):
    _check(*file, tmp_path_factory)


@settings(SETTINGS, max_examples=40)
@given(file=damaged(tiff_image() | png16()))
def test_fuzz_tiff_and_png16(file, tmp_path_factory):
    _check(*file, tmp_path_factory)


@settings(SETTINGS, max_examples=30)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".gif", ".webp"]))
@example(data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x02\x10\x06", suffix=".png")
def test_fuzz_random_bytes(data, suffix, tmp_path_factory):
    _check(data, suffix, tmp_path_factory)
