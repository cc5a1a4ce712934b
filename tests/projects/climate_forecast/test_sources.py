"""Readers of each official format, on tiny files written here."""

import numpy as np
import pandas as pd
import pytest

from projects.climate_forecast import sources
from shared.io import DataError

GISTEMP = """Land-Ocean: Global Means
Year,Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,J-D,D-N,DJF,MAM,JJA,SON
1880,-.18,-.24,-.09,-.16,-.10,-.21,-.18,-.10,-.14,-.23,-.22,-.18,-.17,***,***,-.12,-.17,-.20
1881,-.19,-.14,.03,.05,.06,-.18,.01,-.03,-.15,-.22,-.18,-.07,-.09,-.10,-.17,.05,-.07,-.18
2024,1.24,1.44,1.39,***,***,***,***,***,***,***,***,***,***,***,1.26,***,***,***
"""


def test_gistemp_reads_months_annual_and_missing_markers(tmp_path):
    path = tmp_path / "GLB.Ts+dSST.csv"
    path.write_text(GISTEMP)
    monthly, annual = sources.read_gistemp(path)
    assert monthly.index.freqstr == "M" and len(monthly) == 36
    assert monthly[pd.Period("1880-03", "M")] == pytest.approx(-0.09)
    assert monthly[pd.Period("1881-04", "M")] == pytest.approx(0.05)
    assert np.isnan(monthly[pd.Period("2024-04", "M")])
    assert annual[pd.Period("1881", "Y")] == pytest.approx(-0.09) and np.isnan(annual[pd.Period("2024", "Y")])


def test_gistemp_bad_layout_and_corrupt_values(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("Some title\nfoo,bar\n1,2\n")
    with pytest.raises(DataError, match="no 'Year,Jan"):
        sources.read_gistemp(path)
    path.write_text(GISTEMP.replace("-.24", "x.24"))
    with pytest.raises(DataError, match="non-numeric value 'x.24'"):
        sources.read_gistemp(path)
    with pytest.raises(DataError, match="file not found"):
        sources.read_gistemp(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        sources.read_gistemp(tmp_path / "empty.csv")


def test_hadcrut5_annual_and_monthly(tmp_path):
    head = "Time,Anomaly (deg C),Lower confidence limit (2.5%),Upper confidence limit (97.5%)\n"
    (tmp_path / "a.csv").write_text(head + "1850,-0.4177,-0.5892,-0.2461\n1851,-0.2333,-0.4113,-0.0553\n")
    (tmp_path / "m.csv").write_text(head + "1850-01,-0.6746,-0.98,-0.36\n1850-02,-0.3334,-0.70,0.03\n")
    annual = sources.read_hadcrut5(tmp_path / "a.csv")
    monthly = sources.read_hadcrut5(tmp_path / "m.csv")
    assert annual.index.freqstr.startswith("Y") and annual.iloc[1] == pytest.approx(-0.2333)
    assert monthly.index[1] == pd.Period("1850-02", "M") and monthly.iloc[0] == pytest.approx(-0.6746)
    (tmp_path / "b.csv").write_text("Year,Value\n1850,1\n")
    with pytest.raises(DataError, match="'Time' and 'Anomaly"):
        sources.read_hadcrut5(tmp_path / "b.csv")


@pytest.mark.parametrize("prefix", ["", "# "])
def test_noaa_climate_at_a_glance(tmp_path, prefix):
    text = (f"{prefix}Global Land and Ocean January - December Temperature Anomalies\n{prefix}Units: Degrees Celsius\n"
            f"{prefix}Base Period: 1901-2000\n{prefix}Missing: -999\nYear,Anomaly\n1850,-0.18\n1851,-999\n1852,-0.09\n")
    (tmp_path / "n.csv").write_text(text)
    series = sources.read_noaa(tmp_path / "n.csv")
    assert series.index.freqstr.startswith("Y") and np.isnan(series.iloc[1]) and series.iloc[2] == pytest.approx(-0.09)
    (tmp_path / "m.csv").write_text("Date,Anomaly\n185001,-0.5\n185002,-0.4\n")
    assert sources.read_noaa(tmp_path / "m.csv").index[1] == pd.Period("1850-02", "M")


def test_datahub_several_sources_in_one_file(tmp_path):
    (tmp_path / "annual.csv").write_text("Source,Year,Mean\ngcag,2001,0.52\nGISTEMP,2001,0.54\ngcag,2000,0.39\n"
                                         "GISTEMP,2000,0.40\n")
    gis = sources.read_datahub(tmp_path / "annual.csv", "GISTEMP")
    assert list(gis.index.year) == [2000, 2001] and gis.iloc[1] == pytest.approx(0.54)
    assert sources.read_datahub(tmp_path / "annual.csv", "gcag").iloc[0] == pytest.approx(0.39)
    with pytest.raises(DataError, match="no rows of source 'HadCRUT'.*GISTEMP"):
        sources.read_datahub(tmp_path / "annual.csv", "HadCRUT")
    (tmp_path / "monthly.csv").write_text("Source,Year,Mean\nGISTEMP,1880-01,-0.2\nGISTEMP,1880-02,-0.25\n")
    assert sources.read_datahub(tmp_path / "monthly.csv").index.freqstr == "M"


def test_gridded_netcdf_area_weighted_mean_skips_missing_cells(tmp_path):
    import xarray as xr

    from shared.io import write_netcdf

    lat = np.array([-60.0, 0.0, 60.0])
    lon = np.array([0.0, 120.0, 240.0])
    field = np.zeros((2, 3, 3))
    field[0] = np.array([1.0, 2.0, 3.0])[:, None]  # one value per latitude band
    field[1] = 5.0
    field[1, 1, :] = np.nan  # the equator missing in month 2
    ds = xr.Dataset({"tas_mean": (("time", "latitude", "longitude"), field)},
                    coords={"time": pd.to_datetime(["2000-01-15", "2000-02-15"]), "latitude": lat, "longitude": lon})
    write_netcdf(tmp_path / "g.nc", ds)
    series = sources.read_gridded(tmp_path / "g.nc")
    w = np.cos(np.deg2rad(lat))
    assert series.iloc[0] == pytest.approx(np.sum(w * [1, 2, 3]) / w.sum())
    assert series.iloc[1] == pytest.approx(5.0)
    assert series.index[0] == pd.Period("2000-01", "M")
    (tmp_path / "bad.nc").write_bytes((tmp_path / "g.nc").read_bytes()[:300])
    with pytest.raises(DataError, match="not a readable NetCDF"):
        sources.read_gridded(tmp_path / "bad.nc")
    write_netcdf(tmp_path / "nolat.nc", xr.Dataset({"t": (("time",), [1.0])}, coords={"time": [0]}))
    with pytest.raises(DataError, match="needs time, latitude and longitude"):
        sources.read_gridded(tmp_path / "nolat.nc")


def test_co2_gml_datahub_quirk_and_psl(tmp_path):
    (tmp_path / "gml.csv").write_text("# comment\n# more\n"
                                      "year,month,decimal date,average,deseasonalized,ndays,sdev,unc\n"
                                      "1958,3,1958.2027,315.71,314.44,-1,-9.99,-0.99\n"
                                      "1958,4,1958.2877,-99.99,315.16,-1,-9.99,-0.99\n")
    gml = sources.read_co2_gml(tmp_path / "gml.csv")
    assert gml.iloc[0] == pytest.approx(315.71) and np.isnan(gml.iloc[1])
    # datahub: 6 header names, 7 values per row; 'Average' is the third value
    (tmp_path / "dh.csv").write_text("Date,Decimal Date,Average,Interpolated,Trend,Number of Days\n"
                                     "1958-03,1958.2027,315.71,314.44,-01,-9.99,-0.99\n")
    assert sources.read_co2_datahub(tmp_path / "dh.csv").iloc[0] == pytest.approx(315.71)
    (tmp_path / "n34.data").write_text("  2000 2001\n2000 " + " ".join(["0.5"] * 12) + "\n2001 " +
                                       " ".join(["0.1"] * 11) + " -99.99\n  -99.99\n  Nino 3.4 text\n")
    psl = sources.read_psl_index(tmp_path / "n34.data")
    assert len(psl) == 24 and psl.iloc[0] == 0.5 and np.isnan(psl.iloc[-1])


def test_statsmodels_embedded_series():
    co2 = sources.statsmodels_co2()
    assert co2.index.freqstr == "M" and co2.isna().sum() == 5 and 310 < co2.dropna().min() < co2.dropna().max() < 380
    enso = sources.statsmodels_elnino()
    assert len(enso) == 61 * 12 and enso.index[0] == pd.Period("1950-01", "M")


def test_offline_error_names_the_file_to_place(tmp_path, monkeypatch):
    monkeypatch.setitem(sources.URLS, "gistemp", (tmp_path / "nowhere" / "GLB.Ts+dSST.csv").as_uri())
    with pytest.raises(DataError, match=r"place the file at .*external.*GLB\.Ts\+dSST\.csv"):
        sources.load_source("gistemp", tmp_path / "raw", external=tmp_path / "external", embedded=False)
    embedded = sources.load_source("gistemp", tmp_path / "raw", external=tmp_path / "external")
    assert "embedded" in embedded.files["gistemp"] and len(embedded.annual) == 144
    (tmp_path / "external").mkdir()
    (tmp_path / "external" / "GLB.Ts+dSST.csv").write_text(GISTEMP)
    for allowed in (True, False):  # the hand-placed file replaces the embedded copy
        loaded = sources.load_source("gistemp", tmp_path / "raw", external=tmp_path / "external", embedded=allowed)
        assert len(loaded.annual) == 3


def test_download_from_a_url_lands_in_raw(tmp_path, monkeypatch):
    served = tmp_path / "server" / "gistemp.csv"  # shared.data.fetch does not unquote file:// paths ('+' → %2B)
    served.parent.mkdir()
    served.write_text(GISTEMP)
    monkeypatch.setitem(sources.URLS, "gistemp", served.as_uri())
    loaded = sources.load_source("gistemp", tmp_path / "raw", external=tmp_path / "external", embedded=False)
    assert (tmp_path / "raw" / "GLB.Ts+dSST.csv").is_file() and len(loaded.monthly) == 36


@pytest.mark.parametrize("date_col", ["Year", "Date"])
@pytest.mark.parametrize("newest_first", [False, True])
def test_datahub_layouts_across_versions(tmp_path, date_col, newest_first):
    """Current files: Source,Year,Mean oldest-first; 2015-2016 ones: Source,Date,Mean newest-first, 'GCAG'."""
    months = [f"{y}-{m:02d}" for y in (1990, 1991) for m in range(1, 13)]
    rows = [f"{src},{d},{0.01 * k + (0.1 if src == 'GCAG' else 0):.3f}" for k, d in enumerate(months)
            for src in ("GCAG", "GISTEMP")]
    if newest_first:
        rows = rows[::-1]
    (tmp_path / "monthly.csv").write_text(f"Source,{date_col},Mean\n" + "\n".join(rows) + "\n")
    gis = sources.read_datahub(tmp_path / "monthly.csv", "GISTEMP")
    assert gis.index.is_monotonic_increasing and str(gis.index[0]) == "1990-01" and len(gis) == 24
    assert gis.iloc[-1] == pytest.approx(0.23)
    assert sources.read_datahub(tmp_path / "monthly.csv", "gcag").iloc[0] == pytest.approx(0.1)  # any case
    (tmp_path / "odd.csv").write_text("Source,When,Mean\nGISTEMP,1990,0.1\n")
    with pytest.raises(DataError, match=r"'Source,Date,Mean'.*found columns \['Source', 'When', 'Mean'\]"):
        sources.read_datahub(tmp_path / "odd.csv")


def test_embedded_gistemp_is_complete():
    monthly, annual = sources.embedded_gistemp()
    assert (str(monthly.index[0]), str(monthly.index[-1]), len(monthly)) == ("1880-01", "2023-12", 1728)
    assert (str(annual.index[0]), str(annual.index[-1])) == ("1880", "2023") and np.isfinite(annual).all()
    means = monthly.groupby(monthly.index.year).mean().to_numpy()
    np.testing.assert_allclose(means, annual.to_numpy(), atol=1e-3)  # J-D means of the months


def _gridded(path, time_values, units, calendar):
    import xarray as xr

    from shared.io import write_netcdf

    n = len(time_values)
    lat, lon = np.array([45.0, -45.0]), np.array([0.0, 180.0])
    field = np.arange(n, dtype="float32")[:, None, None] * np.ones((n, 2, 2), "float32")
    ds = xr.Dataset({"tas": (("time", "latitude", "longitude"), field)},
                    coords={"time": ("time", np.asarray(time_values, float), {"units": units, "calendar": calendar}),
                            "latitude": lat, "longitude": lon})
    write_netcdf(path, ds)
    return path


@pytest.mark.parametrize(("units", "calendar", "values"), [
    ("days since 1850-01-01", "360_day", 15.0 + 30.0 * np.arange(36)),
    ("days since 1850-01-01 00:00:00", "noleap", np.cumsum([0] + [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] * 3)[
        :36] + 14.5),
    ("days since 1850-01-01", "365_day", np.arange(36) * 365.0 / 12 + 10),
    ("days since 1850-01-01", "all_leap", np.arange(36) * 366.0 / 12 + 10),
    ("days since 1850-01-01", "proleptic_gregorian", np.arange(36) * 30.44 + 15),
    ("days since 1850-01-01", "julian", np.arange(36) * 30.44 + 15),
    ("hours since 1850-01-01", "standard", (np.arange(36) * 30.44 + 15) * 24),
    ("months since 1850-01-01", "standard", np.arange(36) + 0.5),
    ("months since 1850-1-1", "360_day", np.arange(36, dtype=float)),
    ("years since 1850-01-01", "365_day", np.arange(36) / 12.0),
])
def test_gridded_time_encodings_map_to_monthly_periods(tmp_path, units, calendar, values):
    series = sources.read_gridded(_gridded(tmp_path / "g.nc", values, units, calendar))
    assert series.index.freqstr == "M" and len(series) == 36
    assert str(series.index[0]) == "1850-01" and str(series.index[-1]) == "1852-12"
    np.testing.assert_allclose(series.to_numpy(), np.arange(36))


def test_gridded_time_errors_name_units_and_calendar(tmp_path):
    with pytest.raises(DataError, match="units 'fortnights since 1850-01-01'"):
        sources.read_gridded(_gridded(tmp_path / "a.nc", np.arange(12.0), "fortnights since 1850-01-01", "360_day"))
    with pytest.raises(DataError, match="several time steps fall in month"):
        sources.read_gridded(_gridded(tmp_path / "b.nc", np.arange(12.0), "days since 1850-01-01", "360_day"))


def test_gridded_file_larger_than_the_memory_cap_is_reduced_block_by_block(tmp_path):
    """A 15 MiB field is averaged with at most a quarter of its size in (traced) memory, with the same result as
    one pass over the whole field (issue 17 §B)."""
    import tracemalloc

    import xarray as xr

    from shared.io import write_netcdf

    n, lat, lon = 240, np.linspace(-89, 89, 90), np.linspace(0, 358, 180)
    rng = np.random.default_rng(0)
    field = rng.normal(size=(n, lat.size, lon.size)).astype("float32")
    field[5, :10] = np.nan
    ds = xr.Dataset({"tas": (("time", "lat", "lon"), field)},
                    coords={"time": ("time", np.arange(n, dtype=float), {"units": "months since 1900-01-01",
                                                                        "calendar": "360_day"}),
                            "lat": lat, "lon": lon})
    path = write_netcdf(tmp_path / "big.nc", ds) or tmp_path / "big.nc"
    del ds, field
    whole = sources.read_gridded(path, block_bytes=10**12)
    tracemalloc.start()
    blocks = sources.read_gridded(path, block_bytes=1_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = n * lat.size * lon.size * 4
    assert peak < size / 4, (peak, size)
    pd.testing.assert_series_equal(blocks, whole)
    assert len(blocks) == n and blocks.index[0] == pd.Period("1900-01", "M")
