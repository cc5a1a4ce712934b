"""Shared test fixtures. The suite runs in two pytest-xdist processes, a test file at a time in each
(``-n 2 --dist loadfile`` in pyproject.toml): module-scoped fixtures run once per file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CAPSTONE_LOG_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _no_log_handler_outlives_its_test():
    """``shared.log.setup_logging`` (every in-process ``capstone`` call) adds one stderr handler to the root logger,
    bound to the stderr of that moment: under ``capsys`` a capture file that pytest closes after the test. A later
    test in the same process would then log into the closed file ("--- Logging error ---" in its output), so the
    handler goes with the test that made it."""
    import logging

    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_capstone", False)]:
        root.removeHandler(handler)


def free_ports(n: int) -> list[int]:
    """``n`` loopback ports free at the time of the call."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class LoopbackCluster:
    """The processes of one ``TF_CONFIG`` cluster of ``n`` workers on loopback ports (the multi_worker tests)."""

    def __init__(self, root: Path, n: int = 2):
        self.root, self.n = root, n
        self.workers = [f"localhost:{p}" for p in free_ports(n)]

    def env(self, index: int) -> dict[str, str]:
        config = {"cluster": {"worker": self.workers}, "task": {"type": "worker", "index": index}}
        return {**os.environ, "TF_CONFIG": json.dumps(config), "PYTHONPATH": str(self.root),
                "TF_CPP_MIN_LOG_LEVEL": "2"}

    def start(self, argv) -> list[subprocess.Popen]:
        """``python ARGV`` as every worker (``argv``: a list, or a function of the worker index returning one)."""
        return [subprocess.Popen([sys.executable, *(argv(i) if callable(argv) else argv)], cwd=self.root,
                                 env=self.env(i), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for i in range(self.n)]

    def run(self, argv, timeout: float = 300) -> list[str]:
        """:meth:`start`, wait, fail the test (with the tails of the output) unless every worker exits 0."""
        procs = self.start(argv)
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
        assert [p.returncode for p in procs] == [0] * self.n, "\n".join(o[-3000:] for o in outputs)
        return outputs


@pytest.fixture
def loopback_cluster(repo_root):
    """``loopback_cluster(n=2)``: a :class:`LoopbackCluster` of the repository's code on fresh ports."""
    return lambda n=2: LoopbackCluster(repo_root, n)


def merge_params(base: dict, new: dict) -> dict:
    """Deep-merge ``new`` into ``base``; a dict with ``__replace__: true`` replaces instead of merging."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and not value.get("__replace__"):
            merge_params(base[key], value)
        else:
            base[key] = {k: v for k, v in value.items() if k != "__replace__"} if isinstance(value, dict) else value
    return base


@pytest.fixture
def tiny_params(tmp_path):
    """Write a params.yaml derived from a project's real one, with changes; returns its path."""
    import yaml

    def make(project: str, changes: dict) -> Path:
        params = yaml.safe_load((ROOT / "projects" / project / "params.yaml").read_text())
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(merge_params(params, changes), sort_keys=False))
        return path

    return make


class RepoCopy:
    """A git-initialised copy of the working tree (tracked and untracked, not ignored files) for `dvc repro` tests.

    Stage commands call plain ``python``; ``env`` puts this interpreter's directory first on PATH, so the copy runs
    with the test's environment whether or not a venv is activated.
    """

    def __init__(self, src: Path, dst: Path):
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=src, capture_output=True,
                               text=True, check=True).stdout.split()
        for rel in files:
            if (src / rel).is_file():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dst / rel)
        subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
        # one commit, as in a real clone: dvclive's Live() fails in a git repo that has none (it asks for HEAD)
        subprocess.run(["git", "-c", "user.name=capstone-tests", "-c", "user.email=tests@localhost", "commit", "-q",
                        "--allow-empty", "-m", "copy of the working tree"], cwd=dst, check=True)
        self.root = dst
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PYTHONPATH": str(dst), "CAPSTONE_ROOT": str(dst),
                    "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}

    def set_params(self, project: str, changes: dict) -> dict:
        """Deep-merge ``changes`` into ``projects/<project>/params.yaml`` of the copy; returns the new params."""
        import yaml

        path = self.root / "projects" / project / "params.yaml"
        params = merge_params(yaml.safe_load(path.read_text()), changes)
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        return params

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``dvc ARGS`` in the copy; with ``check``, fail the test with the tail of its output."""
        run = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=self.root, env=self.env, capture_output=True,
                             text=True)
        if check and run.returncode != 0:
            pytest.fail(f"dvc {' '.join(args)} exited {run.returncode}:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        return run

    def check_pipeline(self, project: str, metric: str, *, targets: tuple[str, ...] = (),
                       report_bytes: int = 10_000) -> dict:
        """``dvc repro`` a project's pipeline, then check what a user gets: ``metric`` among the targets of
        ``metrics.json``, a valid headline (model against strongest baseline), the README results block (made by
        the root ``readme`` stage's command); a report; an up-to-date status (``dvc metrics show`` is checked once
        for every project in tests/test_repo.py)."""
        from shared.metrics import validate_headline

        self.dvc("repro", *targets, f"projects/{project}/dvc.yaml")
        results = self.root / "projects" / project / "results"
        metrics = json.loads((results / "metrics.json").read_text())
        assert metric in metrics["targets"], sorted(metrics["targets"])
        validate_headline(metrics.get("headline"))
        subprocess.run([sys.executable, "-m", "shared.readme", project], cwd=self.root, env=self.env, check=True)
        assert (results / "report.html").stat().st_size > report_bytes
        assert metric in (self.root / "projects" / project / "README.md").read_text()
        status = self.dvc("status", f"projects/{project}/dvc.yaml")
        assert "up to date" in status.stdout, status.stdout
        return metrics


@pytest.fixture
def repo_copy(repo_root, tmp_path) -> RepoCopy:
    return RepoCopy(repo_root, tmp_path / "repo")


@pytest.fixture(scope="module")
def module_repo_copy(repo_root, tmp_path_factory) -> RepoCopy:
    """A RepoCopy shared by the tests of one module: one `dvc repro`, then several tests read what it wrote."""
    return RepoCopy(repo_root, tmp_path_factory.mktemp("module_repo") / "repo")
