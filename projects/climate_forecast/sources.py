"""Readers of the official formats of global temperature, CO2 and ENSO series.

Every reader returns a :class:`pandas.Series` indexed by a monthly (``M``) or annual (``Y``)
:class:`pandas.PeriodIndex`, in file order, with NaN where the file marks a value as missing
(``***`` in GISTEMP, ``-999`` in NOAA files, ``-99.99`` in NOAA PSL and GML files). They check
the layout and raise :class:`~shared.io.DataError` naming the file; the validation of the
series itself (order, duplicates, gaps, missing values) is :func:`projects.climate_forecast.data.validate`.

=============  =====================================================================  ==========
source         official file                                                          frequency
=============  =====================================================================  ==========
``gistemp``    NASA GISTEMP v4 ``GLB.Ts+dSST.csv`` (title line, Year, Jan..Dec, J-D)   both
``hadcrut5``   Met Office HadCRUT5 summary series CSVs (Time, Anomaly (deg C), ...)    both
``noaa``       NOAAGlobalTemp via Climate at a Glance ``data.csv``                    both
``datahub``    datahub.io ``global-temp`` ``annual.csv``/``monthly.csv`` (Source,Year,Mean)  both
``gridded``    any CF NetCDF of gridded anomalies → cos(latitude)-weighted global mean  monthly
``statsmodels_co2`` / ``statsmodels_elnino``   series shipped by statsmodels (offline)  monthly
=============  =====================================================================  ==========

Covariates: CO2 (``statsmodels``, NOAA GML ``co2_mm_mlo.csv``, datahub ``co2-mm-mlo.csv``)
and ENSO (``statsmodels`` El Niño SST, NOAA PSL ``nina34.anom.data``).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shared.io import DataError

log = logging.getLogger(__name__)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------- helpers
def _read_text(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path} is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in raw[:4096]:
            raise DataError(f"{path} is not a text file (binary or corrupt)") from None
        return raw.decode("latin-1")


MISSING_MARKERS = ("", "***", "****", "*****", "nan", "NaN", "NA")


def _numbers(frame: pd.DataFrame, columns, path, missing: tuple[float, ...] = ()) -> pd.DataFrame:
    """Columns as floats; missing markers and sentinels → NaN; anything else non-numeric is an error."""
    raw = frame[list(columns)].astype("string").apply(lambda c: c.str.strip())
    out = raw.apply(pd.to_numeric, errors="coerce").astype(float)
    bad = (out.isna() & raw.notna() & ~raw.isin(MISSING_MARKERS)).to_numpy()
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{path}: non-numeric value {raw.iat[row, col]!r} in column {list(columns)[col]!r}, "
                        f"data row {row + 1} (corrupt file?)")
    for sentinel in missing:
        out = out.mask(np.isclose(out, sentinel))
    return out


def _periods(labels, path, freq: str | None = None) -> pd.PeriodIndex:
    """'1880' / '1880-01' / '188001' / '1880-01-06' → annual or monthly periods."""
    text = pd.Series(labels).astype(str).str.strip()
    if freq is None:
        if text.str.fullmatch(r"\d{4}").all():
            freq = "Y"
        elif text.str.fullmatch(r"\d{4}-\d{2}(-\d{2})?").all() or text.str.fullmatch(r"\d{6}").all():
            freq = "M"
        else:
            odd = text[~text.str.fullmatch(r"\d{4}(-?\d{2})?(-\d{2})?")]
            raise DataError(f"{path}: unrecognised date {odd.iloc[0] if len(odd) else text.iloc[0]!r} "
                            "(expected YYYY, YYYY-MM or YYYYMM)")
    try:
        if freq == "Y":
            return pd.PeriodIndex([pd.Period(str(int(v)), freq="Y") for v in text], freq="Y")
        values = [f"{v[:4]}-{v[4:6]}" if re.fullmatch(r"\d{6}", v) else v[:7] for v in text]
        return pd.PeriodIndex([pd.Period(v, freq="M") for v in values], freq="M")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: bad date: {exc}") from exc


def _series(values, index: pd.PeriodIndex, name: str) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


# --------------------------------------------------------------------------- temperature formats
def read_gistemp(path: str | Path) -> tuple[pd.Series, pd.Series]:
    """NASA GISTEMP ``GLB.Ts+dSST.csv`` → (monthly, annual J-D) anomalies in °C (base 1951-1980).

    The file starts with a title line (``Land-Ocean: Global Means``), then the header
    ``Year,Jan,...,Dec,J-D,D-N,DJF,MAM,JJA,SON``; ``***`` marks a missing value (for example
    the months of the current year not yet published).

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    text = _read_text(path)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().lower().startswith("year,")), None)
    if start is None:
        raise DataError(f"{path}: no 'Year,Jan,...' header line; is this GISTEMP's GLB.Ts+dSST.csv?")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines[start:])), dtype=str, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise DataError(f"{path} is not a readable CSV (corrupt?): {exc}") from exc
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in ("Year", *MONTHS, "J-D") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: GISTEMP columns {missing} missing; found {list(frame.columns)}")
    frame = frame[frame["Year"].str.strip().str.fullmatch(r"\d{4}", na=False)]  # repeated headers, notes
    years = _periods(frame["Year"], path, "Y")
    months = _numbers(frame, MONTHS, path)
    annual = _numbers(frame, ["J-D"], path)["J-D"]
    index = pd.PeriodIndex([pd.Period(f"{y.year}-{m:02d}", freq="M") for y in years for m in range(1, 13)],
                           freq="M")
    return (_series(months.to_numpy().ravel(), index, "temperature"),
            _series(annual.to_numpy(), years, "temperature"))


def read_hadcrut5(path: str | Path) -> pd.Series:
    """Met Office HadCRUT5 summary series CSV (annual or monthly): the ``Anomaly (deg C)`` column.

    Columns: ``Time, Anomaly (deg C), Lower confidence limit (2.5%), Upper confidence limit (97.5%)``;
    ``Time`` is ``YYYY`` (annual file) or ``YYYY-MM`` (monthly file). Base period 1961-1990.

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    frame = _csv(path)
    cols = {c.lower(): c for c in frame.columns}
    time_col = cols.get("time")
    value_col = next((c for c in frame.columns if c.lower().startswith("anomaly")), None)
    if time_col is None or value_col is None:
        raise DataError(f"{path}: HadCRUT5 columns 'Time' and 'Anomaly (deg C)' expected; found {list(frame.columns)}")
    return _series(_numbers(frame, [value_col], path)[value_col], _periods(frame[time_col], path), "temperature")


def read_noaa(path: str | Path) -> pd.Series:
    """NOAAGlobalTemp from NOAA NCEI *Climate at a Glance* (``.../globe/land_ocean/.../data.csv``).

    A few title lines (``Global Land and Ocean ... Anomalies``, ``Units: Degrees Celsius``,
    ``Base Period: 1901-2000``, ``Missing: -999``; ``#``-prefixed in recent versions), then
    ``Year,Anomaly`` (or ``Date,Value``) with ``YYYY`` or ``YYYYMM`` dates.

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    text = _read_text(path)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if re.match(r"^\s*(year|date)\s*,", line.lstrip("#").strip(), re.I)), None)
    if start is None:
        raise DataError(f"{path}: no 'Year,Anomaly' header; is this a NOAA Climate at a Glance data.csv?")
    missing = [-999.0, -9999.0, -99.99]
    for line in lines[:start]:
        found = re.search(r"missing\s*:\s*(-?[\d.]+)", line, re.I)
        if found:
            missing.append(float(found.group(1)))
    body = "\n".join([lines[start].lstrip("#").strip(), *lines[start + 1:]])
    frame = _csv(path, body)
    date_col, value_col = frame.columns[0], frame.columns[1]
    return _series(_numbers(frame, [value_col], path, tuple(missing))[value_col], _periods(frame[date_col], path),
                   "temperature")


def read_datahub(path: str | Path, source: str = "GISTEMP") -> pd.Series:
    """datahub.io ``global-temp`` layout, one file holding several sources, as published over the years.

    Columns ``Source``, a date column (``Year`` in current versions, ``Date`` in the 2015-2016 ones) and
    ``Mean``; dates are ``YYYY`` (``annual.csv``), ``YYYY-MM`` or ``YYYY-MM-DD`` (``monthly.csv``). Rows are
    oldest-first or newest-first depending on the version: they are sorted by date. ``source`` picks the
    rows (``GISTEMP`` or ``gcag``; matched without regard to case, as versions spell it ``gcag`` or ``GCAG``).

    Returns:
        The series (°C anomaly), indexed by annual or monthly periods in increasing order.

    Raises:
        DataError: the file is missing or unreadable, lacks ``Source``/``Mean`` or a date column
            (the message names the columns found), holds no row of ``source``, or has a bad value.
    """
    frame = _csv(path)
    date_col = next((c for c in frame.columns if c.lower() in ("year", "date")), None)
    if "Source" not in frame.columns or "Mean" not in frame.columns or date_col is None:
        raise DataError(f"{path}: datahub layout 'Source,Year,Mean' (or 'Source,Date,Mean') expected; "
                        f"found columns {list(frame.columns)}")
    names = frame["Source"].astype(str).str.strip()
    rows = frame[names.str.lower() == source.lower()]
    if rows.empty:
        raise DataError(f"{path} holds no rows of source {source!r}; it has {sorted(names.unique())}")
    series = _series(_numbers(rows, ["Mean"], path)["Mean"], _periods(rows[date_col], path), "temperature")
    if len(series) > 1 and series.index.is_monotonic_decreasing:
        series = series.iloc[::-1]
    elif not series.index.is_monotonic_increasing and not series.index.has_duplicates:
        series = series.sort_index()  # mixed order: duplicates and gaps stay for validate() to report
    return series


def read_gridded(path: str | Path, variable: str | None = None, *, block_bytes: int = 64_000_000) -> pd.Series:
    """Global monthly mean of a CF NetCDF of gridded anomalies (e.g. HadCRUT5 gridded, climate-model output).

    Weights are cos(latitude); missing cells (``_FillValue`` → NaN) are skipped, so each month
    is the area-weighted mean over the cells that have data. ``variable`` defaults to the only
    data variable with time, latitude and longitude dimensions (``tas_mean`` in HadCRUT5).
    Time is decoded by :func:`monthly_periods` (every CF calendar, "days/months/years since").
    The field is read lazily, a block of months at a time (``block_bytes`` of float64 at most), so a file
    larger than memory (a long high-resolution model run) is reduced without being loaded whole.

    Returns:
        The monthly series (``M`` periods), in the file's units (°C anomaly for HadCRUT5).

    Raises:
        DataError: unreadable file, missing dimensions or variable, extra dimensions, an undecodable
            time axis (the message names its units and calendar), or two time steps in one month.
    """
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        ds = xr.open_dataset(path, decode_times=False)  # lazy: values are read block by block below
    except Exception as exc:
        raise DataError(f"{path} is not a readable NetCDF file (corrupt or truncated?): {exc}") from exc
    with ds:
        return _gridded_mean(ds, path, variable, block_bytes)


def _gridded_mean(ds, path: Path, variable: str | None, block_bytes: int) -> pd.Series:
    """:func:`read_gridded` on an open (lazy) dataset."""
    lat = next((n for n in ("latitude", "lat", "y") if n in ds.dims), None)
    lon = next((n for n in ("longitude", "lon", "x") if n in ds.dims), None)
    tname = next((n for n in ("time", "t") if n in ds.dims), None)
    if lat is None or lon is None or tname is None:
        raise DataError(f"{path}: needs time, latitude and longitude dimensions; it has {sorted(map(str, ds.dims))}")
    if variable is None:
        candidates = [n for n, v in ds.data_vars.items() if {lat, lon, tname} <= set(v.dims)]
        if len(candidates) != 1:
            raise DataError(f"{path}: choose the variable (data.gridded_variable); candidates: {candidates}")
        variable = candidates[0]
    if variable not in ds.data_vars:
        raise DataError(f"{path} has no variable {variable!r}; it has {sorted(map(str, ds.data_vars))}")
    field = ds[variable]
    extra = [d for d in field.dims if d not in (lat, lon, tname)]
    if extra:
        raise DataError(f"{path}: {variable!r} has extra dimensions {extra}; select one level first")
    index = monthly_periods(ds[tname].values, ds[tname].attrs.get("units"), ds[tname].attrs.get("calendar"), path)
    if index.has_duplicates:
        raise DataError(f"{path}: several time steps fall in month(s) {_dups(index)}; monthly data expected")
    weights = np.cos(np.deg2rad(ds[lat]))
    n_time = field.sizes[tname]
    per_step = max(1, field.sizes[lat] * field.sizes[lon] * 8)
    step = max(1, int(block_bytes) // per_step)
    means = []
    for start in range(0, n_time, step):
        try:
            block = field.isel({tname: slice(start, start + step)}).load()
        except Exception as exc:
            raise DataError(f"{path}: reading {field.name!r} failed at time step {start} (truncated?): {exc}") from exc
        mean = block.weighted(weights).mean((lat, lon), skipna=True)
        # a month with no valid cell at all has zero total weight → NaN, not 0
        means.append(mean.where(block.notnull().any((lat, lon))).values)
    return _series(np.concatenate(means) if means else np.array([]), index, "temperature")


def _dups(index: pd.PeriodIndex) -> str:
    return ", ".join(str(p) for p in index[index.duplicated()].unique()[:5])


_SINCE = re.compile(r"^\s*(\w+)\s+since\s+(-?\d{1,4})-(\d{1,2})", re.I)


def monthly_periods(values, units: str | None, calendar: str | None, where: str | Path = "time") -> pd.PeriodIndex:
    """Monthly periods of a raw CF time axis, for every calendar and encoding xarray with cftime decodes.

    ``values`` are the raw numbers of the axis (``decode_times=False``); ``units`` ``"<unit> since <date>"``.
    Days, hours, minutes and seconds since go through :func:`cftime.num2date` with the file's calendar
    (``standard``, ``gregorian``, ``proleptic_gregorian``, ``noleap``/``365_day``, ``all_leap``/``366_day``,
    ``360_day``, ``julian``); ``months since`` and ``years since`` (which cftime decodes for ``360_day``
    only, and which are calendar months in practice) are counted as whole months from the reference month.
    Each time is mapped to its calendar year and month: a 360-day 30 February is February.

    Raises:
        DataError: no units, units/calendar that cftime cannot decode (the message names both), or
            missing (NaN) or out-of-range time values.
    """
    import cftime

    values = np.asarray(values)
    if values.dtype.kind == "M":  # already decoded datetimes
        return pd.DatetimeIndex(values).to_period("M")
    if not units:
        raise DataError(f"{where}: the time axis has no 'units' attribute (CF: '<unit> since <date>')")
    calendar = (calendar or "standard").lower()
    match = _SINCE.match(units)
    if match and match.group(1).lower() in ("months", "month", "years", "year", "common_years"):
        per = 12 if match.group(1).lower().startswith(("year", "common")) else 1
        start = int(match.group(2)) * 12 + int(match.group(3)) - 1
        steps = np.floor(np.asarray(values, float) * per + 1e-6)
        if not np.all(np.isfinite(steps)) or np.any(np.abs(start + steps) >= 12 * 9999):
            raise DataError(f"{where}: time values {units!r} missing or beyond the year 9999 (corrupt time axis?)")
        months = start + steps.astype(int)
        try:
            return pd.PeriodIndex([pd.Period(year=int(m // 12), month=int(m % 12) + 1, freq="M") for m in months],
                                  freq="M")
        except (ValueError, OverflowError) as exc:
            raise DataError(f"{where}: cannot place the time axis ({units!r}) in months: {exc}") from exc
    try:
        dates = cftime.num2date(np.asarray(values, float), units, calendar=calendar, only_use_cftime_datetimes=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"{where}: cannot decode the time axis (units {units!r}, calendar {calendar!r}): {exc}"
                        ) from exc
    try:
        return pd.PeriodIndex([pd.Period(year=d.year, month=d.month, freq="M") for d in np.ravel(dates)], freq="M")
    except (ValueError, OverflowError, AttributeError) as exc:  # masked/missing times, years pandas cannot hold
        raise DataError(f"{where}: time axis ({units!r}, calendar {calendar!r}) out of range: {exc}") from exc


# --------------------------------------------------------------------------- covariates
def read_co2_gml(path: str | Path) -> pd.Series:
    """NOAA GML Mauna Loa monthly ``co2_mm_mlo.csv``: ``#`` comments, then
    ``year,month,decimal date,average,deseasonalized,ndays,sdev,unc``; ``-99.99`` = missing.

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    text = _read_text(path)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    frame = _csv(path, body)
    cols = [c.lower() for c in frame.columns]
    if cols[:2] != ["year", "month"] or "average" not in cols:
        raise DataError(f"{path}: GML columns 'year,month,...,average' expected; found {list(frame.columns)}")
    value = frame.columns[cols.index("average")]
    index = _periods([f"{int(y):04d}-{int(m):02d}" for y, m in zip(frame.iloc[:, 0], frame.iloc[:, 1])], path, "M")
    return _series(_numbers(frame, [value], path, (-99.99,))[value], index, "co2")


def read_co2_datahub(path: str | Path) -> pd.Series:
    """datahub ``co2-mm-mlo.csv``: its header names 6 columns but each row has 7 values
    (date, decimal date, average, deseasonalized, days, std of days, uncertainty); read by position.

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    text = _read_text(path)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].lower().startswith("date,"):
        raise DataError(f"{path}: datahub co2-mm-mlo.csv header 'Date,Decimal Date,Average,...' expected")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines[1:])), header=None, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV (corrupt?): {exc}") from exc
    if frame.shape[1] < 3:
        raise DataError(f"{path}: rows need at least date, decimal date and average; got {frame.shape[1]} values")
    return _series(_numbers(frame, [2], path, (-99.99,))[2], _periods(frame[0], path, "M"), "co2")


def read_psl_index(path: str | Path) -> pd.Series:
    """NOAA PSL climate-index table (e.g. ``nina34.anom.data``): a ``first last`` year line, one
    row per year with 12 monthly values, ``-99.99`` for missing, then footer lines.

    Raises:
        DataError: the file is missing, empty, binary or not in this layout (the message names the file
            and what was expected), or holds a non-numeric value (row and column named).
    """
    text = _read_text(path)
    lines = [line.split() for line in text.splitlines() if line.strip()]
    try:
        first, last = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError):
        raise DataError(f"{path}: the first line must be 'first_year last_year' (NOAA PSL table)") from None
    rows = [r for r in lines[1:] if len(r) == 13 and r[0].isdigit() and first <= int(r[0]) <= last]
    if not rows:
        raise DataError(f"{path}: no 'year v1 ... v12' rows between {first} and {last}")
    frame = pd.DataFrame(rows)
    values = _numbers(frame, list(range(1, 13)), path, (-99.99, -99.9, -999.0))
    index = pd.PeriodIndex([pd.Period(f"{y}-{m:02d}", freq="M") for y in frame[0] for m in range(1, 13)], freq="M")
    return _series(values.to_numpy().ravel(), index, "enso")


# --------------------------------------------------------------------------- embedded (statsmodels)
def statsmodels_co2() -> pd.Series:
    """Mauna Loa CO2 (ppm) shipped by statsmodels: weekly 1958-2001, averaged to months.

    Months without a single weekly value stay NaN: they are gaps for :func:`validate`.
    """
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()
    return _series(monthly.to_numpy(), monthly.index.to_period("M"), "co2")


def statsmodels_elnino() -> pd.Series:
    """Monthly sea-surface temperature (°C) of the El Niño region, 1950-2010, shipped by statsmodels."""
    from statsmodels.datasets import elnino

    frame = elnino.load_pandas().data
    years = frame["YEAR"].astype(int)
    index = pd.PeriodIndex([pd.Period(f"{y}-{m:02d}", freq="M") for y in years for m in range(1, 13)], freq="M")
    return _series(frame.iloc[:, 1:13].to_numpy().ravel(), index, "enso")


EMBEDDED = Path(__file__).resolve().parent / "embedded"
EMBEDDED_NOTE = ("projects/climate_forecast/embedded/gistemp_{annual,monthly}.csv: the GISTEMP rows of datahub.io "
                 "core/global-temp (ODC-PDDL-1.0; NASA GISS GISTEMP v4), 1880-2023")


def embedded_gistemp() -> tuple[pd.Series, pd.Series]:
    """The GISTEMP v4 global means shipped with the project: (monthly 1880-01..2023-12, annual 1880..2023), °C.

    They are the ``GISTEMP`` rows of datahub.io ``core/global-temp`` (``annual.csv``, ``monthly.csv``;
    ODC-PDDL-1.0), anomalies from the 1951-1980 means (NASA GISS, public domain).
    """
    return (read_datahub(EMBEDDED / "gistemp_monthly.csv", "GISTEMP"),
            read_datahub(EMBEDDED / "gistemp_annual.csv", "GISTEMP"))


def _csv(path, text: str | None = None) -> pd.DataFrame:
    text = _read_text(path) if text is None else text
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV (corrupt or truncated?): {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


# --------------------------------------------------------------------------- the registry
#: official download locations. GISTEMP, HadCRUT5, NOAA and GML update their files in place
#: every month, so no sha256 is pinned: ``shared.data.fetch`` logs the hash of what was used.
URLS = {
    "gistemp": "https://data.giss.nasa.gov/gistemp/tabledata_v4/GLB.Ts+dSST.csv",
    "hadcrut5_annual": "https://www.metoffice.gov.uk/hadobs/hadcrut5/data/HadCRUT.5.0.2.0/analysis/diagnostics/"
                       "HadCRUT.5.0.2.0.analysis.summary_series.global.annual.csv",
    "hadcrut5_monthly": "https://www.metoffice.gov.uk/hadobs/hadcrut5/data/HadCRUT.5.0.2.0/analysis/diagnostics/"
                        "HadCRUT.5.0.2.0.analysis.summary_series.global.monthly.csv",
    # Climate at a Glance URL pattern (.../globe/land_ocean/<months>/<end month>/<first>-<last>/data.csv):
    # 12/12 = January-December means, 1/0 = every month. Taken from NCEI's web interface; the
    # exact query could not be verified from this offline machine.
    "noaa_annual": "https://www.ncei.noaa.gov/access/monitoring/climate-at-a-glance/global/time-series/globe/"
                   "land_ocean/12/12/1850-2024/data.csv",
    "noaa_monthly": "https://www.ncei.noaa.gov/access/monitoring/climate-at-a-glance/global/time-series/globe/"
                    "land_ocean/1/0/1850-2024/data.csv",
    # datahub.io core dataset 'global-temp' (its files are also at github.com/datasets/global-temp, data/)
    "datahub_annual": "https://datahub.io/core/global-temp/r/annual.csv",
    "datahub_monthly": "https://datahub.io/core/global-temp/r/monthly.csv",
    "co2_gml": "https://gml.noaa.gov/webdata/ccgg/trends/co2/co2_mm_mlo.csv",
    "co2_datahub": "https://datahub.io/core/co2-ppm/r/co2-mm-mlo.csv",
    "enso_psl": "https://psl.noaa.gov/data/correlation/nina34.anom.data",
}

#: the file name each download is stored under (and looked for in data/climate_forecast/external/)
FILENAMES = {
    "gistemp": "GLB.Ts+dSST.csv",
    "hadcrut5_annual": "HadCRUT.5.0.2.0.analysis.summary_series.global.annual.csv",
    "hadcrut5_monthly": "HadCRUT.5.0.2.0.analysis.summary_series.global.monthly.csv",
    "noaa_annual": "noaaglobaltemp_annual.csv",
    "noaa_monthly": "noaaglobaltemp_monthly.csv",
    "datahub_annual": "annual.csv",
    "datahub_monthly": "monthly.csv",
    "co2_gml": "co2_mm_mlo.csv",
    "co2_datahub": "co2-mm-mlo.csv",
    "enso_psl": "nina34.anom.data",
}


@dataclass
class Loaded:
    """A source as read: monthly and/or annual series, and where they came from."""

    monthly: pd.Series | None
    annual: pd.Series | None
    units: str
    files: dict[str, str]


def _get(key: str, raw_dir: Path, external: Path | None) -> Path:
    from shared.data import fetch

    return fetch(URLS[key], None, raw_dir / FILENAMES[key], project="climate_forecast", external=external)


def load_source(name: str, raw_dir: str | Path, *, datahub_source: str = "GISTEMP",
                gridded_file: str | None = None, gridded_variable: str | None = None,
                external: str | Path | None = None, getter: Callable[[str, Path, Path | None], Path] | None = None,
                embedded: bool = True) -> Loaded:
    """Read the target series ``name`` (from ``external/``, downloaded, or embedded where allowed).

    ``gistemp``: ``external/GLB.Ts+dSST.csv`` when it is there; else, with ``embedded``, the copy
    shipped in ``projects/climate_forecast/embedded/`` (offline, ends 2023); else a download.

    Returns:
        :class:`Loaded`: monthly and/or annual series, units, and the file (or package) each came from.

    Raises:
        DataError: unknown source, a missing or malformed file (the message names it and where to put it).
    """
    raw_dir = Path(raw_dir)
    ext = Path(external) if external is not None else None
    get = getter or _get
    if name == "statsmodels_co2":
        return Loaded(statsmodels_co2(), None, "ppm", {"co2": "statsmodels.datasets.co2 (weekly → monthly mean)"})
    if name == "statsmodels_elnino":
        return Loaded(statsmodels_elnino(), None, "°C", {"elnino": "statsmodels.datasets.elnino"})
    if name == "gistemp":
        from shared.paths import external_dir

        hand_placed = (ext or external_dir("climate_forecast")) / FILENAMES["gistemp"]
        if embedded and not hand_placed.is_file():
            monthly, annual = embedded_gistemp()
            return Loaded(monthly, annual, "°C anomaly (1951-1980)", {"gistemp": EMBEDDED_NOTE})
        path = get("gistemp", raw_dir, ext)
        monthly, annual = read_gistemp(path)
        return Loaded(monthly, annual, "°C anomaly (1951-1980)", {"gistemp": str(path)})
    if name in ("hadcrut5", "noaa"):
        reader = read_hadcrut5 if name == "hadcrut5" else read_noaa
        pa, pm = get(f"{name}_annual", raw_dir, ext), get(f"{name}_monthly", raw_dir, ext)
        annual, monthly = reader(pa), reader(pm)
        _check_freq(annual, "Y", pa)
        _check_freq(monthly, "M", pm)
        base = "1961-1990" if name == "hadcrut5" else "1901-2000"
        return Loaded(monthly, annual, f"°C anomaly ({base})", {"annual": str(pa), "monthly": str(pm)})
    if name == "datahub":
        pa, pm = get("datahub_annual", raw_dir, ext), get("datahub_monthly", raw_dir, ext)
        annual, monthly = read_datahub(pa, datahub_source), read_datahub(pm, datahub_source)
        _check_freq(annual, "Y", pa)
        _check_freq(monthly, "M", pm)
        return Loaded(monthly, annual, f"°C anomaly ({datahub_source})", {"annual": str(pa), "monthly": str(pm)})
    if name == "gridded":
        if not gridded_file:
            raise DataError("source 'gridded' needs data.gridded_file: a CF NetCDF placed in data/climate_forecast/"
                            "external/ (e.g. HadCRUT.5.0.2.0.analysis.anomalies.ensemble_mean.nc)")
        path = Path(gridded_file)
        if not path.is_absolute() and not path.exists():
            path = (ext or Path("data/climate_forecast/external")) / gridded_file
        if not path.is_file():
            raise DataError(f"gridded file not found: {path}; place the NetCDF there")
        return Loaded(read_gridded(path, gridded_variable), None, "°C anomaly", {"gridded": str(path)})
    raise DataError(f"unknown source {name!r}")


def load_covariate(name: str, provider: str, raw_dir: str | Path, *, external: str | Path | None = None,
                   getter: Callable[[str, Path, Path | None], Path] | None = None) -> tuple[pd.Series, str]:
    """A monthly covariate: ``co2`` (statsmodels | gml | datahub) or ``enso`` (statsmodels | psl).

    Returns:
        ``(series, origin)``: the monthly series and where it came from (a file or the statsmodels dataset).
        CO2 is in ppm; ENSO is in °C (statsmodels: the El Niño region's sea-surface temperature; psl: the
        tabulated index, e.g. Niño 3.4 anomalies).

    Raises:
        DataError: an unknown covariate or provider, or the file is missing, cannot be downloaded or is
            malformed (see the readers).
    """
    raw_dir = Path(raw_dir)
    ext = Path(external) if external is not None else None
    get = getter or _get
    if name == "co2":
        if provider == "statsmodels":
            return statsmodels_co2(), "statsmodels.datasets.co2"
        if provider == "gml":
            path = get("co2_gml", raw_dir, ext)
            return read_co2_gml(path), str(path)
        if provider == "datahub":
            path = get("co2_datahub", raw_dir, ext)
            return read_co2_datahub(path), str(path)
    if name == "enso":
        if provider == "statsmodels":
            return statsmodels_elnino(), "statsmodels.datasets.elnino"
        if provider == "psl":
            path = get("enso_psl", raw_dir, ext)
            return read_psl_index(path), str(path)
    raise DataError(f"unknown covariate {name!r} from {provider!r}; use co2: statsmodels|gml|datahub, "
                    "enso: statsmodels|psl")


def _check_freq(series: pd.Series, freq: str, path) -> None:
    if series.index.freqstr[0] != freq[0]:
        kind = "annual" if freq == "Y" else "monthly"
        raise DataError(f"{path}: expected the {kind} file, got dates like {series.index[0]}")
