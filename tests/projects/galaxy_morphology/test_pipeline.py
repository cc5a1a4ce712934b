"""`dvc repro` of the whole galaxy_morphology pipeline on tiny params, in a temporary copy of the repo."""

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


def _apply(params: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and not value.get("__replace__") and isinstance(params.get(key), dict):
            _apply(params[key], value)
        else:
            params[key] = {k: v for k, v in value.items() if k != "__replace__"} if isinstance(value, dict) else value


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_root, tmp_path, tiny_changes):
    repo = tmp_path / "repo"
    _copy_repo(repo_root, repo)
    params_path = repo / "projects" / "galaxy_morphology" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    _apply(params, tiny_changes)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(repo), "CAPSTONE_ROOT": str(repo)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([sys.executable, "-m", "dvc", "repro", "projects/galaxy_morphology/dvc.yaml"], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = repo / "projects" / "galaxy_morphology" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "test_accuracy" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 50_000
    readme = (repo / "projects" / "galaxy_morphology" / "README.md").read_text()
    assert "test_accuracy" in readme
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "projects/galaxy_morphology/dvc.yaml"], cwd=repo,
                            env=env, capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    shown = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo, env=env, capture_output=True,
                           text=True)
    assert "test_accuracy" in shown.stdout, shown.stdout
