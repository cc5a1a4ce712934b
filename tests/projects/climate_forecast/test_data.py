"""Validation of the series, the data stage and its reader."""

import json

import numpy as np
import pandas as pd
import pytest

from projects.climate_forecast import data
from projects.climate_forecast import prepared as prep
from projects.climate_forecast.prepared import DataConfig, validate
from shared.config import ConfigError
from shared.io import DataError


def monthly(values, start="2000-01"):
    return pd.Series(values, index=pd.period_range(start, periods=len(values), freq="M"), dtype=float)


def test_validate_passes_a_clean_series_and_trims_missing_ends():
    clean, report = validate(monthly([np.nan, 1, 2, 3, np.nan, np.nan]), "s")
    assert list(clean) == [1, 2, 3] and report["trimmed_start"] == 1 and report["trimmed_end"] == 2


def test_duplicate_and_unordered_dates_are_errors():
    s = monthly([1, 2, 3])
    dup = pd.Series([1.0, 2.0, 3.0], index=pd.PeriodIndex(["2000-01", "2000-02", "2000-02"], freq="M"))
    with pytest.raises(DataError, match="duplicate dates 2000-02"):
        validate(dup, "s")
    with pytest.raises(DataError, match="not in increasing order"):
        validate(s.iloc[[0, 2, 1]], "s")


def test_gaps_and_missing_markers_need_interpolate():
    gappy = monthly([1, 2, 3, 4, 5]).drop(pd.Period("2000-03", "M"))
    with pytest.raises(DataError, match=r"1 gap\(s\) in the dates at 2000-03; set data.interpolate"):
        validate(gappy, "s")
    filled, report = validate(gappy, "s", interpolate=True)
    assert filled[pd.Period("2000-03", "M")] == pytest.approx(3.0) and report["interpolated"] == ["2000-03"]
    with pytest.raises(DataError, match=r"1 missing value\(s\) at 2000-02"):
        validate(monthly([1, np.nan, 3]), "s")
    with pytest.raises(DataError, match="4 consecutive missing periods .* exceed data.max_gap=3"):
        validate(monthly([1, np.nan, np.nan, np.nan, np.nan, 6]), "s", interpolate=True)
    with pytest.raises(DataError, match="no valid values"):
        validate(monthly([np.nan, np.nan]), "s")
    with pytest.raises(DataError, match="infinite"):
        validate(monthly([1, np.inf, 2]), "s")


def test_default_source_is_the_embedded_gistemp(tmp_path):
    prepared = prep.prepare(DataConfig(), tmp_path / "raw", external=tmp_path / "none")
    assert prepared.frequency == "annual" and prepared.steps == 12 and prepared.covariates == []
    assert str(prepared.target.index[0]) == "1880" and str(prepared.target.index[-1]) == "2023"
    assert "embedded" in prepared.manifest["files"]["gistemp"]
    assert prepared.target["value"].loc["2023"] == pytest.approx(1.1692)


def test_a_hand_placed_gistemp_file_replaces_the_embedded_copy(tmp_path):
    ext = tmp_path / "external"
    ext.mkdir()
    header = "Year,Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,J-D,D-N,DJF,MAM,JJA,SON"
    rows = [f"{y}," + ",".join(f"{0.01 * (y - 1950) + 0.001 * m:.3f}" for m in range(12)) + f",{0.01 * (y - 1950):.2f}"
            + ",***,***,***,***,***" for y in range(1950, 2025)]
    (ext / "GLB.Ts+dSST.csv").write_text("Land-Ocean: Global Means\n" + header + "\n" + "\n".join(rows) + "\n")
    prepared = prep.prepare(DataConfig(), tmp_path / "raw", external=ext)
    assert str(prepared.target.index[-1]) == "2024"
    assert prepared.manifest["files"]["gistemp"].endswith("GLB.Ts+dSST.csv")


def test_statsmodels_co2_with_enso_is_prepared_offline(tmp_path):
    cfg = DataConfig(source="statsmodels_co2", frequency="monthly", covariates={"enso": "statsmodels"},
                     interpolate=True)
    prepared = prep.prepare(cfg, tmp_path)
    assert prepared.frequency == "monthly" and prepared.steps == 1 and prepared.covariates == ["enso"]
    assert prepared.manifest["validation"]["monthly"]["interpolated"] == ["1958-06", "1958-10", "1964-02", "1964-03",
                                                                          "1964-04"]
    assert str(prepared.target.index[0]) == "1958-03" and str(prepared.target.index[-1]) == "2001-12"
    with pytest.raises(DataError, match="set data.interpolate: true"):
        prep.prepare(DataConfig(source="statsmodels_co2", frequency="monthly"), tmp_path)  # CO2 has 5 empty months


def test_annual_target_keeps_monthly_inputs(tmp_path):
    ext = tmp_path / "external"
    ext.mkdir()
    years = range(1950, 2000)
    rows_a = [f"GISTEMP,{y},{0.01 * (y - 1950):.3f}" for y in years]
    rows_m = [f"GISTEMP,{y}-{m:02d},{0.01 * (y - 1950):.3f}" for y in years for m in range(1, 13)]
    (ext / "annual.csv").write_text("Source,Year,Mean\n" + "\n".join(rows_a) + "\n")
    (ext / "monthly.csv").write_text("Source,Year,Mean\n" + "\n".join(rows_m) + "\n")
    prepared = prep.prepare(DataConfig(source="datahub", frequency="annual"), tmp_path / "raw", external=ext)
    assert prepared.frequency == "annual" and prepared.steps == 12 and len(prepared.target) == 50
    prep.write_prepared(prepared, tmp_path / "prepared")
    again = prep.load_prepared(tmp_path / "prepared")
    assert again.steps == 12 and again.target["value"].iloc[-1] == pytest.approx(0.49)
    with pytest.raises(DataError, match="at least data.min_length=60"):
        prep.prepare(DataConfig(source="datahub", frequency="annual", min_length=60), tmp_path / "raw", external=ext)


def test_too_short_for_frequency_and_bad_config(tmp_path):
    with pytest.raises(ConfigError, match="'sourse'"):
        from shared.config import from_mapping

        from_mapping(DataConfig, {"sourse": "gistemp"})
    with pytest.raises(ValueError, match="is the target series itself"):
        DataConfig(source="statsmodels_co2", covariates={"co2": "statsmodels"})


def test_stage_main_and_corrupt_outputs(params, tmp_path):
    out = tmp_path / "prepared"
    assert data.main(["--params", str(params), "--raw", str(tmp_path / "raw"), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == "gistemp" and manifest["target_span"] == ["1950", "2023"]
    target = out / "target.csv"
    lines = target.read_text().splitlines()
    target.write_text("\n".join(lines[:5] + [lines[5].split(",")[0] + ",nan"] + lines[6:]) + "\n")
    with pytest.raises(DataError, match="NaN"):
        prep.load_prepared(out)
    target.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    with pytest.raises(DataError, match="not consecutive"):
        prep.load_prepared(out)
    target.write_text("")
    with pytest.raises(DataError):
        prep.load_prepared(out)
