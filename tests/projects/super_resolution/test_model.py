"""Networks, the in-graph bicubic, tiled inference, colour/alpha/bit-depth handling."""

import numpy as np
import pytest

from projects.super_resolution.images import read_image, write_image
from projects.super_resolution.inference import Upscaler
from projects.super_resolution.model import (
    BicubicUpsample,
    ModelConfig,
    build_model,
    load_model,
    receptive_radius,
    transfer_body,
)
from projects.super_resolution.resize import imresize
from shared.io import DataError


def perturbed(cfg: ModelConfig, seed: int = 0):
    """A model with non-trivial random weights (an untrained one is nearly bicubic)."""
    model = build_model(cfg)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_layer_equals_matlab_imresize(scale):
    y = np.random.default_rng(scale).uniform(size=(13, 21))
    out = BicubicUpsample(scale)(y[None, :, :, None].astype("float32")).numpy()[0, :, :, 0]
    np.testing.assert_allclose(out, imresize(y, scale), atol=1e-6)
    rgb = np.random.default_rng(0).uniform(size=(1, 5, 6, 3)).astype("float32")
    out = BicubicUpsample(scale)(rgb).numpy()[0]
    np.testing.assert_allclose(out, imresize(rgb[0].astype(float), scale), atol=1e-6)


@pytest.mark.parametrize("cfg", [ModelConfig(arch="espcn", channels=8, scale=3),
                                 ModelConfig(arch="edsr", blocks=2, channels=8, scale=4)])
def test_untrained_model_starts_at_bicubic_and_round_trips(cfg, tmp_path):
    model = build_model(cfg)
    y = np.random.default_rng(1).uniform(size=(1, 10, 12, 1)).astype("float32")
    out = model(y).numpy()
    assert out.shape == (1, 10 * cfg.scale, 12 * cfg.scale, 1)
    np.testing.assert_allclose(out[0, :, :, 0], imresize(y[0, :, :, 0].astype(float), cfg.scale), atol=0.03)
    model = perturbed(cfg)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(load_model(tmp_path / "m.keras")(y).numpy(), model(y).numpy(), atol=1e-6)


@pytest.mark.parametrize("cfg", [ModelConfig(arch="espcn", channels=8, scale=2),
                                 ModelConfig(arch="edsr", blocks=2, channels=4, scale=2)])
def test_receptive_radius_is_exact(cfg):
    """Changing one LR pixel changes outputs up to `radius` LR pixels away, and no further."""
    model = perturbed(cfg)
    r, s = receptive_radius(cfg), cfg.scale
    base = np.full((1, 41, 41, 1), 0.5, np.float32)
    bumped = base.copy()
    bumped[0, 20, 20, 0] = 1.0
    diff = np.abs(model(bumped).numpy() - model(base).numpy())[0, :, :, 0]
    rows = np.nonzero(diff.max(axis=1) > 1e-7)[0]
    assert rows.min() == (20 - r) * s and rows.max() == (20 + r) * s + s - 1


def test_fast_model_fits_the_parameter_budget():
    assert build_model(ModelConfig(arch="edsr", blocks=4, channels=32, scale=2)).count_params() <= 100_000


def test_x4_starts_from_x2_weights():
    x2 = perturbed(ModelConfig(blocks=2, channels=8, scale=2))
    x4 = build_model(ModelConfig(blocks=2, channels=8, scale=4))
    assert transfer_body(x2, x4) == 4   # head, 2 blocks, body_end; the tail differs
    np.testing.assert_array_equal(x4.get_layer("block1").get_weights()[0], x2.get_layer("block1").get_weights()[0])


def test_deeper_model_starts_as_the_shallower_one():
    """quality from fast: every layer is copied, the extra (zero-initialised) blocks are the identity."""
    fast = perturbed(ModelConfig(blocks=2, channels=8, scale=2))
    quality = build_model(ModelConfig(blocks=4, channels=8, scale=2))
    assert transfer_body(fast, quality) == 5   # head, 2 blocks, body_end, tail_x2
    y = np.random.default_rng(2).uniform(size=(1, 9, 11, 1)).astype("float32")
    np.testing.assert_allclose(quality(y).numpy(), fast(y).numpy(), atol=1e-6)
    assert transfer_body(perturbed(ModelConfig(arch="espcn", channels=4, scale=2)), quality) == 0


def test_bad_model_config():
    with pytest.raises(ValueError, match="scale must be 2, 3 or 4"):
        ModelConfig(scale=8)


@pytest.fixture
def upscaler():
    cfg = ModelConfig(arch="edsr", blocks=2, channels=8, scale=2)
    return Upscaler(perturbed(cfg), cfg.scale, receptive_radius(cfg), name="tiny_x2")


@pytest.mark.parametrize("tile, overlap", [(16, None), (23, 9), (100, 7)])
def test_tiled_equals_whole_image(upscaler, tile, overlap):
    y = np.random.default_rng(7).uniform(size=(61, 47)).astype(np.float32)
    whole = upscaler.luma(y)
    tiled = upscaler.luma_tiled(y, tile, overlap)
    assert tiled.shape == whole.shape == (122, 94)
    assert np.abs(tiled - whole).max() <= 1e-5


def test_tiles_need_the_receptive_field(upscaler):
    with pytest.raises(ValueError, match="smaller than the receptive radius"):
        upscaler.luma_tiled(np.zeros((20, 20), np.float32), 8, upscaler.radius - 1)


def _rgb(dtype=np.uint8, alpha=False):
    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max
    image = rng.integers(0, top, size=(24, 30, 4 if alpha else 3), endpoint=True).astype(dtype)
    if alpha:
        image[..., 3] = np.linspace(0, top, 30).astype(dtype)[None, :]
    return image


@pytest.mark.parametrize("image", [_rgb(), _rgb(np.uint16), _rgb(alpha=True), _rgb(np.uint16, alpha=True),
                                   _rgb()[..., 0], _rgb(alpha=True)[..., [0, 3]]],
                         ids=["rgb8", "rgb16", "rgba8", "rgba16", "grey8", "grey_alpha8"])
def test_modes_and_bit_depths_round_trip(upscaler, image, tmp_path):
    out = upscaler.upscale(image)
    assert out.dtype == image.dtype and out.shape == (48, 60) + image.shape[2:]
    tiled = upscaler.upscale(image, tile=10)
    assert np.abs(tiled.astype(int) - out.astype(int)).max() <= 1   # equal up to rounding of the last bit
    if image.ndim == 3 and image.shape[-1] in (2, 4):   # alpha is bicubic
        alpha = imresize(image[..., -1], 2)
        np.testing.assert_array_equal(out[..., -1], alpha)
    path = write_image(tmp_path / "out.png", out)
    back = read_image(path)
    np.testing.assert_array_equal(back, out)


def test_sixteen_bit_keeps_its_precision():
    """With a zero correction the network is exactly bicubic: 16-bit output stays on 16-bit levels."""
    cfg = ModelConfig(arch="espcn", channels=4, scale=2)
    model = build_model(cfg)
    tail = model.get_layer("tail_x2")
    tail.set_weights([np.zeros_like(w) for w in tail.get_weights()])
    up = Upscaler(model, 2, receptive_radius(cfg))
    ramp = np.linspace(30_000, 30_400, 20 * 24).reshape(20, 24).astype(np.uint16)
    out = up.upscale(ramp)
    assert np.abs(out.astype(int) - imresize(ramp, 2).astype(int)).max() <= 1
    assert len(np.unique(out)) > 400   # far more levels than an 8-bit round trip could keep
    rgb = np.stack([ramp, ramp // 2 + 1000, ramp // 3], axis=-1)
    assert np.abs(up.upscale(rgb).astype(int) - imresize(rgb, 2).astype(int)).max() <= 2


def test_upscale_rejects_bad_input(upscaler):
    with pytest.raises(DataError, match="unsupported mode"):
        upscaler.upscale(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(DataError, match="unsupported mode"):
        upscaler.upscale(np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(DataError, match="use tiles"):
        upscaler.upscale(np.zeros((100, 100), np.uint8), max_pixels=1000)
    assert upscaler.upscale(np.zeros((100, 100), np.uint8), tile=32, max_pixels=1000).shape == (200, 200)


def test_model_config_refuses_an_unknown_arch():
    from projects.super_resolution.model import ModelConfig

    with pytest.raises(ValueError, match="arch must be 'espcn' or 'edsr'"):
        ModelConfig(arch="srcnn")
