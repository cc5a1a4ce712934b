"""Stage ``train``: the U-Net surrogates (their designs) per experiment, and the C_L MLP baseline.

For every ``experiment → designs`` entry of ``train.models`` a U-Net is trained on that
experiment's train split (``splits.json`` of the data stage) with the masked loss, validated on
its val split (best epoch restored), and saved as ``<out>/<experiment>/<design>/model.keras``
with ``info.json`` (history, wall time, parameters). The MLP that predicts C_L from
the Kulfan shape parameters and α is trained per experiment on the same split (``<out>/<experiment>/mlp/``).

The ``pod_residual`` design corrects POD-RBF's field. Its POD-RBF (``train.pod``) is fitted on the training
split and saved beside the network (``pod.npz``); the network's training inputs are out-of-fold POD-RBF fields
(``baselines.out_of_fold``: each case from a fit without its fold), so that it learns the error POD makes on
unseen shapes. It trains without the mirror augmentation: a mirrored case's POD-RBF field is not the mirror
of POD-RBF's field.

Killed runs resume: finished models are kept in ``--work``; the model in training resumes at
its last finished epoch (``shared.training.fit``) with the batches it had not seen yet, so a resumed run ends
with the weights of an uninterrupted one.

``strategy`` (``shared.distributed``) spreads every training over the local GPUs or the workers of ``TF_CONFIG``;
``batch_size`` is per replica. Under ``multi_worker`` the chief writes ``--out``; every other worker keeps its
resumable state in ``--work/<hash>-worker-<i>`` (beside the chief's, which the chief removes when it publishes)
and removes it at the end.

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

from projects.airfoil_flow.baselines import POD_FILE, PODRegression, out_of_fold, parameters
from projects.airfoil_flow.dataset import FieldData, load_fields, load_splits
from projects.airfoil_flow.model import DESIGNS, MLPConfig, UNetConfig
from shared import config as config_lib
from shared.distributed import PRECISIONS, STRATEGIES
from shared.io import DataError, atomic_path, read_json, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


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
class PODConfig:
    """The POD-RBF that the ``pod_residual`` design corrects.

    Raises:
        ValueError: ``modes`` < 1, ``smoothing`` < 0 or ``folds`` < 2.
    """

    modes: int = 32
    smoothing: float = 1e-4
    #: cross-fitting folds for the POD-RBF fields of the training cases
    folds: int = 5

    def __post_init__(self) -> None:
        if self.modes < 1 or self.smoothing < 0 or self.folds < 2:
            raise ValueError(f"modes ≥ 1, smoothing ≥ 0 and folds ≥ 2 required, got {self.modes}, "
                             f"{self.smoothing}, {self.folds}")


@dataclass(frozen=True)
class TrainStageConfig:
    """The ``train`` section: which designs are trained on which experiment, and how.

    Raises:
        ValueError: a design that is not ``geometry``, ``plain`` or ``pod_residual``, or ``models`` is empty.
    """

    #: experiment (a split of splits.json) → the U-Net designs trained on it
    models: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "random": ("geometry", "pod_residual"), "alpha_extrapolation": DESIGNS,
        "shape_extrapolation": ("geometry",)})
    unet: UNetConfig = field(default_factory=UNetConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    mlp_fit: MLPFitConfig = field(default_factory=MLPFitConfig)
    pod: PODConfig = field(default_factory=PODConfig)
    seed: int = 0
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``fit.batch_size`` and ``mlp_fit.batch_size`` are per replica (global batch = batch_size x replicas)
    strategy: str = "auto"
    #: float32 | mixed_float16 (GPU; loss scaling applied) | mixed_bfloat16
    precision: str = "float32"
    #: compile the training steps with XLA
    jit_compile: bool = False
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2

    def __post_init__(self) -> None:
        for exp, designs in self.models.items():
            bad = [d for d in designs if d not in DESIGNS]
            if bad:
                raise ValueError(f"models.{exp}: unknown design(s) {bad}; designs: {', '.join(DESIGNS)}")
        if not self.models:
            raise ValueError("models must name at least one experiment")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")

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


def datasets(fields: FieldData, split: dict[str, np.ndarray], fit: FitConfig, seed: int, batch: int,
             pod_fields: tuple[np.ndarray, np.ndarray] | None = None):
    """``(train, val, steps)``: repeating shuffled training batches of ``batch`` (the GLOBAL batch), validation
    batches of ``batch``, and the steps of one epoch (``ceil(n_train / batch)``).

    ``pod_fields`` (``pod_residual``): POD-RBF's ``(n, H, W, 3)`` fields of the training and the validation cases,
    appended to the inputs; then there is no mirror augmentation."""
    from shared.data import make_dataset

    y0, y1 = fields.grid.y_range
    augment = None
    if fit.flip_augment and pod_fields is None:
        if abs(y0 + y1) > 1e-9:
            log.warning("flip_augment needs a grid box symmetric in y (got %s); training without it", (y0, y1))
        else:
            augment = flip_example
    tr, va = split["train"], split["val"]
    x_tr, x_va = fields.inputs(tr), fields.inputs(va)
    if pod_fields is not None:
        x_tr, x_va = (np.concatenate([x, p], axis=-1) for x, p in zip((x_tr, x_va), pod_fields))
    train = make_dataset(x_tr, fields.targets(tr), batch_size=batch, shuffle=True, seed=seed, augment=augment,
                         repeat=True)
    val = make_dataset(x_va, fields.targets(va), batch_size=batch)
    return train, val, math.ceil(len(tr) / batch)


def _resume_position(train, workdir: Path, steps: int, strategy):
    """``train`` without the batches a killed run had consumed (``shared.training.fit`` resumes at the last
    finished epoch; the multi-worker loop skips them itself)."""
    from shared.training import completed_epochs

    if _multi_worker(strategy):
        return train
    return train.skip(completed_epochs(workdir) * steps)


def _multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


# --------------------------------------------------------------------------- training
def compile_unet(model, fit: FitConfig, steps: int, jit_compile: bool = False):
    import keras

    from projects.airfoil_flow.model import MaskedMSE, masked_rmse

    schedule = keras.optimizers.schedules.CosineDecay(fit.learning_rate, decay_steps=max(1, steps),
                                                      alpha=fit.final_lr_fraction)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=fit.clipnorm),
                  loss=MaskedMSE(fit.loss_weights),
                  metrics=[masked_rmse(0, "rmse_u"), masked_rmse(1, "rmse_v"), masked_rmse(2, "rmse_cp")],
                  jit_compile=jit_compile)
    return model


def train_unet(fields: FieldData, split: dict[str, np.ndarray], design: str, cfg: TrainStageConfig,
               workdir: Path, live_dir: Path | None = None, strategy=None):
    """Train one U-Net in ``strategy`` (``shared.distributed.make_strategy``; ``None``: one device);
    returns ``(model, info, pod)``: ``pod`` is the POD-RBF fit of the training split that a ``pod_residual``
    network corrects (``None`` for the other designs)."""
    from projects.airfoil_flow.model import build_unet
    from shared.distributed import global_batch_size, make_strategy, set_precision
    from shared.training import fit, set_seed

    strategy = strategy or make_strategy("default")
    set_seed(cfg.seed)
    batch = global_batch_size(cfg.fit.batch_size, strategy)
    pod, pod_fields = None, None
    if design == "pod_residual":
        start = time.perf_counter()
        pc = cfg.pod
        pod = PODRegression(pc.modes, pc.smoothing).fit(fields, split["train"])
        pod_fields = (out_of_fold(fields, split["train"], pc.modes, pc.smoothing, pc.folds, cfg.seed),
                      pod.predict(fields, split["val"]))
        log.info("POD-RBF (%d modes, %.4f of the energy): %d-fold out-of-fold fields of the training cases in %.0f s",
                 pc.modes, pod.energy_, pc.folds, time.perf_counter() - start)
    train, val, steps = datasets(fields, split, cfg.fit, cfg.seed, batch, pod_fields)
    train = _resume_position(train, workdir, steps, strategy)
    unet_cfg = config_lib.replace(cfg.unet, design=design, seed=cfg.seed)
    set_precision(cfg.precision)
    with strategy.scope():
        model = compile_unet(build_unet(unet_cfg, (fields.grid.ny, fields.grid.nx)), cfg.fit, cfg.fit.epochs * steps,
                             jit_compile=cfg.jit_compile)
        model.optimizer.build(model.trainable_variables)  # in the scope: fit would build it outside
    start = time.perf_counter()
    history = fit(model, train, epochs=cfg.fit.epochs, steps_per_epoch=steps, validation=val, workdir=workdir,
                  validation_steps=math.ceil(len(split["val"]) / batch) if _multi_worker(strategy) else None,
                  monitor="val_loss", patience=cfg.fit.patience, live_dir=live_dir, verbose=cfg.verbose,
                  strategy=strategy)
    info = {"design": design, "wall_time_s": time.perf_counter() - start, "epochs": len(history["epoch"]),
            "params": int(model.count_params()), "n_train": int(len(split["train"])),
            "n_val": int(len(split["val"])), "history": history, "unet": config_lib.to_dict(unet_cfg)}
    if pod is not None:
        info["pod"] = {**config_lib.to_dict(cfg.pod), "energy": pod.energy_}
    return model, info, pod


def train_mlp(fields: FieldData, split: dict[str, np.ndarray], cfg: TrainStageConfig, workdir: Path, strategy=None):
    """The C_L baseline from the Kulfan parameters and α, trained in ``strategy`` (``None``: one device);
    returns ``(model, info)``.

    Raises:
        DataError: a training sample has non-finite shape parameters.
    """
    import keras

    from projects.airfoil_flow.model import build_cl_mlp
    from shared.data import make_dataset
    from shared.distributed import global_batch_size, make_strategy, set_precision
    from shared.training import fit, set_seed

    strategy = strategy or make_strategy("default")
    set_seed(cfg.seed)
    x = parameters(fields, split["train"]).astype("float32")
    y = fields.meta["cl"][split["train"]].astype("float32")[:, None]
    xv = parameters(fields, split["val"]).astype("float32")
    yv = fields.meta["cl"][split["val"]].astype("float32")[:, None]
    if not np.all(np.isfinite(x)):
        raise DataError("the C_L MLP needs finite shape parameters for every training sample")
    mf = cfg.mlp_fit
    batch = global_batch_size(mf.batch_size, strategy)
    set_precision(cfg.precision)
    with strategy.scope():
        model = build_cl_mlp(cfg.mlp, x.mean(axis=0), x.std(axis=0) + 1e-6)
        schedule = keras.optimizers.schedules.CosineDecay(mf.learning_rate, mf.epochs * mf.steps_per_epoch,
                                                          alpha=0.01)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse", metrics=["mae"],
                      jit_compile=cfg.jit_compile)
        model.optimizer.build(model.trainable_variables)  # in the scope: fit would build it outside
    train = make_dataset(x, y, batch_size=batch, shuffle=True, repeat=True, seed=cfg.seed)
    train = _resume_position(train, workdir, mf.steps_per_epoch, strategy)
    validation, validation_steps = (xv, yv), None
    if _multi_worker(strategy):  # the custom loop takes validation as a dataset of global batches
        validation, validation_steps = make_dataset(xv, yv, batch_size=batch), math.ceil(len(xv) / batch)
    start = time.perf_counter()
    history = fit(model, train, epochs=mf.epochs, steps_per_epoch=mf.steps_per_epoch, validation=validation,
                  validation_steps=validation_steps, workdir=workdir, verbose=0, strategy=strategy)
    return model, {"design": "mlp", "wall_time_s": time.perf_counter() - start, "epochs": len(history["epoch"]),
                   "params": int(model.count_params()), "n_train": int(len(x)), "history": history}


def save_model(model, info: dict[str, Any], folder: Path, pod: PODRegression | None = None) -> None:
    """``model.keras``, ``pod.npz`` (the POD-RBF a ``pod_residual`` network corrects) and ``info.json``, the
    last written last: it marks the run as finished."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "model.keras") as tmp:
        model.save(tmp)
    if pod is not None:
        pod.save(folder / POD_FILE)
    write_json(folder / "info.json", info)


def train_all(cfg: TrainStageConfig, prepared: Path, work: Path, out: Path, live: Path | None = None) -> list[dict]:
    """Train every (experiment, design) of ``cfg`` and the C_L MLPs (finished ones in ``work`` are kept).

    Under ``multi_worker`` only the chief publishes ``out``; another worker keeps its state in
    ``work/<hash>-worker-<i>`` (its own finished-run markers, so that all workers skip the same runs after a kill)
    and removes it at the end.

    Raises:
        DataError: ``fields.nc`` or ``splits.json`` is missing or broken, or lacks an experiment of ``cfg``.
        ConfigError: ``strategy: multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    from shared.data import sha256sum
    from shared.distributed import agree_min, is_chief, make_strategy, worker_id
    from shared.training import config_hash, publish_runs

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    chief = is_chief()
    fields = load_fields(prepared / "fields.nc")
    splits = load_splits(prepared / "splits.json", len(fields))
    check_experiments(cfg, splits)
    # finished models are only reused for the same config *and* the same data
    work = Path(work) / config_hash(cfg, sha256sum(prepared / "splits.json"), sha256sum(prepared / "fields.nc"))
    # a non-chief worker's state lives beside the chief's, not inside it: the chief removes its folder when it
    # publishes, possibly while the worker still writes its last marker
    own = work if chief else work.with_name(f"{work.name}-{worker_id()}")
    jobs = [(exp, design) for exp, design in cfg.runs()] + [(exp, "mlp") for exp in cfg.models]
    summary = []
    for i, (exp, design) in enumerate(jobs, 1):
        done = own / "done" / exp / design
        # every worker must train the same runs: a run counts as finished when all of them finished it
        if agree_min(strategy, int((done / "info.json").exists())):
            log.info("[%d/%d] %s / %s: finished in an earlier run", i, len(jobs), exp, design)
        else:
            split = splits[exp]
            log.info("[%d/%d] %s / %s: %d training and %d validation samples", i, len(jobs), exp, design,
                     len(split["train"]), len(split["val"]))
            progress = own / "progress" / f"{exp}_{design}"
            pod = None
            if design == "mlp":
                model, info = train_mlp(fields, split, cfg, progress, strategy=strategy)
            else:
                model, info, pod = train_unet(fields, split, design, cfg, progress, strategy=strategy,
                                              live_dir=None if live is None else live / f"{exp}_{design}")
            info["experiment"] = exp
            if chief:
                save_model(model, info, done, pod)
            else:  # a marker only: the chief saves the model
                write_json(done / "info.json", info)
            shutil.rmtree(progress, ignore_errors=True)
            log.info("%s / %s: %.0f s, best val_loss %.4g", exp, design, info["wall_time_s"],
                     min(info["history"].get("val_loss") or [float("nan")]))
        summary.append({k: v for k, v in read_json(done / "info.json").items() if k != "history"})
    if not chief:
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(own, ignore_errors=True)
        return summary
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
