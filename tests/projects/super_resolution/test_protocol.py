"""The resampler and the evaluation protocol, against hand computations and closed forms."""

import math

import numpy as np
import pytest

from projects.super_resolution import quality
from projects.super_resolution.resize import contributions, cubic, imresize, upsample_kernel


def naive_imresize_1d(x: np.ndarray, scale: float, kernel=cubic, width: float = 4.0) -> np.ndarray:
    """MATLAB's imresize along one axis, written pixel by pixel from the published algorithm."""
    n_out = math.ceil(len(x) * scale)
    if scale < 1:
        h, width = (lambda t: scale * kernel(scale * t)), width / scale
    else:
        h = kernel
    out = np.zeros(n_out)
    for i in range(n_out):
        u = (i + 1) / scale + 0.5 * (1 - 1 / scale)          # 1-based, as in MATLAB
        left = math.floor(u - width / 2)
        idx = [left + k for k in range(math.ceil(width) + 2)]
        w = np.array([h(np.array(u - j, float)) for j in idx], float)
        w /= w.sum()
        mirrored = []
        for j in idx:  # 1-based symmetric mirroring: 1..n, n..1
            j0 = (j - 1) % (2 * len(x))
            mirrored.append(j0 if j0 < len(x) else 2 * len(x) - 1 - j0)
        out[i] = sum(wk * x[m] for wk, m in zip(w, mirrored))
    return out


def test_cubic_kernel_values():
    # Keys (a = -0.5) at the offsets of a ×2 upscale, by hand
    np.testing.assert_allclose(cubic(np.array([0.25, 0.75, 1.25, 1.75])),
                               [0.8671875, 0.2265625, -0.0703125, -0.0234375])
    np.testing.assert_allclose(upsample_kernel(2).sum(axis=1), 1.0)


def test_upscale_x2_first_pixel_by_hand():
    x = np.array([[10.0, 30.0, 20.0, 50.0]])
    out = imresize(x, 2)
    # output 0 samples u = -0.25: taps x[1] (mirrored from -2), x[0] (mirrored from -1), x[0], x[1]
    expected = (0.2265625 + 0.8671875) * 10 + (-0.0234375 - 0.0703125) * 30
    assert out.shape == (2, 8)
    assert out[0, 0] == pytest.approx(expected)
    np.testing.assert_allclose(out[0], naive_imresize_1d(x[0], 2))


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3, 4, 0.7])
def test_matches_the_pixel_by_pixel_algorithm(scale):
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(13, 17))
    out = imresize(image, scale)
    ref_rows = np.stack([naive_imresize_1d(col, scale) for col in image.T], axis=1)
    ref = np.stack([naive_imresize_1d(row, scale) for row in ref_rows])
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_downscale_keeps_constants_and_linear_ramps():
    np.testing.assert_allclose(imresize(np.full((20, 24), 7.0), 1 / 4), 7.0)
    ramp = np.tile(np.arange(40, dtype=float), (8, 1))
    down = imresize(ramp, 1 / 2)
    # interior: output j samples HR position 2j + 0.5, where the ramp's value is 2j + 0.5
    np.testing.assert_allclose(down[:, 3:-3], np.tile(2 * np.arange(20) + 0.5, (4, 1))[:, 3:-3], atol=1e-9)


def test_integer_images_are_rounded_and_clipped():
    image = np.array([[0, 255, 0, 255]] * 4, np.uint8)
    out = imresize(image, 2)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255  # cubic overshoot is clipped
    assert imresize(image.astype(np.uint16) * 257, 2).dtype == np.uint16


def test_every_method_and_bad_arguments():
    image = np.random.default_rng(1).uniform(size=(9, 11, 3))
    for method in ("nearest", "bilinear", "bicubic", "lanczos2", "lanczos3"):
        assert imresize(image, 3, method).shape == (27, 33, 3)
    np.testing.assert_array_equal(imresize(image, 2, "nearest")[::2, ::2], image)
    weights, _ = contributions(10, 5, 0.5, "lanczos3")
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="unknown resize method"):
        imresize(image, 2, "spline")
    with pytest.raises(ValueError, match="positive"):
        imresize(image, 0)
    with pytest.raises(ValueError, match="integer scale"):
        upsample_kernel(1.5)


def test_psnr_closed_form_and_ssim():
    a = np.random.default_rng(2).uniform(20, 200, size=(32, 32))
    assert quality.psnr(a, a + 5.0) == pytest.approx(20 * math.log10(255 / 5))
    assert quality.psnr(a, a) == float("inf")
    assert quality.ssim(a, a) == pytest.approx(1.0)
    noisy = a + np.random.default_rng(3).normal(0, 10, a.shape)
    assert 0 < quality.ssim(a, noisy) < quality.ssim(a, a + np.random.default_rng(3).normal(0, 2, a.shape)) < 1
    with pytest.raises(ValueError, match="shapes differ"):
        quality.psnr(a, a[:-1])


def test_luma_is_bt601_and_rounded_like_matlab():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [10, 200, 30]]], np.uint8)
    y = quality.luma(rgb)
    np.testing.assert_allclose(y[0, :3], [235, 16, round(16 + 65.481)])
    assert y[0, 3] == np.round(16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255)
    grey = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_allclose(quality.luma(grey), [[0, 128, 255]])
    unit = np.random.default_rng(4).uniform(size=(5, 5, 3))
    np.testing.assert_allclose(quality.ycbcr_to_rgb(quality.rgb_to_ycbcr(unit)), unit, atol=1e-12)


def test_modcrop_shave_and_score():
    image = np.zeros((11, 14, 3), np.uint8)
    assert quality.modcrop(image, 4).shape == (8, 12, 3)
    assert quality.shave(np.zeros((10, 10)), 3).shape == (4, 4)
    hr = np.random.default_rng(5).integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    row = quality.score(hr, hr, 2)
    assert row["psnr_y"] == float("inf") and row["ssim_y"] == pytest.approx(1.0) and row["psnr_rgb"] == float("inf")
    assert "psnr_rgb" not in quality.score(hr[..., 0], hr[..., 0], 2)


def test_fixture_image_has_its_known_bicubic_psnr():
    """A fixed 96×96 crop of scikit-image's camera (shipped offline), pinned after the Set5 check.

    The implementation reproduces the published Set5 bicubic PSNR-Y (33.66 / 30.39 / 28.42 dB
    at ×2/×3/×4) to 0.011 dB; this pins the same computation on an image the tests can ship.
    """
    from skimage import data

    hr = data.camera()[200:296, 120:216]
    values = {}
    for scale in (2, 3, 4):
        crop = quality.modcrop(hr, scale)
        sr = imresize(imresize(crop, 1 / scale), scale)
        values[scale] = quality.score(sr, crop, scale)["psnr_y"]
    assert values == pytest.approx(KNOWN_BICUBIC_PSNR, abs=1e-6)


KNOWN_BICUBIC_PSNR = {2: 35.933353092270984, 3: 32.917808113918895, 4: 31.206559070733164}
