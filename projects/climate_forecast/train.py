"""Stage ``train``: the final LSTM and GRU ensembles, trained on the whole prepared series.

They make the forecast beyond the data (``evaluate``); the backtest trains its own
ensembles at each refit origin, with the same :class:`~projects.climate_forecast.networks.TrainConfig`.
Each ensemble is saved as ``<out>/<cell>/`` (``model.keras`` + ``network.json``: the encoder
state, the held-out residual spread per horizon and the training history).

A killed run resumes: a finished ensemble is kept in ``--work``, and the one in progress
resumes from its last finished epoch (``shared.training.fit``).

    python -m projects.climate_forecast.train --params projects/climate_forecast/params.yaml \
        --data data/climate_forecast/prepared --work data/climate_forecast/work/train --out data/climate_forecast/model
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from projects.climate_forecast.backtest import NETWORKS
from projects.climate_forecast.data import load_prepared
from projects.climate_forecast.networks import TrainConfig, TrainedNetwork, train_network
from projects.climate_forecast.series import from_prepared
from shared import config as config_lib
from shared.stage import run, stage_parser
from shared.training import config_hash, publish_runs

log = logging.getLogger(__name__)


def train_all(prepared, cfg: TrainConfig, work: Path, out: Path, cells: Sequence[str] = NETWORKS) -> dict:
    series = from_prepared(prepared)
    work = Path(work) / config_hash(cfg, {"n": series.n, "last": series.periods[-1], "y": float(series.y.sum())})
    summary = {}
    for cell in cells:
        done = work / "done" / cell
        if (done / "network.json").exists():
            log.info("%s ensemble: finished in an earlier run", cell)
        else:
            cell_cfg = config_lib.replace(cfg, network={"cell": cell})
            log.info("training the %s ensemble (%d members) on %d values up to %s", cell, cfg.network.members,
                     series.n, series.periods[-1])
            trained = train_network(series, cell_cfg, workdir=work / "progress" / cell)
            trained.save(done)
            shutil.rmtree(work / "progress" / cell, ignore_errors=True)
        net = TrainedNetwork.load(done)
        summary[cell] = {"epochs": net.info["epochs"], "held_out_rms": net.sigma.tolist()}
    publish_runs(work, cells, out, {"networks": summary, "config": config_lib.to_dict(cfg),
                                    "last_period": series.periods[-1]})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainConfig)
    summary = train_all(load_prepared(args.data), cfg, Path(args.work), Path(args.out))
    for cell, info in summary.items():
        log.info("%s: %d epochs, held-out RMS at h=1: %.4g", cell, info["epochs"], info["held_out_rms"][0])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
