"""Stage pieces on tiny params: bad params and input (the whole chain, the CLI and resume run in
test_pipeline.py on what `dvc repro` wrote)."""

import subprocess
import sys

import pytest

from projects.galaxy_morphology import data, train
from shared.config import ConfigError
from shared.io import DataError


def test_unknown_param_key_names_key_and_file(tiny_params):
    path = tiny_params("galaxy_morphology", {"train": {"augment": {"rotaton": True}}})
    with pytest.raises(ConfigError) as err:
        train.main(["--params", str(path), "--data", "x", "--work", "w", "--out", "o"])
    assert "'rotaton'" in str(err.value) and str(path) in str(err.value)
    path = tiny_params("galaxy_morphology", {"data": {"preprocess": {"stretch": "log"}}})
    with pytest.raises(ConfigError, match="must be one of 'asinh', 'zscale', 'linear'"):
        data.main(["--params", str(path), "--out", "x"])


def test_unknown_class_in_the_simulated_csv_is_reported(tiny_params, tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "labels.csv").write_text("filename,class\na.fits,spiral\nb.fits,ringed\n")
    path = tiny_params("galaxy_morphology", {"data": {"source": {"path": str(tmp_path / "raw")}, "workers": 1}})
    with pytest.raises(DataError, match="row 3: unknown class 'ringed'"):
        data.main(["--params", str(path), "--out", str(tmp_path / "prepared")])
    assert not (tmp_path / "prepared").exists()


def test_stage_exits_cleanly_on_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "projects.galaxy_morphology.evaluate", "--params",
                           "projects/galaxy_morphology/params.yaml", "--data", str(tmp_path), "--model",
                           str(tmp_path), "--baseline", str(tmp_path), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "run the baseline stage first" in proc.stderr and "Traceback" not in proc.stderr
