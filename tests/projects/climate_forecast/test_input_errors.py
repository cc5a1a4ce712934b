"""Bad inputs that used to escape as raw Python errors: each is now a one-line ConfigError/DataError."""

from __future__ import annotations

import pytest

from projects.climate_forecast.baselines import ClassicalConfig, make_forecaster
from projects.climate_forecast.prepared import load_prepared
from shared.config import ConfigError
from shared.io import DataError, write_json


def test_unknown_classical_model_names_the_choices():
    with pytest.raises(ConfigError, match="unknown classical model 'foo'; choose from .*arima, ets"):
        make_forecaster("foo", ClassicalConfig())


def test_prepared_csv_with_a_header_and_no_rows(tmp_path):
    write_json(tmp_path / "manifest.json", {"frequency": "annual"})
    (tmp_path / "target.csv").write_text("period,value\n")
    (tmp_path / "inputs.csv").write_text("period,value\n")
    with pytest.raises(DataError, match="header but no rows"):
        load_prepared(tmp_path)
