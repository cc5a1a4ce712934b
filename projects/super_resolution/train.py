"""Stage ``train``: every configured run (model × scale), L1 loss, Adam with cosine decay.

A run trains one model of ``train.models`` at one scale on random patches of the training
images (``patches.py``) and keeps the weights with the best validation PSNR (full-protocol
validation on the centre crops of the validation images). ``init_from`` starts a run from the
weights of an earlier run: every layer the two networks share by name and shape (×4 and ×3 from
×2 of the same model: all but the scale-specific tail; the deeper quality model from the fast
model of the same width: all, its extra residual blocks start as the identity). Runs are saved
as ``<out>/<run>/model.keras`` + ``run.json`` (config, history, wall time, parameters) and listed
in ``<out>/summary.json``.

Cross-fitting (``data.crossfit``): every run is trained a second time, with the same settings, on fold 2 of
the data (train and test swapped) and published under ``<out>/fold2/`` (its own ``summary.json``), so that
the evaluate stage can score every train and test photo with a model that never saw it.

Killed runs resume: finished runs are kept in ``--work``; the run in progress resumes from its
last finished epoch (``BackupAndRestore``), on the same stream of examples.

On several workers (``strategy``, see docs/scaling.md): the networks are built in the ``tf.distribute`` strategy's
scope, ``batch_size`` is per replica (a step trains on ``batch_size`` x replicas patches, the same number of steps),
and under ``multi_worker`` (``TF_CONFIG``) ``shared.training.fit`` runs the custom loop of ``shared.distributed``; the
chief writes ``--out``, every other worker trains in a work folder of its own and removes it at the end.

    python -m projects.super_resolution.train --params projects/super_resolution/params.yaml \
        --data data/super_resolution/prepared --work data/super_resolution/work/train \
        --out data/super_resolution/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from projects.super_resolution.dataset import load_manifest, load_split
from projects.super_resolution.model import ModelConfig, build_model, load_model, transfer_body
from projects.super_resolution.patches import Degradation, PatchSampler, check_low_contrast, validation_dataset
from shared import config as config_lib
from shared.config import ConfigError
from shared.distributed import PRECISIONS, STRATEGIES
from shared.io import DataError, atomic_dir, read_json, write_json
from shared.stage import run, stage_parser
from shared.training import config_hash, fit, publish_runs, set_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    model: str
    scale: int
    steps: int
    #: an earlier run whose weights start this run (every layer shared by name and shape)
    init_from: str | None = None
    #: per-run overrides of the stage's settings
    learning_rate: float | None = None
    lr_patch: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class TrainStageConfig:
    """The ``train`` section: the networks, the runs that train them and the shared training settings.

    Raises:
        ValueError: an unknown ``strategy`` or ``precision``; ``runs`` is empty or names a run ``fold2``; a run
            names an unknown model, has ``steps`` that are not a positive multiple of ``steps_per_epoch``, or an
            ``init_from`` that is not an earlier run; ``lr_patch`` < 8 or ``batch_size`` < 1; ``low_contrast_p``
            outside [0, 1] or ``low_contrast`` not a range in (0, 1].
        ConfigError: a run's ``scale`` is invalid for its model (not 2, 3 or 4).
    """

    models: dict[str, ModelConfig] = field(default_factory=lambda: {"fast": ModelConfig()})
    runs: dict[str, RunConfig] = field(default_factory=lambda: {"fast_x2": RunConfig("fast", 2, 1000)})
    lr_patch: int = 48
    batch_size: int = 16
    learning_rate: float = 1e-3
    #: cosine decay to this fraction of the learning rate
    final_lr_fraction: float = 0.02
    steps_per_epoch: int = 100
    loss: Literal["l1", "l2"] = "l1"
    #: texture-aware crops: draw this many candidate crops per example and keep the first whose HR
    #: luma std (in [0, 1]) reaches patch_min_std (1 candidate: uniform crops)
    patch_candidates: int = 1
    patch_min_std: float = 0.0
    #: this fraction of the crops has its contrast scaled by a factor drawn from low_contrast (8-bit ramps)
    low_contrast_p: float = 0.0
    low_contrast: tuple[float, float] = (0.05, 0.5)
    degradation: Degradation = field(default_factory=Degradation)
    #: validation: centre crops of at most this many HR pixels a side
    val_crop: int = 256
    seed: int = 0
    #: early stopping on validation PSNR (epochs without gain); null trains every step
    patience: int | None = None
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, a step trains on ``batch_size`` x replicas patches
    strategy: str = "auto"
    #: float32 | mixed_float16 | mixed_bfloat16 (Keras' dtype policy; mixed_float16 adds loss scaling)
    precision: str = "float32"
    #: XLA for the training step (GPU machines)
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if not self.runs:
            raise ValueError("runs must name at least one run")
        if "fold2" in self.runs:
            raise ValueError("'fold2' is reserved for the cross-fitting fold; rename that run")
        seen: dict[str, RunConfig] = {}
        for name, r in self.runs.items():
            if r.model not in self.models:
                raise ValueError(f"run {name!r}: unknown model {r.model!r}; models: {', '.join(self.models)}")
            config_lib.replace(self.models[r.model], scale=r.scale)   # validates the scale
            if r.steps < self.steps_per_epoch or r.steps % self.steps_per_epoch:
                raise ValueError(f"run {name!r}: steps ({r.steps}) must be a positive multiple of steps_per_epoch "
                                 f"({self.steps_per_epoch})")
            if r.init_from is not None and r.init_from not in seen:
                raise ValueError(f"run {name!r}: init_from {r.init_from!r} must be an earlier run")
            seen[name] = r
        if self.lr_patch < 8 or self.batch_size < 1:
            raise ValueError("lr_patch must be ≥ 8 and batch_size ≥ 1")
        check_low_contrast(self.low_contrast_p, self.low_contrast)

    def model_config(self, run_name: str) -> ModelConfig:
        r = self.runs[run_name]
        return config_lib.replace(self.models[r.model], scale=r.scale, seed=self.seed)


def psnr_metric(y_true, y_pred):
    """PSNR in dB of each image of a batch, in [0, 1] (Keras averages it over images)."""
    from keras import ops

    # float32 also under a mixed precision policy (the network then outputs float16)
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    return -10.0 * ops.log(ops.maximum(mse, 1e-12)) / ops.log(10.0)


def compile_model(model, cfg: TrainStageConfig, steps: int, learning_rate: float):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=cfg.final_lr_fraction)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mae" if cfg.loss == "l1" else "mse",
                  metrics=[psnr_metric], jit_compile=cfg.jit_compile)
    return model


def completed_epochs(workdir: Path) -> int:
    """Epochs a killed run had finished (see :func:`shared.training.completed_epochs`), 0 for a fresh run."""
    from shared.training import completed_epochs as backed_up

    return backed_up(workdir)


def train_run(cfg: TrainStageConfig, name: str, images: dict, workdir: Path, init: Path | None = None,
              callbacks: Sequence[Any] = (), strategy=None):
    """Train one run; returns ``(model, info)``.

    ``strategy``: from ``shared.distributed.make_strategy`` (made once per process, before other TensorFlow work);
    ``None`` makes the one of ``cfg.strategy``.

    Raises:
        ConfigError: ``init`` shares no layer (name and shape) with the run's network.
        DataError: no training image is large enough for an HR patch (see :class:`PatchSampler`).
        ValueError: ``patch_candidates`` < 1 or ``patch_min_std`` < 0; a bad ``low_contrast_p`` or ``low_contrast``.
    """
    import tensorflow as tf

    from shared.distributed import global_batch_size, make_strategy, set_precision

    if strategy is None:
        strategy = make_strategy(cfg.strategy)
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    r = cfg.runs[name]
    mcfg = cfg.model_config(name)
    set_seed(cfg.seed)
    set_precision(cfg.precision)
    with strategy.scope():
        model = build_model(mcfg, name=name)
        if init is not None:
            copied = transfer_body(load_model(init), model)
            if copied == 0:
                raise ConfigError(f"run {name!r}: init_from {r.init_from!r} shares no layer (name and shape) with "
                                  "it; start from a run of the same architecture and width")
            log.info("%s: %d layers start from %s", name, copied, init.parent.name)
        compile_model(model, cfg, r.steps, r.learning_rate or cfg.learning_rate)
        # the optimizer's variables belong to the strategy too (shared.training.fit would build them outside it)
        model.optimizer.build(model.trainable_variables)
    batch = r.batch_size or cfg.batch_size
    global_batch = global_batch_size(batch, strategy)
    sampler = PatchSampler(list(images["train"].values()), r.scale, r.lr_patch or cfg.lr_patch, seed=cfg.seed,
                           degradation=cfg.degradation, candidates=cfg.patch_candidates,
                           min_std=cfg.patch_min_std, low_contrast_p=cfg.low_contrast_p,
                           low_contrast=cfg.low_contrast)
    # Keras' fit resumes on the examples after the backed-up epochs; the multi-worker loop skips them itself
    start = 0 if multi_worker else completed_epochs(workdir) * cfg.steps_per_epoch * global_batch
    train_ds = sampler.dataset(global_batch, start, r.steps * global_batch)
    val_images = list(images["val"].values())
    # one validation image per step, a copy on each replica (the images differ in size)
    val_ds = validation_dataset(val_images, r.scale, cfg.val_crop, copies=strategy.num_replicas_in_sync) \
        if val_images else None
    monitor = "val_psnr_metric" if val_ds is not None else "psnr_metric"
    began = time.perf_counter()
    history = fit(model, train_ds, epochs=r.steps // cfg.steps_per_epoch, steps_per_epoch=cfg.steps_per_epoch,
                  validation=val_ds, validation_steps=len(val_images) if multi_worker and val_images else None,
                  workdir=workdir, monitor=monitor, mode="max", patience=cfg.patience, verbose=cfg.verbose,
                  callbacks=callbacks, strategy=strategy)
    info = {"run": name, "model": r.model, "scale": r.scale, "steps": r.steps, "init_from": r.init_from,
            "lr_patch": r.lr_patch or cfg.lr_patch, "batch_size": batch, "global_batch_size": global_batch,
            "config": config_lib.to_dict(mcfg), "parameters": int(model.count_params()),
            "wall_time_s": time.perf_counter() - began, "epochs": len(history["epoch"]),
            "training_images": sampler.n_images, "history": history}
    return model, info


def _train_fold(cfg: TrainStageConfig, images: dict, done_root: Path, progress_root: Path, strategy,
                label: str) -> list[dict[str, Any]]:
    """Train every run of ``cfg`` on one fold's ``images`` into ``done_root/<run>`` (finished runs are kept)."""
    summary = []
    for i, name in enumerate(cfg.runs, 1):
        done = done_root / name
        if (done / "run.json").exists():
            log.info("%s[%d/%d] %s: finished in an earlier run", label, i, len(cfg.runs), name)
        else:
            r = cfg.runs[name]
            log.info("%s[%d/%d] %s: %s ×%d, %d steps", label, i, len(cfg.runs), name, r.model, r.scale, r.steps)
            init = done_root / r.init_from / "model.keras" if r.init_from else None
            progress = progress_root / name
            model, info = train_run(cfg, name, images, progress, init, strategy=strategy)
            with atomic_dir(done) as tmp:
                model.save(tmp / "model.keras")
                write_json(tmp / "run.json", info)
            shutil.rmtree(progress, ignore_errors=True)
        info = read_json(done / "run.json")
        log.info("%s%s: best val PSNR %.2f dB, %.0f s", label, name,
                 max(info["history"].get("val_psnr_metric") or [0]), info["wall_time_s"])
        summary.append({k: v for k, v in info.items() if k != "history"})
    return summary


def train_all(cfg: TrainStageConfig, prepared: Path, work: Path, out: Path) -> list[dict[str, Any]]:
    """Train every run of ``cfg`` in order (finished runs in ``work`` are kept) and publish them to ``out``.

    With a cross-fitting fold in the prepared data (``data.crossfit``), every run is trained again on fold 2
    and published under ``out/fold2`` (runs and ``summary.json``). Returns fold 1's run summaries.

    Raises:
        DataError: the prepared folder is missing or broken, or has no training images (see also
            :func:`train_run`).
        ConfigError: a run's ``init_from`` shares no layer with it.
    """
    from shared.distributed import is_chief, make_strategy, worker_id

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    folds = [1, 2] if load_manifest(prepared).get("crossfit") else [1]
    images = {fold: {"train": load_split(prepared, "train", fold), "val": load_split(prepared, "val", fold)}
              for fold in folds}
    for fold in folds:
        if not images[fold]["train"]:
            raise DataError(f"{prepared} has no training images" + (" in fold 2" if fold == 2 else ""))
    work = Path(work) / config_hash(cfg)
    chief = is_chief()
    if not chief:  # a worker of a multi-worker run keeps its finished runs (init_from reads them) apart
        work = work.with_name(f"{work.name}-{worker_id()}")
    summary = _train_fold(cfg, images[1], work / "done", work / "progress", strategy, "")
    if 2 in folds:
        fold2 = _train_fold(cfg, images[2], work / "done" / "fold2", work / "progress" / "fold2", strategy,
                            "fold 2 ")
        if chief:
            write_json(work / "done" / "fold2" / "summary.json",
                       {"runs": fold2, "config": config_lib.to_dict(cfg), "fold": 2})
    if not chief:
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(work, ignore_errors=True)
        return summary
    publish_runs(work, [*cfg.runs, *(["fold2"] if 2 in folds else [])], out,
                 {"runs": summary, "config": config_lib.to_dict(cfg), "crossfit": 2 in folds})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = config_lib.load_section(args.params, "train", TrainStageConfig)
    summary = train_all(cfg, Path(args.data), Path(args.work), Path(args.out))
    log.info("trained %d runs in %.0f s", len(summary), sum(s["wall_time_s"] for s in summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
