"""Bad inputs that used to escape as tracebacks or a wrong exit status: each is now a one-line error."""

from __future__ import annotations

import numpy as np
import pytest

from projects.galaxy_morphology.dataset import load_split
from shared.cli import main
from shared.io import DataError, save_npz, write_json

from .conftest import CLASSES


def _prepared(path, noise):
    write_json(path / "manifest.json", {"classes": CLASSES, "bands": ["g", "r", "z"], "preprocess": {},
                                        "counts": {"test": 2}})
    save_npz(path / "test.npz", x=np.zeros((2, 8, 8, 3), np.float32), y=np.array([0, 1]),
             ids=np.array(["a", "b"]), noise=noise)


@pytest.mark.parametrize("noise", [np.ones((2, 2), np.float32), np.array([[1, 1, np.nan], [1, 1, 1]], np.float32),
                                   np.zeros((2, 3), np.float32)])
def test_noise_of_a_prepared_split_is_checked(tmp_path, noise):
    _prepared(tmp_path, noise)
    with pytest.raises(DataError, match="noise has shape"):
        load_split(tmp_path, "test", with_noise=True)


def test_noise_that_is_fine_passes(tmp_path):
    _prepared(tmp_path, np.full((2, 3), 20.0, np.float32))
    assert load_split(tmp_path, "test", with_noise=True)[3].shape == (2, 3)


def test_simulate_unknown_class_exits_2(tmp_path, capsys):
    assert main(["galaxy_morphology", "simulate", "--class", "blob", "--out", str(tmp_path / "x.fits")]) == 2
    assert "unknown class 'blob'" in capsys.readouterr().err
