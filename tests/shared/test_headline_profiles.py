"""The headline contract, profiles and the DVC deps closure check."""

import pytest

from shared.config import ConfigError
from shared.deps import check, closure, stage_entry_files
from shared.io import DataError
from shared.metrics import HeadlineError, headline, validate_headline
from shared.profiles import describe, load_profile, read_profiles


def test_headline_verdicts():
    h = headline(metric="MAE at h=1", unit="°C", data="d", model="hybrid", model_value=0.06, baseline="trend",
                 baseline_value=0.065, higher_is_better=False, baseline_rule="best validation MAE",
                 significance={"test": "Diebold-Mariano", "statistic": -1.2, "p_value": 0.3})
    assert h["wins"] and h["verdict"].startswith("wins, not significant") and h["ratio"] == pytest.approx(0.06 / 0.065)
    lose = headline(metric="accuracy", data="d", model="cnn", model_value=0.7, baseline="rf", baseline_value=0.8,
                    higher_is_better=True, baseline_rule="r", significance={"test": "bootstrap", "low": -0.2,
                                                                           "high": -0.05})
    assert not lose["wins"] and lose["verdict"] == "loses"
    both = headline(metric="m", data="d", model="a", model_value=1, baseline="b", baseline_value=2,
                    higher_is_better=False, baseline_rule="r", also=[lose])
    assert validate_headline(both)["also"][0]["verdict"] == "loses"
    assert both["verdict"] == "wins (no significance test)"


def test_headline_refuses_missing_baseline_and_contradictions():
    with pytest.raises(HeadlineError, match="baseline"):
        headline(metric="m", data="d", model="a", model_value=1, baseline="", baseline_value=2,
                 higher_is_better=False, baseline_rule="r")
    with pytest.raises(HeadlineError, match="finite"):
        headline(metric="m", data="d", model="a", model_value=float("nan"), baseline="b", baseline_value=2,
                 higher_is_better=False, baseline_rule="r")
    good = headline(metric="m", data="d", model="a", model_value=1, baseline="b", baseline_value=2,
                    higher_is_better=False, baseline_rule="r")
    with pytest.raises(HeadlineError, match="contradicts"):
        validate_headline({**good, "wins": False})
    with pytest.raises(HeadlineError, match="lacks"):
        validate_headline({"metric": "m"})


def _project(tmp_path, profiles: str):
    base = tmp_path / "projects" / "demo"
    base.mkdir(parents=True)
    (base / "profiles.yaml").write_text(profiles)
    return tmp_path


def test_profiles_missing_files_stop_with_where_to_put_them(tmp_path):
    root = _project(tmp_path, "real:\n  description: the real set\n  requires:\n"
                              "    - path: data/demo/external/*.csv\n      source: https://example.org/x.csv\n"
                              "  params:\n    data.source: real\n    train.sizes: [1, 2]\n")
    with pytest.raises(DataError, match=r"data/demo/external/\*\.csv \(from https://example.org/x.csv\)"):
        load_profile("demo", "real", root)
    assert "MISSING" in describe("demo", root)
    (root / "data" / "demo" / "external").mkdir(parents=True)
    (root / "data" / "demo" / "external" / "a.csv").write_text("x")
    profile = load_profile("demo", "real", root)
    assert profile.overrides() == {"data.source": "real", "train.sizes": "[1, 2]"}
    with pytest.raises(ConfigError, match="no profile 'nope'; profiles: real"):
        load_profile("demo", "nope", root)


def test_profile_mapping_values_become_one_override_per_leaf(tmp_path):
    """A mapping is merged leaf by leaf, so a key that params.yaml's empty mapping lacks can be added with ``++``."""
    root = _project(tmp_path, "co2:\n  description: x\n  params:\n"
                              "    data.covariates: {enso: statsmodels, co2: {src: gml}}\n    data.extra: {}\n")
    assert load_profile("demo", "co2", root).overrides() == {
        "data.covariates.enso": "statsmodels", "data.covariates.co2.src": "gml", "data.extra": "{}"}


def test_profiles_refuse_unknown_keys(tmp_path):
    root = _project(tmp_path, "real:\n  description: x\n  parms: {a: 1}\n")
    with pytest.raises(ConfigError, match="parms"):
        read_profiles("demo", root)


def test_deps_closure_follows_lazy_imports(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "__init__.py").write_text("")
    (tmp_path / "shared" / "a.py").write_text("def f():\n    from shared import b\n")
    (tmp_path / "shared" / "b.py").write_text("import numpy\n")
    files, modules = stage_entry_files("python -m shared.a --x 1 && python shared/b.py", tmp_path)
    assert modules == ["shared.a"] and [f.name for f in files] == ["a.py", "b.py"]
    assert {p.name for p in closure([tmp_path / "shared" / "a.py"], tmp_path)} == {"a.py", "b.py"}


def test_deps_check_reports_missing_modules(tmp_path):
    (tmp_path / "projects" / "demo").mkdir(parents=True)
    (tmp_path / "projects" / "__init__.py").write_text("")
    (tmp_path / "projects" / "demo" / "__init__.py").write_text("")
    (tmp_path / "projects" / "demo" / "lib.py").write_text("")
    (tmp_path / "projects" / "demo" / "data.py").write_text("from projects.demo import lib\n")
    (tmp_path / "projects" / "demo" / "train.py").write_text("from projects.demo.data import x\n")
    (tmp_path / "dvc.yaml").write_text("stages:\n  demo_data:\n    cmd: python -m projects.demo.data\n"
                                       "    deps: [projects/demo/data.py]\n")
    (tmp_path / "projects" / "demo" / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: python -m projects.demo.train\n    deps: [projects/demo]\n")
    reports = {r.stage: r for r in check(tmp_path)}
    assert reports["demo_data"].missing == ("projects/demo/lib.py",)
    assert reports["train"].missing == () and reports["train"].imported_stages == ("projects/demo/data.py",)
