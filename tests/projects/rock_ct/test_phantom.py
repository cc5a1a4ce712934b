"""The phantom generator: phase fractions follow the parameters, scans follow the acquisition, the stage writes
every split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from projects.rock_ct import phantom as P

GEO = P.Geometry(vesicularity=0.25, crystal_fraction=0.12, vesicle_radius=3.0, lath_size=(11.0, 5.0, 3.0),
                 equant_size=6.0)


@pytest.fixture(scope="module")
def labels():
    return P.make_labels(48, GEO, np.random.default_rng(0))


def test_phase_fractions_match_the_parameters(labels):
    counts = np.bincount(labels.ravel(), minlength=3) / labels.size
    assert labels.dtype == np.uint8 and labels.shape == (48, 48, 48)
    assert counts[P.VESICLE] == pytest.approx(0.25, abs=0.03)
    assert counts[P.CRYSTAL] == pytest.approx(0.12, abs=0.015)
    richer = P.make_labels(48, dataclasses.replace(GEO, vesicularity=0.4, crystal_fraction=0.05),
                           np.random.default_rng(0))
    frac = np.bincount(richer.ravel(), minlength=3) / richer.size
    assert frac[P.VESICLE] == pytest.approx(0.4, abs=0.03) and frac[P.CRYSTAL] == pytest.approx(0.05, abs=0.015)


def test_deterministic_in_the_seed():
    a = P.make_phantom(20, GEO, P.Acquisition(), 7)
    b = P.make_phantom(20, GEO, P.Acquisition(), 7)
    c = P.make_phantom(20, GEO, P.Acquisition(), 8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_scan_orders_phases_and_follows_the_acquisition(labels):
    clean = P.Acquisition(noise=0.01, rings=0.0, cupping=0.0, texture=0.0)
    image = P.scan(labels, clean, np.random.default_rng(1))
    assert image.dtype == np.uint16 and image.shape == labels.shape
    means = [image[labels == k].mean() for k in range(3)]
    assert means[P.VESICLE] < means[P.GLASS] < means[P.CRYSTAL]
    noisy = P.scan(labels, dataclasses.replace(clean, noise=0.08, bits=8), np.random.default_rng(1))
    assert len(np.unique(noisy)) <= 256 and np.all(noisy % 257 == 0)
    interior = labels == P.GLASS
    assert noisy[interior].std() > 1.5 * image[interior].std()   # (partial-volume voxels add to both)


def test_bad_parameters():
    with pytest.raises(ValueError, match="bits must be 8 or 16"):
        P.Acquisition(bits=12)
    with pytest.raises(ValueError, match="vesicularity"):
        P.Geometry(vesicularity=0.9)
    with pytest.raises(ValueError, match="at least 8 voxels"):
        P.make_labels(4, GEO, np.random.default_rng(0))


def test_generate_stage_writes_every_split(tiny_params, tmp_path):
    import zarr

    from projects.rock_ct import data

    geo = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(GEO).items()}
    params = tiny_params("rock_ct", {"data": {"geometry": geo, "splits": {"__replace__": True,
        "train": {"count": 2, "size": 16, "seed": 1, "geometry": "randomised", "acquisition": "randomised"},
        "test": {"count": 1, "size": 16, "seed": 2},
        "shifted": {"count": 1, "size": 16, "seed": 4, "acquisition": "shifted"}}}})
    out = tmp_path / "phantom"
    assert data.main(["--params", str(params), "--out", str(out)]) == 0
    train = zarr.open_group(str(out / "train.zarr"), mode="r")
    assert train["image"].shape == (2, 16, 16, 16) and train["labels"].dtype == np.uint8
    assert len(train.attrs["cubes"]) == 2 and train.attrs["voxel_size_um"] == 5.0
    shifted = zarr.open_group(str(out / "shifted.zarr"), mode="r")
    assert shifted["image"].shape == (16, 16, 16) and shifted.attrs["cubes"][0]["acquisition"]["bits"] == 8
    test = zarr.open_group(str(out / "test.zarr"), mode="r")
    assert not np.array_equal(test["image"][...], shifted["image"][...])
