"""`dvc repro` of the whole super_resolution pipeline on tiny params, in a temporary copy of the repo."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml


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
    params_path = repo / "projects" / "super_resolution" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["data"]["skimage"] = {"train": ["text", "coins"], "val": ["page"], "test": ["camera"]}
    params["train"].update(models={"fast": {"arch": "edsr", "blocks": 1, "channels": 4}},
                           runs={"fast_x2": {"model": "fast", "scale": 2, "steps": 2},
                                 "fast_x4": {"model": "fast", "scale": 4, "steps": 2, "init_from": "fast_x2"}},
                           lr_patch=8, batch_size=2, steps_per_epoch=2, val_crop=32, verbose=0)
    params["evaluate"].update(timing_size=16, timing_repeats=1, crops=1, crop_size=16)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(repo), "CAPSTONE_ROOT": str(repo)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([sys.executable, "-m", "dvc", "repro", "super_resolution_data",
                          "projects/super_resolution/dvc.yaml"], cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = repo / "projects" / "super_resolution" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "gain_x2_db" in metrics["targets"] and "fast_x4" in metrics["x4"]
    assert (results / "report.html").stat().st_size > 50_000
    readme = (repo / "projects" / "super_resolution" / "README.md").read_text()
    assert "gain_x2_db" in readme
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "projects/super_resolution/dvc.yaml"], cwd=repo,
                            env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    shown = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo, env=env, capture_output=True,
                           text=True)
    assert "gain_x2_db" in shown.stdout, shown.stdout
