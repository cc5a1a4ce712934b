"""Stage ``train``: PINN solves of every prepared problem, forward, inverse and parametric.

Each case (problem × mode × seed) is one :func:`projects.pinn_ode.pinn.solve`; the headline
problem runs with every seed, the others with the first. A case is saved as
``<out>/<problem>/<mode>/seed<k>/`` (``model.keras`` + ``solution.json`` with history,
identified parameters, wall time and iterations).

Killed runs resume: finished cases are kept in ``--work``, and the case in progress resumes
from its last finished epoch (``BackupAndRestore``) or skips its finished Adam phase.

    python -m projects.pinn_ode.train --params projects/pinn_ode/params.yaml \
        --data data/pinn_ode/prepared --work data/pinn_ode/work/train --out data/pinn_ode/model
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from projects.pinn_ode.cases import (  # noqa: F401  (TrainConfig, run_case: re-exported for callers of the stage)
    TrainConfig,
    TrainStageConfig,
    case_config,
    case_dir,
    run_case,
)
from shared import config as config_lib
from shared.io import read_json
from shared.stage import run, stage_parser
from shared.training import config_hash, publish_runs

log = logging.getLogger(__name__)

def train_all(cfg: TrainStageConfig, prepared: Path, work: Path, out: Path) -> list[Mapping[str, Any]]:
    """Solve every case of ``cfg`` (finished cases in ``work`` are kept) and publish them to ``out``.

    Raises:
        DataError: a prepared file is missing or broken (see :func:`load_prepared`).
        ProblemError: a case's solve is ill-posed (see :func:`projects.pinn_ode.pinn.solve`).
    """
    from shared.distributed import make_strategy

    strategy = make_strategy(cfg.strategy)  # first, before other TensorFlow work
    work = Path(work) / config_hash(cfg)
    cases = [(p, m, s) for p in cfg.problems for m in cfg.modes for s in cfg.seeds_for(p)]
    summary = []
    for i, (problem, mode, seed) in enumerate(cases, 1):
        done = case_dir(work / "done", problem, mode, seed)
        if (done / "solution.json").exists():
            log.info("[%d/%d] %s %s seed %d: finished in an earlier run", i, len(cases), problem, mode, seed)
        else:
            log.info("[%d/%d] %s %s seed %d", i, len(cases), problem, mode, seed)
            case_work = case_dir(work / "progress", problem, mode, seed)
            solution = run_case(problem, mode, case_config(cfg, problem, mode, seed), prepared,
                                workdir=case_work, verbose=cfg.verbose, strategy=strategy)
            solution.save(done)
            shutil.rmtree(case_work, ignore_errors=True)
        info = read_json(done / "solution.json")["info"]
        summary.append({"problem": problem, "mode": mode, "seed": seed, **info})
    publish_runs(work, [case_dir(Path(), *case) for case in cases], out,
                 {"cases": summary, "config": config_lib.to_dict(cfg)})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True).parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    summary = train_all(cfg, Path(args.data), Path(args.work), Path(args.out))
    total = sum(c["wall_time_s"] for c in summary)
    log.info("trained %d cases in %.0f s of training time", len(summary), total)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
