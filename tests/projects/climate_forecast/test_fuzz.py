"""Property-based fuzzing of the temperature and covariate readers (issue 17 §C).

Property: each reader of a user's file (GISTEMP, HadCRUT5, NOAA, datahub, GML and datahub CO2,
PSL index tables) and the CF time-axis decoder of gridded NetCDF (:func:`monthly_periods`) returns a
series OR raises :class:`~shared.io.DataError`; any other exception is a crash. Structure-aware: valid
files of each layout, mutated (lines dropped/duplicated/swapped, cells replaced by NaN/inf/huge/text,
columns swapped, truncated, other delimiters, BOMs, encodings), plus raw bytes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projects.climate_forecast import sources
from shared.io import DataError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_COUNT = itertools.count()

_HEAD = "Year,Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,J-D,D-N,DJF,MAM,JJA,SON"
SAMPLES = {
    "gistemp": "Land-Ocean: Global Means\n" + _HEAD + "\n"
               "1880,-.18,-.24,-.09,-.16,-.10,-.21,-.18,-.10,-.14,-.23,-.22,-.18,-.17,***,***,-.12,-.17,-.20\n"
               "1881,-.19,-.14,.03,.05,.06,-.18,.01,-.03,-.15,-.22,-.18,-.07,-.09,-.10,-.17,.05,-.07,-.18\n"
               "2024,1.24,1.44,1.39,***,***,***,***,***,***,***,***,***,***,***,1.26,***,***,***\n",
    "hadcrut5": "Time,Anomaly (deg C),Lower confidence limit (2.5%),Upper confidence limit (97.5%)\n"
                "1850-01,-0.6746,-0.98,-0.36\n1850-02,-0.3334,-0.70,0.03\n1850-03,-0.59,-0.9,-0.2\n",
    "noaa": "# Global Land and Ocean January - December Temperature Anomalies\n# Units: Degrees Celsius\n"
            "# Base Period: 1901-2000\n# Missing: -999\nYear,Anomaly\n1850,-0.18\n1851,-999\n1852,-0.09\n",
    "datahub": "Source,Year,Mean\ngcag,2001,0.52\nGISTEMP,2001,0.54\ngcag,2000,0.39\nGISTEMP,2000,0.40\n"
               "GISTEMP,1999,0.41\n",
    "co2_gml": "# comment\n# more\nyear,month,decimal date,average,deseasonalized,ndays,sdev,unc\n"
               "1958,3,1958.2027,315.71,314.44,-1,-9.99,-0.99\n1958,4,1958.2877,-99.99,315.16,-1,-9.99,-0.99\n",
    "co2_datahub": "Date,Decimal Date,Average,Interpolated,Trend,Number of Days\n"
                   "1958-03,1958.2027,315.71,314.44,-01,-9.99,-0.99\n1958-04,1958.2877,317.45,315.16,-01,-9.99,-0.99\n",
    "psl": "  2000 2001\n2000 " + " ".join(["0.5"] * 12) + "\n2001 " + " ".join(["0.1"] * 11)
           + " -99.99\n  -99.99\n  Nino 3.4 text\n",
}
READERS = {
    "gistemp": sources.read_gistemp, "hadcrut5": sources.read_hadcrut5, "noaa": sources.read_noaa,
    "datahub": sources.read_datahub, "co2_gml": sources.read_co2_gml, "co2_datahub": sources.read_co2_datahub,
    "psl": sources.read_psl_index,
}
TOKENS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e308", "1e999", "-0", "", "***", "abc", "0x1f", "１２",
                          "²", "1,5", "99999999999999999999", "-99999", "0000", "10000", "1850-13", "1850-00",
                          "185013", "9999-12", "2000-02-30", "\x00", "é", '"', "'", "#", "1958", "3", "-1"])


@st.composite
def mutated(draw, text: str) -> bytes:
    lines = text.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "cell", "cell", "truncate", "junk", "cols", "extra"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op in ("cell", "extra"):
            sep = "," if "," in lines[i] else " "
            cells = lines[i].split(sep)
            k = draw(st.integers(0, len(cells) - 1))
            if op == "cell":
                cells[k] = draw(TOKENS)
            else:
                cells.insert(k, draw(TOKENS))
            lines[i] = sep.join(cells)
        elif op == "truncate":
            joined = "\n".join(lines)
            lines = joined[:draw(st.integers(0, len(joined)))].splitlines()
        elif op == "junk":
            lines.insert(i, draw(st.text(max_size=30)))
        else:  # swap two columns throughout
            k = draw(st.integers(0, 3))
            out = []
            for line in lines:
                cells = line.split(",")
                if len(cells) > k + 1:
                    cells[k], cells[k + 1] = cells[k + 1], cells[k]
                out.append(",".join(cells))
            lines = out
    joined = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    if draw(st.booleans()):
        joined = joined.replace(",", draw(st.sampled_from([";", "\t", ", ", ",,"])))
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    return (bom + joined).encode(draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"])), errors="replace")


def _check(reader, data: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("csv") / f"f{next(_COUNT)}.csv"
    path.write_bytes(data)
    try:
        result = reader(path)
    except DataError:
        return
    for series in result if isinstance(result, tuple) else (result,):
        assert isinstance(series, pd.Series) and isinstance(series.index, pd.PeriodIndex)


def _make(name):
    @SETTINGS
    @given(data=mutated(SAMPLES[name]))
    def test(data, tmp_path_factory):
        _check(READERS[name], data, tmp_path_factory)

    test.__name__ = f"test_fuzz_{name}"
    return test


test_fuzz_gistemp = _make("gistemp")
test_fuzz_hadcrut5 = _make("hadcrut5")
test_fuzz_noaa = _make("noaa")
test_fuzz_datahub = _make("datahub")
test_fuzz_co2_gml = _make("co2_gml")
test_fuzz_co2_datahub = _make("co2_datahub")
test_fuzz_psl = _make("psl")


@SETTINGS
@given(reader=st.sampled_from(sorted(READERS)), data=st.binary(max_size=300))
@example(reader="gistemp", data=b"\xef\xbb\xbf")
def test_fuzz_random_bytes(reader, data, tmp_path_factory):
    _check(READERS[reader], data, tmp_path_factory)


_UNITS = st.sampled_from(["days since 1850-01-01", "hours since 1970-01-01 00:00:00", "months since 1850-01",
                          "years since 2000-01-01", "common_years since 1-1-1", "seconds since 1850-1-1",
                          "days since 0000-01-01", "days since -4712-01-01", "days since 1850-13-45", "days",
                          "since 1850", "fortnights since 1850-01-01", "days since yesterday", "",
                          "months since 9999-12", "days since 1582-10-10"]) | st.text(max_size=25)
_CALENDARS = st.sampled_from(["standard", "gregorian", "proleptic_gregorian", "noleap", "365_day", "all_leap",
                              "366_day", "360_day", "julian", "none", "NOLEAP", "", "lunar"]) | st.none()
_VALUES = st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**12, 10**12), max_size=6)


@SETTINGS
@given(values=_VALUES, units=_UNITS | st.none(), calendar=_CALENDARS)
@example(values=[0.0, 31.0], units="days since 1850-01-01", calendar="noleap")
def test_fuzz_monthly_periods(values, units, calendar):
    try:
        index = sources.monthly_periods(np.asarray(values, dtype=float), units, calendar, "fuzz.nc")
    except DataError:
        return
    assert isinstance(index, pd.PeriodIndex) and len(index) == len(values)


def test_regressions_found_by_fuzzing(tmp_path):
    """The crashes the fuzzing found, as plain regression tests (each was a non-DataError before)."""
    import pytest

    for values, units in (([2147481648.0], "years since 2000-01-01"),  # OverflowError in int()
                          ([106751992.0], "days since 1850-01-01"),  # OverflowError in cftime
                          ([float("nan")], "months since 1850-01")):  # NaN cast to a garbage int
        with pytest.raises(DataError):
            sources.monthly_periods(np.array(values), units, None, "x.nc")
    path = tmp_path / "co2-mm-mlo.csv"
    path.write_text("Date,Decimal Date,Average,Interpolated,Trend,Number of Days")  # header only: EmptyDataError
    with pytest.raises(DataError, match="co2-mm-mlo.csv"):
        sources.read_co2_datahub(path)


_DIMS = st.sampled_from([("time", "latitude", "longitude"), ("time", "lat", "lon"), ("t", "y", "x"),
                         ("time", "latitude", "longitude", "level"), ("time", "latitude"), ("month", "lat", "lon")])


@settings(SETTINGS, max_examples=25)
@given(dims=_DIMS, n_time=st.sampled_from([0, 1, 3]), units=_UNITS | st.none(), calendar=_CALENDARS,
       times=st.sampled_from(["steps", "same", "nan", "huge", "negative"]),
       values=st.sampled_from(["ok", "nan", "inf", "int", "fill"]), lat=st.sampled_from(["ok", "nan", "huge", "text"]),
       second_var=st.booleans(), variable=st.sampled_from([None, "tas_mean", "nope"]),
       truncate=st.sampled_from([None, 0, 100, 1000]))
@example(dims=("time", "latitude", "longitude"), n_time=2, units="days since 1850-01-01", calendar="360_day",
         times="steps", values="ok", lat="ok", second_var=False, variable=None, truncate=None)
def test_fuzz_gridded_netcdf(dims, n_time, units, calendar, times, values, lat, second_var, variable, truncate,
                             tmp_path_factory):
    """CF NetCDF files of gridded anomalies with fuzzed dimensions, time units/calendars and values."""
    import xarray as xr

    from shared.io import write_netcdf

    shape = (n_time,) + (2,) * (len(dims) - 1)
    data = np.ones(shape) * 0.5
    if values == "nan":
        data[:] = np.nan
    elif values == "inf" and data.size:
        data.flat[0] = np.inf
    elif values == "int":
        data = data.astype(np.int16)
    step = {"steps": np.arange(n_time) * 31.0, "same": np.zeros(n_time), "nan": np.full(n_time, np.nan),
            "huge": np.full(n_time, 1e300), "negative": -np.arange(n_time) * 1e6}[times]
    coords = {dims[0]: (dims[0], step)}
    if len(dims) > 1:
        coords[dims[1]] = (dims[1], {"ok": np.array([-45.0, 45.0]), "nan": np.array([np.nan, 0.0]),
                                     "huge": np.array([1e308, -1e308]), "text": np.array(["a", "b"])}[lat])
    ds = xr.Dataset({"tas_mean": (dims, data)}, coords=coords)
    if second_var:
        ds["other"] = (dims, data)
    if values == "fill":
        ds["tas_mean"].encoding["_FillValue"] = 0.5
    attrs = {} if units is None else {"units": units}
    if calendar is not None:
        attrs["calendar"] = calendar
    ds[dims[0]].attrs.update(attrs)
    path = tmp_path_factory.mktemp("nc") / "grid.nc"
    try:
        write_netcdf(path, ds)
    except Exception:  # the writer refuses this dataset: nothing to read
        return
    if truncate is not None:
        path.write_bytes(path.read_bytes()[:truncate])
    try:
        series = sources.read_gridded(path, variable)
    except DataError:
        return
    assert isinstance(series, pd.Series) and isinstance(series.index, pd.PeriodIndex) and len(series) == n_time
