"""Stage ``train``: the U-Net surrogates (both designs) per experiment, and the C_L MLP baseline.

For every ``experiment → designs`` entry of ``train.models`` a U-Net is trained on that
experiment's train split (``splits.json`` of the data stage) with the masked loss, validated on
its val split (best epoch restored), and saved as ``<out>/<experiment>/<design>/model.keras``
with ``info.json`` (history, wall time, parameters). The MLP that predicts C_L from
the Kulfan shape parameters and α is trained per experiment on the same split (``<out>/<experiment>/mlp/``).

Killed runs resume: finished models are kept in ``--work``; the model in training resumes at
its last finished epoch (``shared.training.fit``).

    python -m projects.airfoil_flow.train --params projects/airfoil_flow/params.yaml \
        --data data/airfoil_flow/prepared --work data/airfoil_flow/work/train --out data/airfoil_flow/model
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from projects.airfoil_flow.baselines import parameters
from projects.airfoil_flow.dataset import FieldData, load_fields, load_splits
from projects.airfoil_flow.model import MLPConfig, UNetConfig
from shared import config as config_lib
from shared.io import DataError, atomic_path, read_json, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

DESIGNS = ("geometry", "plain")


@dataclass(frozen=True)
class FitConfig:
    """Training of the U-Nets.

    Raises:
        ValueError: ``epochs`` or ``batch_size`` < 1, ``learning_rate`` ≤ 0, or ``final_lr_fraction`` outside (0, 1].
    """

    epochs: int = 12
    batch_size: int = 16
    learning_rate: float = 2e-3
    #: cosine decay to this fraction of the learning rate
    final_lr_fraction: float = 0.02
    #: weights of u, v and Cp in the masked MSE
    loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.25)
    #: gradient clipping by global norm (the plain U-Net diverged once without it)
    clipnorm: float = 1.0
    #: mirror y → −y (and α → −α, v → −v): an exact symmetry of the flow, free extra data
    flip_augment: bool = True
    #: early stopping on val_loss (null: train every epoch; the best epoch is restored anyway)
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, batch_size and learning_rate must be positive")
        if not 0 < self.final_lr_fraction <= 1:
            raise ValueError(f"final_lr_fraction must lie in (0, 1], got {self.final_lr_fraction}")


@dataclass(frozen=True)
class MLPFitConfig:
    epochs: int = 40
    steps_per_epoch: int = 50
    batch_size: int = 32
    learning_rate: float = 3e-3


@dataclass(frozen=True)
class TrainStageConfig:
    """The ``train`` section: which designs are trained on which experiment, and how.

    Raises:
        ValueError: a design that is not ``geometry`` or ``plain``, or ``models`` is empty.
    """

    #: experiment (a split of splits.json) → the U-Net designs trained on it
    models: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "random": DESIGNS, "alpha_extrapolation": DESIGNS, "shape_extrapolation": ("geometry",)})
    unet: UNetConfig = field(default_factory=UNetConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    mlp_fit: MLPFitConfig = field(default_factory=MLPFitConfig)
    seed: int = 0
    #: tf.distribute strategy (auto: MirroredStrategy on several GPUs)
    strategy: str = "auto"
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2

    def __post_init__(self) -> None:
        for exp, designs in self.models.items():
            bad = [d for d in designs if d not in DESIGNS]
            if bad:
                raise ValueError(f"models.{exp}: unknown design(s) {bad}; designs: {', '.join(DESIGNS)}")
        if not self.models:
            raise ValueError("models must name at least one experiment")

    def runs(self) -> list[tuple[str, str]]:
        return [(exp, design) for exp, designs in self.models.items() for design in designs]


def check_experiments(cfg: TrainStageConfig, splits: dict) -> None:
    """Check that every experiment of ``cfg.models`` is a split of ``splits.json``.

    Raises:
        DataError: an experiment is missing from ``splits``.
    """
    missing = [e for e in cfg.models if e not in splits]
    if missing:
        raise DataError(f"train.models names experiment(s) {missing} that splits.json lacks; it has {sorted(splits)}")


# --------------------------------------------------------------------------- input pipeline
def flip_example(x, y):
    """Mirror one example in y (rows): sin α → −sin α, v → −v. Valid for a y-symmetric box."""
    import tensorflow as tf

    def flipped():
        return (tf.reverse(x, axis=[0]) * tf.constant([1.0, 1.0, 1.0, -1.0]),
                tf.reverse(y, axis=[0]) * tf.constant([1.0, -1.0, 1.0, 1.0]))

    return tf.cond(tf.random.uniform(()) < 0.5, flipped, lambda: (x, y))


def datasets(fields: FieldData, split: dict[str, np.ndarray], fit: FitConfig, seed: int):
    from shared.data import make_dataset

    y0, y1 = fields.grid.y_range
    augment = None
    if fit.flip_augment:
        if abs(y0 + y1) > 1e-9:
            log.warning("flip_augment needs a grid box symmetric in y (got %s); training without it", (y0, y1))
        else:
            augment = flip_example
    tr, va = split["train"], split["val"]
    train = make_dataset(fields.inputs(tr), fields.targets(tr), batch_size=fit.batch_size, shuffle=True, seed=seed,
                         augment=augment, repeat=True)
    val = make_dataset(fields.inputs(va), fields.targets(va), batch_size=fit.batch_size)
    return train, val, math.ceil(len(tr) / fit.batch_size)


# --------------------------------------------------------------------------- training
def compile_unet(model, fit: FitConfig, steps: int):
    import keras

    from projects.airfoil_flow.model import MaskedMSE, masked_rmse

    schedule = keras.optimizers.schedules.CosineDecay(fit.learning_rate, decay_steps=max(1, steps),
                                                      alpha=fit.final_lr_fraction)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=fit.clipnorm),
                  loss=MaskedMSE(fit.loss_weights),
                  metrics=[masked_rmse(0, "rmse_u"), masked_rmse(1, "rmse_v"), masked_rmse(2, "rmse_cp")])
    return model


def train_unet(fields: FieldData, split: dict[str, np.ndarray], design: str, cfg: TrainStageConfig,
               workdir: Path, live_dir: Path | None = None):
    """Train one U-Net; returns ``(model, info)``."""
    from projects.airfoil_flow.model import build_unet
    from shared.training import fit, get_strategy, set_seed

    set_seed(cfg.seed)
    train, val, steps = datasets(fields, split, cfg.fit, cfg.seed)
    unet_cfg = config_lib.replace(cfg.unet, design=design, seed=cfg.seed)
    with get_strategy(cfg.strategy).scope():
        model = compile_unet(build_unet(unet_cfg, (fields.grid.ny, fields.grid.nx)), cfg.fit, cfg.fit.epochs * steps)
    start = time.perf_counter()
    history = fit(model, train, epochs=cfg.fit.epochs, steps_per_epoch=steps, validation=val, workdir=workdir,
                  monitor="val_loss", patience=cfg.fit.patience, live_dir=live_dir, verbose=cfg.verbose)
    info = {"design": design, "wall_time_s": time.perf_counter() - start, "epochs": len(history["epoch"]),
            "params": int(model.count_params()), "n_train": int(len(split["train"])),
            "n_val": int(len(split["val"])), "history": history, "unet": config_lib.to_dict(unet_cfg)}
    return model, info


def train_mlp(fields: FieldData, split: dict[str, np.ndarray], cfg: TrainStageConfig, workdir: Path):
    """The C_L baseline from the Kulfan parameters and α; returns ``(model, info)``.

    Raises:
        DataError: a training sample has non-finite shape parameters.
    """
    import keras

    from projects.airfoil_flow.model import build_cl_mlp
    from shared.data import make_dataset
    from shared.training import fit, set_seed

    set_seed(cfg.seed)
    x = parameters(fields, split["train"]).astype("float32")
    y = fields.meta["cl"][split["train"]].astype("float32")[:, None]
    xv = parameters(fields, split["val"]).astype("float32")
    yv = fields.meta["cl"][split["val"]].astype("float32")[:, None]
    if not np.all(np.isfinite(x)):
        raise DataError("the C_L MLP needs finite shape parameters for every training sample")
    model = build_cl_mlp(cfg.mlp, x.mean(axis=0), x.std(axis=0) + 1e-6)
    mf = cfg.mlp_fit
    schedule = keras.optimizers.schedules.CosineDecay(mf.learning_rate, mf.epochs * mf.steps_per_epoch, alpha=0.01)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", metrics=["mae"])
    start = time.perf_counter()
    history = fit(model, make_dataset(x, y, batch_size=mf.batch_size, shuffle=True, repeat=True, seed=cfg.seed),
                  epochs=mf.epochs, steps_per_epoch=mf.steps_per_epoch, validation=(xv, yv), workdir=workdir,
                  verbose=0)
    return model, {"design": "mlp", "wall_time_s": time.perf_counter() - start, "epochs": len(history["epoch"]),
                   "params": int(model.count_params()), "n_train": int(len(x)), "history": history}


def save_model(model, info: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "model.keras") as tmp:
        model.save(tmp)
    write_json(folder / "info.json", info)


def train_all(cfg: TrainStageConfig, prepared: Path, work: Path, out: Path, live: Path | None = None) -> list[dict]:
    """Train every (experiment, design) of ``cfg`` and the C_L MLPs (finished ones in ``work`` are kept).

    Raises:
        DataError: ``fields.nc`` or ``splits.json`` is missing or broken, or lacks an experiment of ``cfg``.
    """
    from shared.data import sha256sum
    from shared.training import config_hash, publish_runs

    fields = load_fields(prepared / "fields.nc")
    splits = load_splits(prepared / "splits.json", len(fields))
    check_experiments(cfg, splits)
    # finished models are only reused for the same config *and* the same data
    work = Path(work) / config_hash(cfg, sha256sum(prepared / "splits.json"), sha256sum(prepared / "fields.nc"))
    jobs = [(exp, design) for exp, design in cfg.runs()] + [(exp, "mlp") for exp in cfg.models]
    summary = []
    for i, (exp, design) in enumerate(jobs, 1):
        done = work / "done" / exp / design
        if (done / "info.json").exists():
            log.info("[%d/%d] %s / %s: finished in an earlier run", i, len(jobs), exp, design)
        else:
            split = splits[exp]
            log.info("[%d/%d] %s / %s: %d training and %d validation samples", i, len(jobs), exp, design,
                     len(split["train"]), len(split["val"]))
            progress = work / "progress" / f"{exp}_{design}"
            if design == "mlp":
                model, info = train_mlp(fields, split, cfg, progress)
            else:
                model, info = train_unet(fields, split, design, cfg, progress,
                                         live_dir=None if live is None else live / f"{exp}_{design}")
            info["experiment"] = exp
            save_model(model, info, done)
            shutil.rmtree(progress, ignore_errors=True)
            log.info("%s / %s: %.0f s, best val_loss %.4g", exp, design, info["wall_time_s"],
                     min(info["history"].get("val_loss") or [float("nan")]))
        summary.append({k: v for k, v in read_json(done / "info.json").items() if k != "history"})
    publish_runs(work, [Path(exp, design) for exp, design in jobs], out,
                 {"models": summary, "config": config_lib.to_dict(cfg)})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    parser.add_argument("--live", default=None, help="dvclive folder for the training curves (optional)")
    args = parser.parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    summary = train_all(cfg, Path(args.data), Path(args.work), Path(args.out),
                        Path(args.live) if args.live else None)
    log.info("trained %d models in %.0f s", len(summary), sum(s["wall_time_s"] for s in summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
