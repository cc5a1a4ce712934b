"""shared.io.read_fits on every layout astropy reads (fixtures written here, no shared files)."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pytest
from astropy.io import fits

from shared.io import DataError, read_fits, write_fits


@pytest.fixture
def cube() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(100, 5, (3, 16, 16)).astype(np.float32)


def test_plain_roundtrip(tmp_path, cube):
    write_fits(tmp_path / "a.fits", cube, {"BANDS": "grz"})
    data, header = read_fits(tmp_path / "a.fits")
    np.testing.assert_array_equal(data, cube)
    assert header["BANDS"] == "grz" and data.dtype.byteorder in "=|<"


def test_gzip_and_tile_compressed(tmp_path, cube):
    write_fits(tmp_path / "a.fits", cube)
    (tmp_path / "a.fits.gz").write_bytes(gzip.compress((tmp_path / "a.fits").read_bytes()))
    np.testing.assert_array_equal(read_fits(tmp_path / "a.fits.gz")[0], cube)
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(cube, compression_type="RICE_1", quantize_level=64)])
    hdul.writeto(tmp_path / "a.fits.fz")
    data, _ = read_fits(tmp_path / "a.fits.fz")
    assert data.shape == cube.shape
    np.testing.assert_allclose(data, cube, atol=0.1)  # RICE quantises floats to noise/64


def test_image_in_extension_after_table(tmp_path, cube):
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table, fits.ImageHDU(cube, name="SCI")]).writeto(tmp_path / "e.fits")
    np.testing.assert_array_equal(read_fits(tmp_path / "e.fits")[0], cube)
    np.testing.assert_array_equal(read_fits(tmp_path / "e.fits", hdu="SCI")[0], cube)


def test_degenerate_axes_dropped(tmp_path, cube):
    fits.PrimaryHDU(cube[:1, None]).writeto(tmp_path / "d1.fits")  # (1, 1, 16, 16)
    assert read_fits(tmp_path / "d1.fits")[0].shape == (16, 16)
    fits.PrimaryHDU(cube[:, None]).writeto(tmp_path / "d3.fits")  # (3, 1, 16, 16)
    assert read_fits(tmp_path / "d3.fits")[0].shape == (3, 16, 16)


def test_bscale_bzero_applied(tmp_path):
    values = np.linspace(-50, 900, 256, dtype=np.float64).reshape(16, 16)
    hdu = fits.PrimaryHDU(values.copy())
    hdu.scale("int16", bscale=0.05, bzero=400.0)
    hdu.writeto(tmp_path / "s.fits")
    with fits.open(tmp_path / "s.fits") as raw:
        assert raw[0].header["BITPIX"] == 16 and raw[0].header["BSCALE"] == 0.05
    data, _ = read_fits(tmp_path / "s.fits")
    np.testing.assert_allclose(data, values, atol=0.05)
    unsigned = np.arange(256, dtype=np.uint16).reshape(16, 16) + 60000
    fits.PrimaryHDU(unsigned).writeto(tmp_path / "u.fits")  # BZERO = 32768
    data, _ = read_fits(tmp_path / "u.fits")
    assert data.dtype == np.uint16 and data.max() == 60255


def _with_cards(path, cards: list[bytes]) -> None:
    raw = bytearray(path.read_bytes())
    end = raw.index(b"END" + b" " * 77)
    for card in cards:
        raw[end:end] = card.ljust(80)
        end += 80
    del raw[end + 80: end + 80 + 80 * len(cards)]  # keep the header a multiple of 2880 bytes
    path.write_bytes(bytes(raw))


def test_fixable_header_fixed_with_warning(tmp_path, cube, caplog):
    path = tmp_path / "h.fits"
    fits.PrimaryHDU(cube).writeto(path)
    _with_cards(path, [b"exptime =                  1.5 / lower case", b"OBSDATE = 2020-01-01 / unquoted"])
    with caplog.at_level(logging.WARNING, logger="shared.io"):
        data, header = read_fits(path)
    np.testing.assert_array_equal(data, cube)
    assert header["EXPTIME"] == 1.5 and header["OBSDATE"] == "2020-01-01"
    assert "verify('fix')" in caplog.text and "h.fits" in caplog.text


def test_nan_policy_and_errors(tmp_path, cube):
    cube[:, :, -3:] = np.nan
    write_fits(tmp_path / "n.fits", cube)
    with pytest.raises(DataError, match="NaN"):
        read_fits(tmp_path / "n.fits")
    assert np.isnan(read_fits(tmp_path / "n.fits", allow_nan=True)[0]).sum() == 3 * 16 * 3
    (tmp_path / "bad.fits").write_bytes(b"SIMPLE  =  nonsense" * 10)
    with pytest.raises(DataError, match="bad.fits"):
        read_fits(tmp_path / "bad.fits")
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "t.fits")
    with pytest.raises(DataError, match="no HDU with image data"):
        read_fits(tmp_path / "t.fits")
