"""Every image kind a user has, through the upscale CLI: colour modes, alpha, 16 bit, orientation.

Fixtures are written here with Pillow and tifffile (never files from outside the repository).
The classical path (``--method``) needs no trained network; the network path keeps alpha and
bit depth the same way (tested on an untrained network, whose output is bicubic).
"""

import argparse
import logging

import numpy as np
import pytest
import tifffile
from PIL import Image

from projects.super_resolution import cli
from projects.super_resolution.images import read_image, write_image
from shared.io import DataError


def upscale(src, dst, *extra):
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(["upscale", str(src), str(dst), "--method", "bicubic", *extra])
    assert args.func(args) == 0
    return read_image(dst)


def gradient(h=24, w=32):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full((h, w), 90)], axis=-1).astype(np.uint8)


def test_cmyk_jpeg_comes_out_as_rgb(tmp_path):
    src = tmp_path / "red_cmyk.jpg"
    Image.new("RGB", (32, 32), (200, 30, 30)).convert("CMYK").save(src, quality=95)
    out = upscale(src, tmp_path / "out.png")
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.abs(out.reshape(-1, 3).mean(0) - [200, 30, 30]).max() < 12


def test_exif_orientation_is_applied(tmp_path):
    image = np.zeros((48, 64, 3), np.uint8)       # stored landscape: 64 wide, 48 high
    image[:, :32] = 255                            # left half white
    src = tmp_path / "rotated.jpg"
    pil = Image.fromarray(image)
    exif = pil.getexif()
    exif[0x0112] = 6                               # rotate 90° clockwise to display
    pil.save(src, exif=exif, quality=95)
    out = upscale(src, tmp_path / "out.png")
    assert out.shape == (128, 96, 3)               # displayed portrait, ×2
    assert out[:48].mean() > 200 and out[-48:].mean() < 50   # the white half is now on top


def test_palette_with_transparency_keeps_its_alpha(tmp_path):
    index = np.zeros((30, 40), np.uint8)
    index[5:25, 10:30] = 1
    pil = Image.fromarray(index, mode="P")
    pil.putpalette([0, 0, 0, 40, 120, 200] + [0] * 762)
    src = tmp_path / "palette.png"
    pil.save(src, transparency=0)
    out = upscale(src, tmp_path / "out.png")
    assert out.shape == (60, 80, 4)
    assert out[0, 0, 3] == 0 and out[30, 40, 3] == 255              # transparent stays transparent
    np.testing.assert_array_equal(out[30, 40, :3], [40, 120, 200])


def test_grey_alpha_and_one_bit(tmp_path):
    la = np.dstack([gradient()[..., 0], np.full((24, 32), 128, np.uint8)])
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    out = upscale(tmp_path / "la.png", tmp_path / "la2.png")
    assert out.shape == (48, 64, 2) and np.all(out[..., 1] == 128)
    Image.fromarray(gradient()[..., 0] > 128).convert("1").save(tmp_path / "bits.png")
    out = upscale(tmp_path / "bits.png", tmp_path / "bits2.png")
    assert out.shape == (48, 64) and out.dtype == np.uint8 and out.max() > 200


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_colour_and_grey_keep_sixteen_bits(tmp_path, suffix):
    rgb16 = gradient().astype(np.uint16) * 257 + 3           # values no 8-bit image has
    if suffix == ".tif":
        tifffile.imwrite(tmp_path / f"rgb{suffix}", rgb16, photometric="rgb")
    else:
        write_image(tmp_path / f"rgb{suffix}", rgb16)
    np.testing.assert_array_equal(read_image(tmp_path / f"rgb{suffix}"), rgb16)
    out = upscale(tmp_path / f"rgb{suffix}", tmp_path / f"out{suffix}")
    assert out.shape == (48, 64, 3) and out.dtype == np.uint16 and np.any(out % 257 != 0)
    grey16 = (gradient()[..., 0].astype(np.uint16) * 250)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")            # mode I;16
    out = upscale(tmp_path / "grey16.png", tmp_path / "grey16_x2.tif")
    assert out.shape == (48, 64) and out.dtype == np.uint16 and out.max() > 255


def test_rgba_keeps_alpha_and_jpeg_output_is_refused(tmp_path):
    rgba = np.dstack([gradient(), np.tile(np.linspace(0, 255, 32).astype(np.uint8), (24, 1))])
    write_image(tmp_path / "rgba.png", rgba)
    out = upscale(tmp_path / "rgba.png", tmp_path / "out.png", "--scale", "4")
    assert out.shape == (96, 128, 4)
    assert out[..., 3].min() < 10 and out[..., 3].max() > 245
    with pytest.raises(DataError, match="JPEG has no alpha"):
        upscale(tmp_path / "rgba.png", tmp_path / "out.jpg")
    with pytest.raises(DataError, match="8-bit images only"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4), np.uint16))


def test_animated_gif_takes_the_first_frame(tmp_path, caplog):
    frames = [Image.fromarray(np.full((20, 30), v, np.uint8)).convert("P") for v in (50, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with caplog.at_level(logging.WARNING):
        out = upscale(tmp_path / "anim.gif", tmp_path / "out.png")
    assert out.shape[:2] == (40, 60) and abs(float(out.mean()) - 50) < 3
    assert any("frame" in r.getMessage() for r in caplog.records)


def test_network_path_keeps_alpha_and_bit_depth():
    """An untrained network (its output is the bicubic upscale) on RGBA 16-bit and grey+alpha."""
    from projects.super_resolution.inference import Upscaler
    from projects.super_resolution.model import ModelConfig, build_model
    from projects.super_resolution.resize import imresize

    up = Upscaler(build_model(ModelConfig(blocks=1, channels=4, scale=2)), 2, radius=5, name="tiny")
    rgba = np.dstack([gradient().astype(np.uint16) * 257, np.full((24, 32), 40000, np.uint16)])
    rgba[:12, :, 3] = 0
    out = up.upscale(rgba)
    assert out.shape == (48, 64, 4) and out.dtype == np.uint16
    np.testing.assert_array_equal(out[..., 3], np.clip(np.round(imresize(rgba[..., 3] / 65535.0, 2) * 65535), 0,
                                                        65535).astype(np.uint16))
    la = np.dstack([gradient()[..., 0], np.full((24, 32), 7, np.uint8)])
    out = up.upscale(la)
    assert out.shape == (48, 64, 2) and out.dtype == np.uint8 and np.all(out[..., 1] == 7)
