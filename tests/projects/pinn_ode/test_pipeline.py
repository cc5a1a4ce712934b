"""`dvc repro` of the whole pinn_ode pipeline on tiny params, in a temporary copy of the repo."""

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
    params_path = repo / "projects" / "pinn_ode" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["data"].update(problems=["exponential_decay", "damped_oscillator"], grid_points=101, parametric_values=3)
    params["train"].update(problems=["exponential_decay", "damped_oscillator"], seeds=[0], verbose=0,
                           overrides={"parametric": {"lbfgs_steps": 3}})
    params["train"]["network"].update(width=8, depth=1, fourier_features=2)
    params["train"]["training"].update(adam_steps=40, steps_per_epoch=20, lbfgs_steps=5, n_collocation=32)
    params["benchmark"].update(deepxde=False, variants={"configured": {}})
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(repo), "CAPSTONE_ROOT": str(repo)}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([sys.executable, "-m", "dvc", "repro", "projects/pinn_ode/dvc.yaml"], cwd=repo, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = repo / "projects" / "pinn_ode" / "results"
    metrics = json.loads((results / "metrics.json").read_text())
    assert "forward_rel_l2" in metrics["targets"]
    assert (results / "report.html").stat().st_size > 10_000
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "projects/pinn_ode/dvc.yaml"], cwd=repo, env=env,
                            capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout
    shown = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo, env=env, capture_output=True,
                           text=True)
    assert "forward_rel_l2" in shown.stdout or "targets.forward_rel_l2" in shown.stdout, shown.stdout
