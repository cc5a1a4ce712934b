"""The prepared series: read, validate and align a target and its covariates (library of the data stage).

The target series comes from ``data.source`` (see :mod:`projects.climate_forecast.sources`),
optional covariates (CO2, ENSO) are aligned with it by month. Validation, each failure a
one-line :class:`~shared.io.DataError`:

* dates out of order or duplicated;
* gaps (missing periods) and missing-value markers (``***``, ``-999``, NaN) inside the series:
  an error, unless ``data.interpolate`` allows filling runs of up to ``data.max_gap`` periods
  by linear interpolation (each filled date is reported in the manifest). Missing values at
  either end (GISTEMP's unpublished months of the current year) are trimmed and reported;
* a series shorter than ``data.min_length`` target periods.

:func:`write_prepared` writes ``target.csv`` (the series at the target frequency,
``period,value[,covariates]``), ``inputs.csv`` (the same quantities at the input frequency: monthly
where the source has months, so that an annual forecast can read the latest months) and
``manifest.json``; :func:`load_prepared` reads them back for the later stages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from projects.climate_forecast.sources import load_covariate, load_source
from shared.io import DataError, read_json, write_csv, write_json

log = logging.getLogger(__name__)

Source = Literal["statsmodels_co2", "statsmodels_elnino", "gistemp", "hadcrut5", "noaa", "datahub", "gridded"]


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: the target source and frequency, covariates, gap handling and the span.

    Raises:
        ValueError: a covariate other than ``co2`` or ``enso``, a covariate that is the target series itself,
            an unknown provider, ``max_gap`` < 1 or ``min_length`` < 10.
    """

    source: Source = "gistemp"
    #: frequency of the forecast target; inputs stay monthly where the source has months
    frequency: Literal["annual", "monthly"] = "annual"
    #: gistemp without ``external/GLB.Ts+dSST.csv``: read the embedded copy (True) or download (False)
    embedded: bool = True
    #: rows of the datahub files to read (GISTEMP or gcag)
    datahub_source: str = "GISTEMP"
    gridded_file: str | None = None
    gridded_variable: str | None = None
    #: covariates aligned by month: {co2: statsmodels|gml|datahub, enso: statsmodels|psl}
    covariates: dict[str, str] = field(default_factory=dict)
    #: fill interior gaps and missing markers by linear interpolation (else they are an error)
    interpolate: bool = False
    #: the longest run of consecutive missing periods that may be interpolated
    max_gap: int = 3
    first_year: int | None = None
    last_year: int | None = None
    #: fewest target periods accepted
    min_length: int = 40

    def __post_init__(self) -> None:
        for name, provider in self.covariates.items():
            if name not in ("co2", "enso"):
                raise ValueError(f"covariates: unknown covariate {name!r} (co2, enso)")
            if name == "co2" and self.source == "statsmodels_co2" or name == "enso" and self.source == \
                    "statsmodels_elnino":
                raise ValueError(f"covariates: {name!r} is the target series itself")
            if provider not in ("statsmodels", "gml", "datahub", "psl"):
                raise ValueError(f"covariates.{name}: unknown provider {provider!r}")
        if self.max_gap < 1 or self.min_length < 10:
            raise ValueError("max_gap ≥ 1 and min_length ≥ 10 are required")


# --------------------------------------------------------------------------- validation
def _fmt(periods) -> str:
    items = [str(p) for p in periods]
    return ", ".join(items[:6]) + (f", … ({len(items)} in all)" if len(items) > 6 else "")


def validate(series: pd.Series, where: str, *, interpolate: bool = False, max_gap: int = 3) -> tuple[pd.Series, dict]:
    """Check order, duplicates, gaps and missing values; return the clean series and a report.

    Raises:
        DataError: the index is not a ``PeriodIndex``, has duplicates or is not increasing; a value is
            infinite; no value is valid; there are gaps or missing values and ``interpolate`` is false, or a
            run of more than ``max_gap`` missing periods (``where`` names the series).
    """
    if not isinstance(series.index, pd.PeriodIndex):
        raise DataError(f"{where}: expected a PeriodIndex, got {type(series.index).__name__}")
    index = series.index
    dup = index[index.duplicated()]
    if len(dup):
        raise DataError(f"{where}: duplicate dates {_fmt(dup.unique())}")
    if not index.is_monotonic_increasing:
        pos = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise DataError(f"{where}: dates not in increasing order ({index[pos - 1]} is followed by {index[pos]})")
    values = series.astype(float)
    if np.isinf(values).any():
        raise DataError(f"{where}: infinite values at {_fmt(values.index[np.isinf(values)])}")
    valid = values.notna()
    if not valid.any():
        raise DataError(f"{where}: no valid values")
    first, last = values.index[valid.argmax()], values.index[len(valid) - 1 - valid.iloc[::-1].argmax()]
    report: dict = {"trimmed_start": int(valid.argmax()), "trimmed_end": int(valid.iloc[::-1].argmax())}
    if report["trimmed_end"] or report["trimmed_start"]:
        log.info("%s: trimmed %d leading and %d trailing missing values", where, report["trimmed_start"],
                 report["trimmed_end"])
    values = values.loc[first:last]
    full = pd.period_range(first, last, freq=index.freq)
    gaps = full.difference(values.index)
    markers = values.index[values.isna()]
    missing = gaps.union(markers).sort_values()
    report.update(gaps=[str(p) for p in gaps], missing_values=[str(p) for p in markers])
    values = values.reindex(full)
    if len(missing):
        what = (f"{len(gaps)} gap(s) in the dates" if len(gaps) else "") + (" and " if len(gaps) and len(markers)
                                                                          else "") + \
               (f"{len(markers)} missing value(s)" if len(markers) else "")
        if not interpolate:
            raise DataError(f"{where}: {what} at {_fmt(missing)}; set data.interpolate: true to fill runs of "
                            f"up to data.max_gap={max_gap} periods by linear interpolation")
        run_len = _longest_run(values.isna().to_numpy())
        if run_len > max_gap:
            raise DataError(f"{where}: {run_len} consecutive missing periods (around {_fmt(missing)}) exceed "
                            f"data.max_gap={max_gap}; interpolating that much would invent data")
        log.warning("%s: interpolated %s at %s", where, what, _fmt(missing))
        values = values.interpolate(method="linear")
    report["interpolated"] = [str(p) for p in missing]
    report["span"] = [str(full[0]), str(full[-1])]
    return values.rename(series.name), report


def _longest_run(mask: np.ndarray) -> int:
    best = cur = 0
    for m in mask:
        cur = cur + 1 if m else 0
        best = max(best, cur)
    return best


def annual_means(monthly: pd.Series | pd.DataFrame):
    """Means of complete calendar years (12 months) of a monthly series or frame."""
    years = monthly.index.year
    counts = pd.Series(1, index=monthly.index).groupby(years).sum()
    means = monthly.groupby(years).mean()
    means = means[counts.reindex(means.index) == 12]
    means.index = pd.PeriodIndex([pd.Period(str(int(y)), freq="Y") for y in means.index], freq="Y")
    return means


# --------------------------------------------------------------------------- the prepared data
@dataclass
class Prepared:
    """A validated target series (``target``) and the inputs the models may read (``inputs``).

    ``inputs`` holds the same variables at the input frequency; ``steps`` input periods make
    one target period (12 for an annual target with monthly inputs, else 1), so target period
    ``i`` ends at input row ``(i + 1) * steps - 1``.
    """

    target: pd.DataFrame
    inputs: pd.DataFrame
    manifest: dict

    @property
    def steps(self) -> int:
        return len(self.inputs) // len(self.target)

    @property
    def frequency(self) -> str:
        return "annual" if self.target.index.freqstr.startswith("Y") else "monthly"

    @property
    def season(self) -> int:
        """Seasonal period of the target (12 for monthly data, 1 for annual)."""
        return 12 if self.frequency == "monthly" else 1

    @property
    def covariates(self) -> list[str]:
        return [c for c in self.target.columns if c != "value"]


def period_times(index: pd.PeriodIndex) -> np.ndarray:
    """Mid-period times in fractional years (1990 → 1990.5; 1990-01 → 1990 + 1/24)."""
    if index.freqstr.startswith("Y"):
        return index.year.to_numpy(dtype=float) + 0.5
    return index.year.to_numpy(dtype=float) + (index.month.to_numpy(dtype=float) - 0.5) / 12.0


def prepare(cfg: DataConfig, raw_dir: Path, *, external: Path | None = None, getter=None) -> Prepared:
    """Read, validate and align the configured source and covariates.

    Args:
        cfg: the ``data`` section.
        raw_dir: folder for downloads. external: folder of hand-placed files (default
            ``data/climate_forecast/external``). getter: replaces the download (tests).

    Returns:
        :class:`Prepared`: ``target`` (n target periods × [value, covariates]) and ``inputs``
        (n × steps rows, steps = 12 for an annual target with monthly inputs, else 1), in the source's
        units (°C anomaly, ppm), and a manifest naming the files used and every value filled or trimmed.

    Raises:
        DataError: a missing or malformed file, dates out of order or duplicated, gaps or missing values
            (unless ``interpolate``), a covariate that does not overlap, or fewer than ``min_length`` values.
    """
    loaded = load_source(cfg.source, raw_dir, datahub_source=cfg.datahub_source, gridded_file=cfg.gridded_file,
                         gridded_variable=cfg.gridded_variable, external=external, getter=getter,
                         embedded=cfg.embedded)
    manifest: dict = {"source": cfg.source, "units": loaded.units, "files": loaded.files, "frequency": cfg.frequency,
                      "validation": {}}
    kw = {"interpolate": cfg.interpolate, "max_gap": cfg.max_gap}
    monthly = annual = None
    if loaded.monthly is not None:
        monthly, manifest["validation"]["monthly"] = validate(_crop(loaded.monthly, cfg), f"{cfg.source} monthly", **kw)
    if loaded.annual is not None:
        annual, manifest["validation"]["annual"] = validate(_crop(loaded.annual, cfg), f"{cfg.source} annual", **kw)
    if cfg.frequency == "monthly" and monthly is None:
        raise DataError(f"source {cfg.source!r} has no monthly series; use data.frequency: annual")
    covs: dict[str, pd.Series] = {}
    for name, provider in cfg.covariates.items():
        series, origin = load_covariate(name, provider, raw_dir, external=external, getter=getter)
        covs[name], manifest["validation"][name] = validate(_crop(series, cfg), f"covariate {name} ({provider})", **kw)
        manifest["files"][name] = origin
    if monthly is not None:
        frame = pd.concat({"value": monthly, **covs}, axis=1, join="inner") if covs else monthly.to_frame("value")
        frame = frame.dropna()
        if len(frame) and not frame.index.equals(pd.period_range(frame.index[0], frame.index[-1], freq="M")):
            raise DataError("covariates overlap the target only in disjoint pieces; check their date ranges")
    else:
        frame = None
    if cfg.frequency == "monthly":
        target = inputs = frame
    elif frame is not None:
        # annual target, monthly inputs: complete years only, official annual values where given
        frame = frame[frame.index.year.isin(pd.Series(frame.index.year).value_counts().loc[lambda c: c == 12].index)]
        target = annual_means(frame)
        if annual is not None:
            common = target.index.intersection(annual.index)
            target = target.loc[common]
            target["value"] = annual.loc[common]
        years = target.index.year
        inputs = frame[frame.index.year.isin(years)]
        if len(inputs) != 12 * len(target):
            raise DataError("the monthly and annual series cover different years with holes; check the files")
    else:
        if covs:
            cov_annual = {k: annual_means(v) for k, v in covs.items()}
            target = pd.concat({"value": annual, **cov_annual}, axis=1, join="inner").dropna()
        else:
            target = annual.to_frame("value")
        inputs = target
    if target is None or len(target) < cfg.min_length:
        n = 0 if target is None else len(target)
        raise DataError(f"the {cfg.frequency} series has {n} values after validation and alignment; "
                        f"at least data.min_length={cfg.min_length} are needed")
    manifest.update(n_target=len(target), n_inputs=len(inputs), covariates=list(covs),
                    target_span=[str(target.index[0]), str(target.index[-1])],
                    input_frequency="monthly" if inputs.index.freqstr.startswith("M") else "annual")
    return Prepared(target=target, inputs=inputs, manifest=manifest)


def _crop(series: pd.Series, cfg: DataConfig) -> pd.Series:
    years = series.index.year
    keep = np.ones(len(series), bool)
    if cfg.first_year is not None:
        keep &= years >= cfg.first_year
    if cfg.last_year is not None:
        keep &= years <= cfg.last_year
    return series[keep]


def _to_csv(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "period", [str(p) for p in frame.index])
    return out.reset_index(drop=True)


def write_prepared(prepared: Prepared, out: Path) -> None:
    write_csv(out / "target.csv", _to_csv(prepared.target))
    write_csv(out / "inputs.csv", _to_csv(prepared.inputs))
    write_json(out / "manifest.json", prepared.manifest)


def _read_frame(path: Path, freq: str | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"file not found: {path}; run the data stage first")
    try:
        frame = pd.read_csv(path, dtype={"period": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV (corrupt or truncated?): {exc}") from exc
    if "period" not in frame.columns or "value" not in frame.columns:
        raise DataError(f"{path}: columns 'period' and 'value' expected; found {list(frame.columns)}")
    if frame.empty:
        raise DataError(f"{path} has a header but no rows (truncated?); run the data stage again")
    freq = freq or ("Y" if frame["period"].str.fullmatch(r"\d{4}").all() else "M")
    try:
        index = pd.PeriodIndex([pd.Period(p, freq=freq) for p in frame["period"]], freq=freq)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: bad period: {exc}") from exc
    frame = frame.drop(columns="period").set_index(index)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    if numeric.isna().to_numpy().any() or not np.isfinite(numeric.to_numpy()).all():
        raise DataError(f"{path} contains NaN, infinite or non-numeric values")
    if not index.equals(pd.period_range(index[0], index[-1], freq=freq)):
        raise DataError(f"{path}: periods are not consecutive (gaps, duplicates or wrong order)")
    return numeric.astype(float)


def load_prepared(directory: str | Path) -> Prepared:
    """Read and check the output of this stage.

    Returns:
        a ``Prepared``: ``target`` (one row per target period, columns ``value`` and the covariates, indexed by
        period) and ``inputs`` (the same columns at the input frequency: 1 or 12 rows per target period), in the
        source's units, and the manifest.

    Raises:
        DataError: ``manifest.json``, ``target.csv`` or ``inputs.csv`` is missing or unreadable; a CSV lacks
            ``period`` or ``value``, has no rows, a bad period, NaN, infinite or non-numeric values, or periods that are
            not consecutive; the two CSVs hold different columns, or the input rows are not 1 or 12 per target
            period.
    """
    directory = Path(directory)
    manifest = read_json(directory / "manifest.json")
    target = _read_frame(directory / "target.csv")
    inputs = _read_frame(directory / "inputs.csv")
    if list(target.columns) != list(inputs.columns):
        raise DataError(f"{directory}: target.csv and inputs.csv hold different columns")
    if len(inputs) % len(target) or len(inputs) // len(target) not in (1, 12):
        raise DataError(f"{directory}: {len(inputs)} input rows do not divide into {len(target)} target periods")
    return Prepared(target=target, inputs=inputs, manifest=manifest)
