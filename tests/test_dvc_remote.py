"""A DVC remote for teams (README, "Sharing data and models"): a push and pull round trip through a remote in a
local folder, the same commands as with S3, GCS, Azure or SSH (only the URL differs)."""

import shutil
import subprocess
import sys

import pytest


def _dvc(cwd, *args):
    run = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, f"dvc {' '.join(args)}: {run.stdout[-2000:]}{run.stderr[-2000:]}"
    return run.stdout


@pytest.mark.slow
def test_push_then_pull_from_a_folder_remote_restores_the_data(tmp_path):
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    _dvc(repo, "remote", "add", "-d", "team", str(remote))
    data = repo / "data" / "prepared"
    data.mkdir(parents=True)
    payload = {"a.npz": b"\x93NUMPY" + bytes(range(256)) * 40, "meta.json": b'{"n": 3}\n'}
    for name, blob in payload.items():
        (data / name).write_bytes(blob)
    _dvc(repo, "add", "-q", "data/prepared")
    _dvc(repo, "push", "-q")
    assert any(p.is_file() for p in remote.rglob("*"))
    # a teammate's clone: no cache, no data; `dvc pull` brings both back
    shutil.rmtree(data)
    shutil.rmtree(repo / ".dvc" / "cache")
    _dvc(repo, "pull", "-q")
    assert {p.name: p.read_bytes() for p in data.iterdir()} == payload
