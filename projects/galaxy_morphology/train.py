"""Stage ``train``: the CNN on the prepared train split, then temperature scaling on val.

AdamW with a linear warm-up and a cosine decay, label smoothing, class weights for imbalance
and physically motivated augmentation (:mod:`projects.galaxy_morphology.augment`). The
epoch with the best validation accuracy is kept. Training goes through
``shared.training.fit``, so a killed run resumes at its last finished epoch (state in
``--work``). The temperature of the softmax is then fitted on the validation logits.

Writes ``<out>/model.keras``, ``calibration.json`` (temperature, val NLL and ECE before and
after), ``history.json`` and ``train.json`` (config, classes, preprocessing, wall time).

    python -m projects.galaxy_morphology.train --params projects/galaxy_morphology/params.yaml \
        --data data/galaxy_morphology/prepared --work data/galaxy_morphology/work/train \
        --out data/galaxy_morphology/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.galaxy_morphology.augment import AugmentConfig, eval_arrays, mirror_permutation, train_dataset
from projects.galaxy_morphology.calibration import expected_calibration_error, fit_temperature, nll
from projects.galaxy_morphology.dataset import load_split, read_manifest
from projects.galaxy_morphology.model import ModelConfig, build_model, predict_logits, softmax
from shared.config import load_section, to_dict
from shared.distributed import STRATEGIES
from shared.io import atomic_dir, write_json
from shared.stage import run, stage_parser
from shared.training import config_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section: network, augmentation and optimisation.

    Raises:
        ValueError: ``epochs`` < 1, ``batch_size`` < 1, ``learning_rate`` ≤ 0 or ``warmup_epochs`` < 0;
            ``label_smoothing`` outside [0, 1) or ``weight_decay`` < 0.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    #: "balanced": class weights inversely proportional to the class frequencies
    class_weighting: Literal["none", "balanced"] = "balanced"
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, the global batch is ``batch_size`` x replicas
    strategy: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0 or self.warmup_epochs < 0:
            raise ValueError("epochs ≥ 1, batch_size ≥ 1, learning_rate > 0 and warmup_epochs ≥ 0 are required")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if not 0 <= self.label_smoothing < 1 or self.weight_decay < 0:
            raise ValueError("0 ≤ label_smoothing < 1 and weight_decay ≥ 0 are required")


def class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {k: float(w) for k, w in enumerate(weights)}


def data_fingerprint(prepared: Path) -> str:
    """sha256 of the prepared train and val files (what a resumed run must have trained on)."""
    from shared.data import sha256sum

    return "-".join(sha256sum(Path(prepared) / f"{split}.npz")[:16] for split in ("train", "val"))


def compile_model(model, cfg: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    total = cfg.epochs * steps_per_epoch
    warmup = min(int(cfg.warmup_epochs * steps_per_epoch), total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10 if warmup else cfg.learning_rate,
        decay_steps=max(total - warmup, 1), alpha=0.01, warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])


def train(cfg: TrainConfig, prepared: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train, calibrate and save; ``callbacks``: extra Keras callbacks (tests interrupt a run with one).

    Raises:
        DataError: the prepared manifest, the train or the val split is missing or broken (see
            :func:`load_split`).
        ValueError: the manifest's chirality pairs are not pairs of distinct known classes, or a class is in two.
    """
    import keras
    import tensorflow as tf

    from shared.distributed import global_batch_size, is_chief, make_strategy, worker_id
    from shared.training import fit, set_seed

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    manifest = read_manifest(prepared)
    classes, pre = manifest["classes"], manifest["preprocess"]
    stretch, soft = pre["stretch"], pre["asinh_softening"]
    x_train, y_train, _ = load_split(prepared, "train")
    x_val, y_val, _ = load_split(prepared, "val")
    n_classes = len(classes)
    set_seed(cfg.seed, deterministic=False)
    batch = global_batch_size(cfg.batch_size, strategy)
    steps = max(1, len(x_train) // batch)
    pairs = manifest.get("chirality_pairs", [])
    mirror = mirror_permutation(classes, pairs)
    if pairs:
        log.info("chirality pairs %s: a mirrored training image takes the paired label", pairs)
    train_ds = train_dataset(x_train, y_train, n_classes, batch_size=batch, augment=cfg.augment,
                             stretch=stretch, softening=soft, seed=cfg.seed, mirror=mirror)
    val_x = eval_arrays(x_val, stretch, soft)
    val_ds = (val_x, np.eye(n_classes, dtype=np.float32)[y_val])
    with strategy.scope():
        model = build_model(cfg.model, x_train.shape[1:], n_classes)
        compile_model(model, cfg, steps)
    log.info("%s: %d parameters; %d training images, %d steps per epoch", model.name, model.count_params(),
             len(x_train), steps)
    # the resumable state belongs to this config *and* these data: a rerun on new data starts afresh
    workdir = Path(work) / config_hash(cfg, data_fingerprint(prepared))
    weights = class_weights(y_train, n_classes) if cfg.class_weighting == "balanced" else None
    validation_steps = None
    if multi_worker:  # the custom loop: weights per example in the dataset, validation as global batches
        if weights is not None:
            per_class = tf.constant([weights[k] for k in range(n_classes)], tf.float32)
            train_ds = train_ds.map(lambda x, y: (x, y, tf.linalg.matvec(y, per_class)))
            weights = None
        validation_steps = max(1, len(val_x) // batch)
        val_ds = tf.data.Dataset.from_tensor_slices(val_ds).batch(batch, drop_remainder=True)
    start = time.perf_counter()
    history = fit(model, train_ds, epochs=cfg.epochs, steps_per_epoch=steps, validation=val_ds, workdir=workdir,
                  validation_steps=validation_steps, monitor="val_accuracy", mode="max", verbose=cfg.verbose,
                  class_weight=weights, callbacks=callbacks, strategy=strategy)
    wall = time.perf_counter() - start
    logits = predict_logits(model, val_x)
    temperature = fit_temperature(logits, y_val)
    calibration = {"temperature": temperature,
                   "val_nll": nll(logits, y_val), "val_nll_scaled": nll(logits, y_val, temperature),
                   "val_ece": expected_calibration_error(softmax(logits), y_val),
                   "val_ece_scaled": expected_calibration_error(softmax(logits, temperature), y_val),
                   "val_accuracy": float(np.mean(logits.argmax(1) == y_val))}
    log.info("val accuracy %.4f; temperature %.3f: ECE %.4f → %.4f", calibration["val_accuracy"], temperature,
             calibration["val_ece"], calibration["val_ece_scaled"])
    if not is_chief():  # a multi-worker run: the chief writes the model
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(workdir, ignore_errors=True)
        return calibration
    with atomic_dir(out) as tmp:
        model.save(tmp / "model.keras")
        write_json(tmp / "calibration.json", calibration)
        write_json(tmp / "history.json", history)
        write_json(tmp / "train.json", {"config": to_dict(cfg), "classes": classes, "bands": manifest["bands"],
                                        "chirality_pairs": pairs,
                                        "preprocess": pre, "parameters": int(model.count_params()),
                                        "train_images": len(x_train), "wall_time_s": wall,
                                        "epochs_run": len(history.get("epoch", []))})
    shutil.rmtree(workdir, ignore_errors=True)
    keras.backend.clear_session()
    return calibration


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    train(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))

