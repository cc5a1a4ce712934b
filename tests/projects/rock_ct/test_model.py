"""The 3D U-Net factory and the intensity normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from projects.rock_ct.model import ModelConfig, build_model, load_model, normalise, volume_stats
from shared.io import DataError

TINY = ModelConfig(widths=(4, 8, 16), convs_per_level=1)


def test_build_model_is_pure_and_fully_convolutional():
    a, b = build_model(TINY), build_model(TINY)
    assert a.count_params() == b.count_params()
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    out = a(np.zeros((1, 8, 12, 16, 1), np.float32), training=False)
    assert tuple(out.shape) == (1, 8, 12, 16, 3) and np.asarray(out).dtype == np.float32
    assert TINY.divisor == 4


def test_receptive_radius_bounds_the_influence_of_a_voxel():
    import keras

    keras.utils.set_random_seed(1)
    net = build_model(TINY)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 32, 1)).astype(np.float32)
    y0 = net(x, training=False).numpy()
    x[0, 16, 16, 16, 0] += 50.0
    changed = np.argwhere(np.abs(net(x, training=False).numpy() - y0).max(axis=(0, 4)) > 1e-6)
    reach = np.abs(changed - 16).max()
    assert 0 < reach <= TINY.receptive_radius


def test_save_and_load_round_trip(tmp_path):
    net = build_model(TINY)
    net.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-6)
    with pytest.raises(DataError, match="train stage"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_model(tmp_path / "bad.keras")


def test_config_validation():
    with pytest.raises(ValueError):
        ModelConfig(widths=())
    with pytest.raises(ValueError):
        ModelConfig(n_classes=1)


def test_volume_stats_subsamples_large_volumes(tmp_path):
    rng = np.random.default_rng(0)
    volume = np.lib.format.open_memmap(tmp_path / "v.npy", mode="w+", dtype=np.uint16, shape=(64, 64, 64))
    volume[:] = rng.integers(1000, 3000, volume.shape)
    low, high = volume_stats(volume, (1, 99), sample=20_000)   # strided subsample
    exact = np.percentile(volume, [1, 99])
    assert abs(low - exact[0]) < 30 and abs(high - exact[1]) < 30
    x = normalise(volume[:2], low, high)
    assert x.dtype == np.float32 and -1.2 < x.mean() < 1.2
    np.testing.assert_allclose(normalise(np.array([low, high]), low, high), [-1, 1], atol=1e-6)


def test_volume_stats_bad_input():
    with pytest.raises(DataError, match="constant"):
        volume_stats(np.full((4, 4, 4), 7, np.uint16))
    with pytest.raises(DataError, match="NaN"):
        volume_stats(np.array([[[1.0, np.nan]]], np.float32))
    with pytest.raises(DataError, match="3D"):
        volume_stats(np.zeros((4, 4)))
