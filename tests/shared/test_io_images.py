"""Every image kind a camera or an editor writes: read as it displays, without loss of depth or alpha."""

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from shared.io import DataError, apply_orientation, read_image, write_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 255, (6, 9, 3), dtype=np.uint8)
GREY = RNG.integers(0, 255, (5, 7), dtype=np.uint8)
RGB16 = RNG.integers(0, 65535, (5, 7, 3)).astype(np.uint16)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    img = Image.fromarray(RGB)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(tmp_path / "o.jpg", exif=exif, quality=100)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.jpg")))
    np.testing.assert_array_equal(read_image(tmp_path / "o.jpg"), expected)
    assert apply_orientation(RGB, orientation).shape[:2] == ((9, 6) if orientation >= 5 else (6, 9))


def test_pillow_modes(tmp_path):
    Image.fromarray(GREY).convert("1").save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png"))) <= {0, 255}
    Image.merge("LA", [Image.fromarray(GREY)] * 2).save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").shape == (5, 7, 2)
    Image.fromarray(RGB).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (6, 9, 3)
    Image.fromarray(GREY, "L").convert("I;16").save(tmp_path / "i16.png")
    assert read_image(tmp_path / "i16.png").dtype == np.uint16
    Image.new("RGB", (8, 8), (20, 120, 220)).convert("YCbCr").save(tmp_path / "ycc.jpg", quality=100)
    assert np.abs(read_image(tmp_path / "ycc.jpg").reshape(-1, 3).mean(0) - (20, 120, 220)).max() < 4


def test_palette_transparency_becomes_alpha(tmp_path):
    pal = Image.fromarray(np.where(GREY > 128, 1, 0).astype(np.uint8), "P")
    pal.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    pal.save(tmp_path / "t.png", transparency=0)
    image = read_image(tmp_path / "t.png")
    assert image.shape == (5, 7, 4)
    np.testing.assert_array_equal(image[..., 3] == 0, GREY <= 128)


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    Image.new("RGB", (8, 8), (200, 30, 30)).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    image = read_image(tmp_path / "c.jpg")
    assert image.shape == (8, 8, 3)
    assert np.abs(image.reshape(-1, 3).mean(0) - (200, 30, 30)).max() < 6


def test_sixteen_bit_colour_round_trip_without_loss(tmp_path):
    for suffix, image in ((".png", RGB16), (".png", np.dstack([RGB16, RGB16[..., :1]])), (".tif", RGB16)):
        path = write_image(tmp_path / f"c{image.shape[-1]}{suffix}", image)
        np.testing.assert_array_equal(read_image(path), image)


def test_tiff_layouts(tmp_path):
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(RGB16, -1, 0), photometric="rgb", planarconfig="separate")
    tifffile.imwrite(tmp_path / "be.tif", RGB16.astype(">u2"), photometric="rgb", byteorder=">")
    tifffile.imwrite(tmp_path / "tiled.tif", np.zeros((32, 32, 3), np.uint8) + 7, photometric="rgb", tile=(16, 16))
    tifffile.imwrite(tmp_path / "white.tif", GREY, photometric="miniswhite")
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif"), RGB16)
    back = read_image(tmp_path / "be.tif")
    np.testing.assert_array_equal(back, RGB16)
    assert back.dtype.byteorder in ("=", "|")
    assert read_image(tmp_path / "tiled.tif").shape == (32, 32, 3)
    np.testing.assert_array_equal(read_image(tmp_path / "white.tif"), 255 - GREY)


@pytest.mark.parametrize("compression", ["lzw", "zlib", "zstd", "packbits"])
def test_compressed_tiffs_read(tmp_path, compression):
    """What cameras, ImageJ and Fiji write: the codecs come from imagecodecs (a dependency)."""
    tifffile.imwrite(tmp_path / "c.tif", RGB16, photometric="rgb", compression=compression)
    np.testing.assert_array_equal(read_image(tmp_path / "c.tif"), RGB16)


def test_animated_reads_first_frame_with_warning(tmp_path, caplog):
    frames = [Image.fromarray(RGB), Image.fromarray(255 - RGB)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    image = read_image(tmp_path / "a.gif")
    assert image.shape == (6, 9, 3)
    assert "animated" in caplog.text


def test_writer_refuses_lossy_targets(tmp_path):
    with pytest.raises(DataError, match="JPEG"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(DataError, match="JPEG"):
        write_image(tmp_path / "a.jpg", RGB16)
    with pytest.raises(DataError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 5), np.uint8))
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_image(tmp_path / "x.png")


def test_palette_alpha_and_32_bit_tiffs_read_as_the_same_png(tmp_path):
    pal = Image.new("P", (5, 3))
    pal.putpalette([0, 0, 0, 200, 30, 30, 10, 220, 40] + [0] * 759)
    pal.putdata([0, 1, 2, 1, 0] * 3)
    pa = pal.convert("PA")
    pa.putalpha(Image.fromarray(np.tile(np.array([0, 64, 128, 192, 255], np.uint8), (3, 1))))
    pa.save(tmp_path / "pa.tif")
    pa.convert("RGBA").save(tmp_path / "pa.png")  # PNG holds no PA mode: the same pixels as RGBA
    tif, png = read_image(tmp_path / "pa.tif"), read_image(tmp_path / "pa.png")
    assert tif.shape == (3, 5, 4) and tif.dtype == np.uint8
    np.testing.assert_array_equal(tif, png)
    wide = Image.fromarray(np.arange(15, dtype=np.int32).reshape(3, 5) * 4000)
    for name in ("i.tif", "i.png"):
        wide.save(tmp_path / name)
    np.testing.assert_array_equal(read_image(tmp_path / "i.tif"), read_image(tmp_path / "i.png"))
    assert read_image(tmp_path / "i.tif").dtype == np.uint16
    tifffile.imwrite(tmp_path / "neg.tif", np.array([[-3, 5]], np.int16))
    with pytest.raises(DataError, match="outside 0-65535"):
        read_image(tmp_path / "neg.tif")
