"""Unit-root tests and the verdict on series with known answers."""

import json

import numpy as np
import pytest

from projects.climate_forecast import stationarity, unitroot
from shared.io import DataError


def test_random_walk_is_difference_stationary():
    y = np.cumsum(np.random.default_rng(0).normal(size=400))
    result = unitroot.analyse(y)
    assert result["verdict"] == "difference-stationary" and result["d"] == 1


def test_white_noise_plus_trend_is_trend_stationary():
    rng = np.random.default_rng(0)
    y = 0.05 * np.arange(400) + rng.normal(size=400)
    result = unitroot.analyse(y)
    assert result["verdict"] == "trend-stationary" and result["d"] == 0


def test_table_layout_and_seasonal_differences():
    rng = np.random.default_rng(1)
    t = np.arange(240)
    y = 3 * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(size=240))
    result = unitroot.analyse(y, season=12)
    rows = unitroot.table(result)
    assert {r["transform"] for r in rows} >= {"levels", "first differences", "seasonal differences"}
    assert {r["test"] for r in rows} == {"DF", "ADF", "PP", "KPSS"}
    df = next(r for r in rows if r["test"] == "DF" and r["transform"] == "levels")
    assert df["lags"] == 0 and df["null"] == "unit root"
    assert result["D"] in (0, 1)


@pytest.mark.parametrize(("y", "verdict", "d", "reason"), [
    (np.zeros(60), "constant", 0, "constant"),
    (np.full(40, 0.25), "constant", 0, "constant"),
    (1.0 + 1e-15 * np.random.default_rng(0).normal(size=50), "constant", 0, "constant"),
    (0.02 * np.arange(80) - 0.3, "deterministic trend", 0, "straight line"),
    (np.random.default_rng(0).normal(size=8), "not testable", 1, "too short"),
    (np.full(50, np.nan), "not testable", 1, "all NaN"),
    (np.r_[np.random.default_rng(0).normal(size=30), np.nan], "not testable", 1, "NaN"),
])
def test_degenerate_series_get_a_one_line_verdict(y, verdict, d, reason):
    result = unitroot.analyse(y)
    assert result["verdict"] == verdict and result["d"] == d and reason in result["rule"]
    assert result["tables"] == {} and "\n" not in result["rule"]


def test_degenerate_transforms_are_skipped_not_tested():
    t = np.arange(120)
    y = np.sin(2 * np.pi * t / 12) + 0.01 * t  # seasonal differences are exactly constant
    result = unitroot.analyse(y, season=12)
    assert "seasonal differences" in result["skipped"] and "seasonal differences" not in result["tables"]
    rows = unitroot.table(result)
    assert all(np.isfinite(r["statistic"]) or r.get("note") for r in rows)
    # a legal but tiny series: every test answers, or a NaN row says why; never a traceback
    short = unitroot.analyse(np.random.default_rng(3).normal(size=13))
    assert short["verdict"] and all(np.isfinite(r["statistic"]) or r["note"] for r in unitroot.table(short))


def test_run_tests_refuses_a_degenerate_series():
    with pytest.raises(DataError, match="too short"):
        unitroot.run_tests(np.arange(5.0), regression="c")
    with pytest.raises(DataError, match="constant"):
        unitroot.run_tests(np.ones(30), regression="c")


def test_cli_on_a_constant_hadcrut5_series(tmp_path, capsys):
    from shared import cli

    ext = tmp_path / "external"
    ext.mkdir()
    head = "Time,Anomaly (deg C),Lower confidence limit (2.5%),Upper confidence limit (97.5%)\n"
    (ext / "HadCRUT.5.0.2.0.analysis.summary_series.global.annual.csv").write_text(
        head + "".join(f"{y},0.000,-0.100,0.100\n" for y in range(1950, 2010)))
    (ext / "HadCRUT.5.0.2.0.analysis.summary_series.global.monthly.csv").write_text(
        head + "".join(f"{y}-{m:02d},0.000,-0.100,0.100\n" for y in range(1950, 2010) for m in range(1, 13)))
    assert cli.main(["climate_forecast", "stationarity", "--source", "hadcrut5", "--raw", str(tmp_path / "raw"),
                     "--external", str(ext)]) == 0
    out = capsys.readouterr().out
    assert "verdict: constant (d=0" in out and "Traceback" not in out


def test_stage_main(params, tmp_path):
    from projects.climate_forecast import data

    prepared = tmp_path / "prepared"
    data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(prepared)])
    out = tmp_path / "results"
    assert stationarity.main(["--params", str(params), "--data", str(prepared), "--out", str(out)]) == 0
    result = json.loads((out / "stationarity.json").read_text())
    assert result["verdict"]["verdict"] and "DF(ct) levels" in result["tests"]
    assert (out / "plots" / "acf.csv").stat().st_size > 0 and (out / "plots" / "rolling.csv").stat().st_size > 0
