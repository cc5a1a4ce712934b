"""`dvc repro` of the whole airfoil_flow pipeline on tiny params, in a temporary copy of the repo."""

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


def _merge(base, new):
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and not value.get("__replace__"):
            _merge(base[key], value)
        else:
            base[key] = {k: v for k, v in value.items() if k != "__replace__"} if isinstance(value, dict) else value
    return base


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_root, tmp_path, tiny_overrides):
    repo = tmp_path / "repo"
    _copy_repo(repo_root, repo)
    params_path = repo / "projects" / "airfoil_flow" / "params.yaml"
    params = _merge(yaml.safe_load(params_path.read_text()), tiny_overrides)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(repo), "CAPSTONE_ROOT": str(repo)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([sys.executable, "-m", "dvc", "repro", "projects/airfoil_flow/dvc.yaml"], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = repo / "projects" / "airfoil_flow" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "random_cl_abs_circulation" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 10_000
    readme = (repo / "projects" / "airfoil_flow" / "README.md").read_text()
    assert "random_cl_abs_circulation" in readme
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "projects/airfoil_flow/dvc.yaml"], cwd=repo,
                            env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    shown = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo, env=env,
                           capture_output=True, text=True)
    assert "random_cl_abs_circulation" in shown.stdout, shown.stdout
