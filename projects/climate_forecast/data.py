"""Stage ``data`` (root ``dvc.yaml``: ``climate_forecast_data``): read, validate and align a series.

The target series comes from ``data.source`` (see :mod:`projects.climate_forecast.sources`),
optional covariates (CO2, ENSO) are aligned with it by month. Validation, each failure a
one-line :class:`~shared.io.DataError`:

* dates out of order or duplicated;
* gaps (missing periods) and missing-value markers (``***``, ``-999``, NaN) inside the series:
  an error, unless ``data.interpolate`` allows filling runs of up to ``data.max_gap`` periods
  by linear interpolation (each filled date is reported in the manifest). Missing values at
  either end (GISTEMP's unpublished months of the current year) are trimmed and reported;
* a series shorter than ``data.min_length`` target periods.

Writes ``<out>/target.csv`` (the series at the target frequency, ``period,value[,covariates]``),
``<out>/inputs.csv`` (the same quantities at the input frequency: monthly where the source has
months, so that an annual forecast can read the latest months) and ``<out>/manifest.json``.

    python -m projects.climate_forecast.data --params projects/climate_forecast/params.yaml \
        --raw data/climate_forecast/raw --out data/climate_forecast/prepared
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from projects.climate_forecast.prepared import DataConfig, prepare, write_prepared
from shared.config import load_section
from shared.io import atomic_dir
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, outputs=("out",))
    parser.add_argument("--raw", required=True, help="folder for downloaded files (DVC output)")
    parser.add_argument("--external", default=None, help="folder of hand-placed files "
                                                         "(default data/climate_forecast/external)")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    raw = Path(args.raw)
    raw.mkdir(parents=True, exist_ok=True)
    prepared = prepare(cfg, raw, external=Path(args.external) if args.external else None)
    with atomic_dir(args.out) as tmp:
        write_prepared(prepared, tmp)
    log.info("%s: %d %s values (%s to %s), inputs %s, covariates %s", cfg.source, len(prepared.target),
             cfg.frequency, prepared.target.index[0], prepared.target.index[-1], prepared.manifest["input_frequency"],
             prepared.covariates or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
