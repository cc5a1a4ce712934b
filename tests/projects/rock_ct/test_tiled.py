"""Tiled inference: equal to the whole-volume pass, written slab by slab, in memory bounded by the tile."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from projects.rock_ct.model import ModelConfig, build_model
from projects.rock_ct.tiled import Segmenter, blend_weights
from shared.io import DataError

#: one pooling, one convolution per level: receptive radius 5 voxels, so a halo of 12 makes the tiling exact
TINY = ModelConfig(widths=(4, 8), convs_per_level=1)


@pytest.fixture(scope="module")
def segmenter():
    import keras

    keras.utils.set_random_seed(0)
    model = build_model(TINY)
    # non-trivial batch-norm statistics, so that the network is not near-constant
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.05, np.float32))
    return Segmenter(model, divisor=TINY.divisor, receptive_radius=TINY.receptive_radius)


def phantom(shape, seed=0) -> np.ndarray:
    """A uint16 volume with smooth structure: three intensity levels of a blurred random field, plus noise."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    levels = np.digitize(field, np.quantile(field, [0.3, 0.85]))
    return (10_000 + 8_000 * levels + rng.normal(0, 800, shape)).clip(0, 65535).astype(np.uint16)


def test_blend_weights_trust_span():
    w = blend_weights(40, 12, 16, 6)
    assert (w[:6] == 0).all() and (w[34:] == 0).all() and (w[6:34] > 0.1).all()
    assert np.argmax(w) in (19, 20)


def test_tiled_equals_whole(segmenter):
    assert 2 * TINY.receptive_radius <= 12
    volume = phantom((40, 48, 36))
    stats = segmenter.stats(volume)
    whole = segmenter.probabilities_whole(volume, halo=12, stats=stats)
    tiled = segmenter.probabilities(volume, tile=16, halo=12, stats=stats, progress=False)
    assert tiled.shape == (40, 48, 36, 3)
    np.testing.assert_allclose(tiled.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tiled, whole, atol=2e-4)
    labels = segmenter.segment(volume, tile=16, halo=12, stats=stats, progress=False)
    assert labels.dtype == np.uint8
    assert (labels == whole.argmax(-1)).mean() > 0.999
    assert len(np.unique(labels)) > 1


def test_small_halo_differs_only_slightly(segmenter):
    volume = phantom((32, 32, 32), seed=1)
    stats = segmenter.stats(volume)
    whole = segmenter.probabilities_whole(volume, halo=4, stats=stats).argmax(-1)
    labels = segmenter.segment(volume, tile=8, halo=4, stats=stats, progress=False)
    assert (labels == whole).mean() > 0.9  # an untrained network, seams every 8 voxels


def test_writes_into_memmap_slab_by_slab(segmenter, tmp_path):
    volume = phantom((36, 24, 24), seed=2)
    out = np.lib.format.open_memmap(tmp_path / "labels.npy", mode="w+", dtype=np.uint8, shape=volume.shape)
    writes = []

    class Recorder:
        shape = out.shape

        def __setitem__(self, key, value):
            writes.append((key.start, key.stop))
            out[key] = value

    segmenter.segment(volume, out=Recorder(), tile=8, halo=4, progress=False)
    assert writes[0][0] == 0 and writes[-1][1] == 36
    assert all(a[1] == b[0] for a, b in zip(writes, writes[1:]))
    assert len(writes) == 36 // 8 + 1
    expected = segmenter.segment(volume, tile=8, halo=4, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), expected)


def test_peak_memory_scales_with_the_tile_not_the_volume(segmenter):
    """numpy's allocations (traced) stay near the rolling accumulator, far below the volume's probabilities."""
    volume = phantom((320, 32, 32), seed=3)
    out = np.empty(volume.shape, np.uint8)
    stats = segmenter.stats(volume)
    segmenter.segment(volume[:16], tile=8, halo=4, stats=stats, progress=False)  # warm up the graph
    tracemalloc.start()
    segmenter.segment(volume, out=out, tile=8, halo=4, stats=stats, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    slab = (8 + 4) * 32 * 32 * 4 * 4          # accumulator: (tile + halo) slices × (classes + 1) float32
    window = 16 ** 3 * 4 * 8                  # a window, its probabilities and temporaries
    full = volume.size * 3 * 4                # what holding every probability would take
    assert peak < 3 * (slab + window) < full / 3, (peak, slab, window, full)


def test_bad_input(segmenter):
    with pytest.raises(DataError, match="3D"):
        segmenter.segment(np.zeros((4, 4), np.uint16))
    with pytest.raises(DataError, match="NaN"):
        segmenter.segment(np.full((8, 8, 8), np.nan, np.float32))
    with pytest.raises(DataError, match="constant"):
        segmenter.segment(np.ones((8, 8, 8), np.uint16))
    with pytest.raises(DataError, match="shape"):
        segmenter.segment(phantom((8, 8, 8)), out=np.zeros((8, 8, 9), np.uint8))
    with pytest.raises(ValueError, match="halo"):
        segmenter.segment(phantom((8, 8, 8)), halo=3)
