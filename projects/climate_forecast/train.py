"""Stage ``train``: the final hybrid, trained on the whole prepared series.

It makes the forecast beyond the data (``evaluate``); the backtest trains its own hybrids at
each refit origin, with the same :class:`~projects.climate_forecast.networks.TrainConfig`
(``train``) and base model (``backtest.classical``). Saved as ``<out>/hybrid/`` (``model.keras``
+ ``hybrid.json``: the encoder state, α, the interval widening and the training summary).

A killed run resumes: a finished hybrid is kept in ``--work``, and one in progress resumes from
its last finished epoch (``shared.training.fit``).

With ``train.distribute: multi_worker`` the same command runs in every worker of the ``TF_CONFIG``
cluster: they train the hybrid together and only the chief writes ``--out``; the other workers keep
a marker of the finished run in their own part of ``--work``.

    python -m projects.climate_forecast.train --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --work data/climate_forecast/work/train --out data/climate_forecast/model
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from projects.climate_forecast.baselines import ClassicalConfig
from projects.climate_forecast.hybrid import TrainedHybrid, train_hybrid
from projects.climate_forecast.networks import TrainConfig
from projects.climate_forecast.prepared import load_prepared
from projects.climate_forecast.protocol import BacktestConfig
from projects.climate_forecast.series import from_prepared
from shared import config as config_lib
from shared.io import write_json
from shared.stage import run, stage_parser
from shared.training import config_hash, publish_runs

log = logging.getLogger(__name__)


def train_all(prepared, cfg: TrainConfig, classical: ClassicalConfig, work: Path, out: Path) -> dict:
    """Train (or resume) the final hybrid on the whole series and publish it under ``out/hybrid``."""
    from projects.climate_forecast.networks import distribute_strategy
    from shared.distributed import is_chief, worker_id

    distribute_strategy(cfg.distribute)  # first: before other TensorFlow work
    chief = is_chief()
    series = from_prepared(prepared)
    work = Path(work) / config_hash(cfg, classical, {"n": series.n, "last": series.periods[-1],
                                                     "y": float(series.y.sum())})
    # a worker of a cluster keeps only a marker (info.json) of the finished run, in its own folder
    done = work / ("done" if chief else f"done-{worker_id()}") / "hybrid"
    marker = done / ("hybrid.json" if chief else "info.json")
    if marker.exists():
        log.info("hybrid: finished in an earlier run")
        info = TrainedHybrid.load(done).info if chief else json.loads(marker.read_text())
    else:
        log.info("training the hybrid (%s ensemble of %d, on the errors of %s) on %d values up to %s",
                 cfg.network.cell, cfg.network.members, cfg.hybrid.base, series.n, series.periods[-1])
        trained = train_hybrid(series, cfg, classical, workdir=work / "progress" / "hybrid")
        info = trained.info
        if chief:
            trained.save(done)
            shutil.rmtree(work / "progress" / "hybrid", ignore_errors=True)
        else:
            try:
                write_json(marker, info)
            except OSError:  # a shared --work that the chief has already published and removed
                log.debug("worker marker not written: %s is gone", work)
    summary = {"hybrid": info}
    if chief:
        publish_runs(work, ["hybrid"], out, {"networks": summary, "config": config_lib.to_dict(cfg),
                                             "last_period": series.periods[-1]})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """The ``train`` stage.

    Raises:
        ConfigError: the ``train`` or ``backtest`` section of ``--params`` is missing or invalid.
        DataError: the prepared files are missing or broken (see :func:`load_prepared`).
    """
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainConfig)
    classical = config_lib.load_section(args.params, "backtest", BacktestConfig).classical
    summary = train_all(load_prepared(args.data), cfg, classical, Path(args.work), Path(args.out))
    for name, info in summary.items():
        log.info("%s: %d epochs, α = %.3f, interval widening %.3f", name, info["epochs"], info["alpha"],
                 info["widen"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
