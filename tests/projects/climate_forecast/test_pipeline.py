"""`dvc repro` of the whole climate_forecast pipeline on tiny params, in a temporary copy of the repo."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from .conftest import TINY


def _copy_repo(src, dst):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=src, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        if (src / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_root, tmp_path):
    repo = tmp_path / "repo"
    _copy_repo(repo_root, repo)
    params_path = repo / "projects" / "climate_forecast" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    for section, changes in TINY.items():
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(params[section].get(key), dict):
                params[section][key].update(value)
            else:
                params[section][key] = value
    params["backtest"]["models"] = ["persistence", "trend", "trend_residual", "ets", "gru"]
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(repo), "CAPSTONE_ROOT": str(repo)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([sys.executable, "-m", "dvc", "repro", "projects/climate_forecast/dvc.yaml"], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = repo / "projects" / "climate_forecast" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "network_mae_h1" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 10_000
    readme = (repo / "projects" / "climate_forecast" / "README.md").read_text()
    assert "network_mae_h1" in readme
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "projects/climate_forecast/dvc.yaml"], cwd=repo,
                            env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    shown = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo, env=env, capture_output=True,
                           text=True)
    assert "network_mae_h1" in shown.stdout, shown.stdout
