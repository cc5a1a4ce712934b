"""Tiny fixtures of galaxy_morphology, written by the tests (never the real samples, never the network)."""

from __future__ import annotations

import numpy as np
import pytest

CLASSES = ["smooth_round", "smooth_inbetween", "smooth_cigar", "edge_on_disk", "disk_no_spiral", "spiral",
           "barred_spiral", "merger"]

#: params for a pipeline that runs in seconds: 32-pixel stamps, a few images per split, two tiny stages
TINY = {
    "simulate": {"stamp": 32, "workers": 1, "splits": {
        "__replace__": True, "train": {"count": 48, "seed": 1}, "val": {"count": 16, "seed": 2},
        "test": {"count": 16, "seed": 3}, "shifted": {"count": 16, "seed": 4, "sky_level": [900.0, 900.0]},
        "curve_seeing_1": {"count": 8, "seed": 5, "psf_fwhm": [2.0, 2.2]}}},
    # a made-up chirality pair: exercises label-aware augmentation, TTA and the pair's report
    "data": {"preprocess": {"size": 32}, "workers": 1, "source": {"chirality_pairs": [["spiral", "barred_spiral"]]}},
    "train": {"epochs": 2, "batch_size": 16, "verbose": 0, "model": {"widths": [8, 16]}},
    "baseline": {"random_forest_trees": 10, "workers": 1, "max_train": 24, "max_val": 8, "max_eval": 8,
                 "max_curve": 4},
    "evaluate": {"mc_samples": 3, "throughput_images": 32, "confident_errors": 3},
}


@pytest.fixture(scope="session")
def tiny_changes():
    return TINY


@pytest.fixture
def blob():
    """A noiseless, symmetric, round Gaussian galaxy of sigma 3 px on a 33×33 grid, 3 bands."""
    yy, xx = np.mgrid[:33, :33] - 16.0
    image = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    return np.repeat(image[..., None], 3, axis=-1) * 100.0
