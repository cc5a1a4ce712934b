"""Repository-level checks: layout, DVC pipelines, README tables, the CLI."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from shared.paths import project_names
from shared.readme import render_metrics, render_project_table

REQUIRED_STAGES = ("train", "evaluate", "report")
PROJECT_FILES = ("dvc.yaml", "params.yaml", "README.md", "notebook.py", "data.py", "model.py", "train.py",
                 "evaluate.py", "__init__.py")


def test_top_level_layout(repo_root):
    for name in ("projects", "shared", "data", "dvc.yaml", "tests", "pyproject.toml", "README.md", ".ci/run", ".dvc"):
        assert (repo_root / name).exists(), name


def test_dvc_pipelines_parse(repo_root):
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        stages = {s.addressing for s in repo.index.stages}
    for project in project_names(repo_root):
        assert f"{project}_data" in stages
        for stage in REQUIRED_STAGES:
            assert f"projects/{project}/dvc.yaml:{stage}" in stages


def test_dvc_metrics_show_lists_every_project(repo_root):
    """`dvc metrics show` (what a user runs to compare projects) reads every committed metrics.json."""
    run = subprocess.run([sys.executable, "-m", "dvc", "metrics", "show"], cwd=repo_root, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    for project in project_names(repo_root):
        assert f"projects/{project}/results/metrics.json" in run.stdout, project


@pytest.mark.parametrize("project", project_names())
def test_project_skeleton(repo_root, project):
    base = repo_root / "projects" / project
    for name in PROJECT_FILES:
        assert (base / name).exists(), f"projects/{project}/{name}"
    params = yaml.safe_load((base / "params.yaml").read_text())
    assert {"data", "train", "evaluate", "report"} <= set(params)
    stages = yaml.safe_load((base / "dvc.yaml").read_text())["stages"]
    assert all(stage.get("wdir") == "../.." for stage in stages.values())


@pytest.mark.parametrize("project", project_names())
def test_readme_results_match_metrics(repo_root, project):
    """README numbers are generated from metrics.json, never typed by hand."""
    metrics = repo_root / "projects" / project / "results" / "metrics.json"
    if not metrics.exists():
        pytest.skip("pipeline not run yet")
    readme = (repo_root / "projects" / project / "README.md").read_text()
    block = re.search(r"<!-- results:begin -->\n(.*?)\n<!-- results:end -->", readme, re.S)
    assert block, "README lacks the results block"
    assert block.group(1).strip() == render_metrics(json.loads(metrics.read_text())).strip()
    root = (repo_root / "README.md").read_text()
    assert render_project_table(repo_root).strip() in root


def test_cli_list_and_run(repo_root, monkeypatch, capsys):
    from shared import cli

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for project in project_names(repo_root):
        assert project in out
    calls, envs = [], []
    monkeypatch.setattr(cli, "_dvc", lambda *args, env=None: calls.append(args) or envs.append(env) or 0)
    assert cli.main(["run", "pinn_ode", "--stage", "train"]) == 0
    assert cli.main(["run", "pinn_ode", "-S", "train.training.adam_steps=600"]) == 0
    assert cli.main(["run", "--all"]) == 0
    assert calls == [("repro", "projects/pinn_ode/dvc.yaml:train"),
                     ("exp", "run", "-S", "projects/pinn_ode/params.yaml:train.training.adam_steps=600",
                      "projects/pinn_ode/dvc.yaml"),
                     ("repro", "-P")]
    assert cli.main(["run", "nope"]) == 2
    # a misspelt section or key stops before DVC runs, naming it
    calls.clear()
    assert cli.main(["run", "pinn_ode", "-S", "trian.epochs=3"]) == 2
    assert cli.main(["run", "pinn_ode", "-S", "train.no_such_section.key=3"]) == 2
    assert cli.main(["run", "pinn_ode", "--profile", "no_such_profile"]) == 2
    assert calls == []
    err = capsys.readouterr().err
    assert "unknown section 'trian'" in err and "'no_such_section'" in err and "no_such_profile" in err
    # a leaf key that params.yaml leaves to its default is added (DVC's ++), and the stage checks it
    assert cli.main(["run", "pinn_ode", "-S", "train.not_in_params_yet=3"]) == 0
    assert calls[-1][-2] == "projects/pinn_ode/params.yaml:++train.not_in_params_yet=3"
    # a profile that reads files on disk reruns every stage: DVC would skip, or restore from its run cache, a data
    # stage whose files changed under the same params (the files are no DVC dependency)
    from shared import profiles

    on_disk = profiles.Profile("pinn_ode", "mine", "files on disk", (profiles.Requirement("README.md"),),
                               {"train.seeds": [0]})
    monkeypatch.setattr(profiles, "load_profile", lambda project, name: on_disk)
    assert cli.main(["run", "pinn_ode", "--profile", "mine"]) == 0
    assert calls[-1][0:2] == ("exp", "run") and calls[-1][-2:] == ("--force", "projects/pinn_ode/dvc.yaml")
    plain = profiles.Profile("pinn_ode", "gen", "generated", (), {"train.seeds": [0]})
    monkeypatch.setattr(profiles, "load_profile", lambda project, name: plain)
    assert cli.main(["run", "pinn_ode", "--profile", "gen"]) == 0 and "--force" not in calls[-1]
    # an external tf.data service for the train stages: passed to DVC's stage processes in the environment
    from shared.training import DATA_SERVICE_ENV

    monkeypatch.delenv(DATA_SERVICE_ENV, raising=False)
    assert cli.main(["run", "pinn_ode", "--data-service", "localhost:5050"]) == 2
    assert "grpc://host:port" in capsys.readouterr().err and DATA_SERVICE_ENV not in os.environ
    assert cli.main(["run", "pinn_ode", "--data-service", "grpc://localhost:5050"]) == 0
    assert envs[-1] == {DATA_SERVICE_ENV: "grpc://localhost:5050"}  # DVC's process only: nothing leaks into ours
    assert DATA_SERVICE_ENV not in os.environ


@pytest.mark.parametrize("project", project_names())
def test_profiles_parse_and_name_params_keys(project):
    """Every profile of every project is well-formed and overrides keys that exist in params.yaml."""
    from shared.cli import _check_keys
    from shared.profiles import read_profiles

    for profile in read_profiles(project).values():
        _check_keys(project, list(profile.params))
        assert profile.description


@pytest.mark.parametrize("project", project_names())
def test_params_sections_are_read_by_a_stage(repo_root, project):
    from shared.config import check_sections, read_yaml

    path = repo_root / "projects" / project / "params.yaml"
    check_sections(read_yaml(path), path, project)


def test_dvc_deps_cover_each_stage_import_closure(repo_root):
    """A change to any module a stage imports reruns that stage; no stage module imports another."""
    from shared.deps import check

    bad = [r for r in check(repo_root) if not r.ok]
    assert not bad, "\n".join(f"{r.dvcfile}:{r.stage} misses {list(r.missing)}, "
                               f"imports stages {list(r.imported_stages)}" for r in bad)


@pytest.mark.parametrize("project", project_names())
def test_headline_has_strongest_baseline(repo_root, project):
    """Every committed metrics.json holds the headline contract: model, strongest baseline, ratio, verdict."""
    from shared.metrics import validate_headline

    path = repo_root / "projects" / project / "results" / "metrics.json"
    if not path.exists():
        pytest.skip("pipeline not run yet")
    block = validate_headline(json.loads(path.read_text()).get("headline"))
    assert block["baseline"] and block["baseline_rule"]


def test_console_script_help():
    proc = subprocess.run([sys.executable, "-m", "shared.cli", "pinn_ode", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "solve" in proc.stdout
