"""GalSim simulation, the FITS cube round trip, preprocessing and stretches."""

import numpy as np
import pytest

from projects.galaxy_morphology import preprocess
from projects.galaxy_morphology.simulate import (
    BANDS,
    CLASSES,
    Conditions,
    SimulateConfig,
    fits_header,
    render,
    spiral_pattern,
    write_cube,
)
from shared.io import DataError, read_fits


def test_render_every_class_is_finite_and_has_signal():
    for k, cls in enumerate(CLASSES):
        cube, info = render(cls, seed=k, cond=Conditions(), stamp=32)
        assert cube.shape == (3, 32, 32) and cube.dtype == np.float32
        assert np.isfinite(cube).all()
        # the centre is far brighter than the sky noise (sqrt(400) = 20 ADU)
        assert cube[1, 12:20, 12:20].mean() > 5 * 20, cls
        assert info["psf_fwhm"] > 0


def test_render_is_deterministic_per_seed():
    a, _ = render("spiral", 7, Conditions(), stamp=32)
    b, _ = render("spiral", 7, Conditions(), stamp=32)
    c, _ = render("spiral", 8, Conditions(), stamp=32)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_spiral_pattern_has_unit_flux_and_m_fold_symmetry():
    rng = np.random.default_rng(0)
    pattern = spiral_pattern(rng, disk_scale=2.0, arms=2, pitch_deg=20, inner=1.0, shape=64, scale=0.13, knots=0,
                             knot_fraction=0.0)
    assert pattern.sum() == pytest.approx(1.0)
    # two arms without knots: symmetric under a rotation by 180°
    np.testing.assert_allclose(pattern, pattern[::-1, ::-1], atol=1e-6 * pattern.max())


def test_fits_cube_round_trip_with_header_keys(tmp_path):
    cube, info = render("barred_spiral", 3, Conditions(), stamp=32)
    header = fits_header("barred_spiral", 3, "test", info, 0.262)
    path = write_cube(tmp_path / "g.fits", cube, header)
    data, read_header = read_fits(path)
    assert data.shape == (3, 32, 32)
    # stored as 16-bit integers with BSCALE: the quantisation step is far below the noise (20 ADU)
    assert np.abs(data - cube).max() < (cube.max() - cube.min()) / 2**15
    assert read_header["CLASSNAM"] == "barred_spiral" and read_header["CLASS"] == CLASSES.index("barred_spiral")
    assert read_header["BANDS"] == ",".join(BANDS) and read_header["BAND3"] == "z"
    assert read_header["PIXSCALE"] == pytest.approx(0.262) and read_header["SEED"] == 3
    assert read_header["PSFFWHM"] == pytest.approx(info["psf_fwhm"], abs=1e-3)
    assert "PSFFWHM1" in read_header and "BAR" not in read_header


def test_config_validation():
    with pytest.raises(ValueError, match="class_weights"):
        SimulateConfig(class_weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="own seed"):
        SimulateConfig(splits={"train": Conditions(seed=1), "test": Conditions(seed=1)})
    with pytest.raises(ValueError, match="psf_fwhm"):
        Conditions(psf_fwhm=(2.0, 1.0))


def test_background_subtraction_gives_noise_units():
    rng = np.random.default_rng(0)
    image = rng.normal(50.0, 4.0, size=(64, 64, 3))
    image[28:36, 28:36] += 500  # a source must not bias the clipped background
    out, noise = preprocess.subtract_background(image)
    assert np.median(out) == pytest.approx(0, abs=0.1)
    np.testing.assert_allclose(noise, 4.0, rtol=0.1)


def test_crop_resize_shapes():
    image = np.zeros((100, 80, 3), np.float32)
    assert preprocess.crop_resize(image, 1.0, 32).shape == (32, 32, 3)
    assert preprocess.crop_resize(image, 0.5, 40).shape == (40, 40, 3)


def test_stretches_on_a_known_image():
    image = np.zeros((10, 10, 1), np.float32)
    image[0, 0, 0] = 3.0 * np.sinh(2.0)  # asinh(x / 3) = 2 there
    image[1, :, 0] = np.linspace(0, 1, 10)
    asinh = preprocess.stretch_image(image, "asinh", softening=3.0)
    # after the stretch every value is divided by the 99.5th percentile
    raw = np.arcsinh(image / 3.0)
    np.testing.assert_allclose(asinh, raw / np.percentile(raw, 99.5), rtol=1e-5)
    linear = preprocess.stretch_image(image, "linear")
    np.testing.assert_allclose(linear, image / np.percentile(image, 99.5), rtol=1e-5)
    z = preprocess.stretch_image(np.random.default_rng(0).normal(size=(16, 16, 2)).astype(np.float32), "zscale")
    assert z.shape == (16, 16, 2) and np.isfinite(z).all()
    with pytest.raises(ValueError, match="unknown stretch"):
        preprocess.stretch_image(image, "log")


def test_nan_policy_and_band_count():
    image = np.ones((3, 16, 16))
    image[0, 2, 2] = np.nan
    cfg = preprocess.PreprocessConfig(size=16)
    with pytest.raises(DataError, match="1 NaN"):
        preprocess.prepare_image(image, cfg, 3, "cube.fits")
    masked = preprocess.prepare_image(image, preprocess.PreprocessConfig(size=16, nan_policy="mask"), 3, "x")[0]
    assert np.isfinite(masked).all()
    with pytest.raises(DataError, match="expected 3 bands"):
        preprocess.prepare_image(np.ones((4, 16, 16)), cfg, 3, "four.fits")
    with pytest.raises(DataError, match="has 1 band"):
        preprocess.prepare_image(np.ones((16, 16)), cfg, 3, "grey.png")
