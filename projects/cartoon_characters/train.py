"""Stage ``train``: the multi-label CNN variants, one factor at a time; the best on validation mAP is the model.

The variants: a base (``train.base``: head, loss, imbalance method), then each value of ``train.vary`` changed
alone (every other head, every other loss, every other imbalance method), so that each factor's effect is measured
against the same base: with the defaults 1 + 2 heads + 2 losses + 3 imbalance methods = 8 variants. Every variant
trains the same number of steps on the same frames with the same seed, through :func:`shared.training.fit`
(AdamW with cosine decay, random horizontal flips; the epoch with the best validation mAP is kept; a killed
run resumes in its variant, finished variants are not trained again; curves logged with dvclive).

The variants are a **screening** (every one trains ``epochs × steps_per_epoch`` steps): the one with the best
**validation** mAP (``metrics.mean_average_precision``: the mean over the characters of the average precision; a
character without positives in validation is left out, with a warning) is chosen, and with ``train.final`` set it
is trained again from scratch for the longer final budget (``final.epochs × final.steps_per_epoch`` steps, its own
cosine schedule), which becomes the model. This is the usual screen-then-train allocation (as in successive
halving, Jamieson & Talwalkar 2016): the whole budget on eight full trainings leaves every one of them
under-trained. The test and shifted frames are never read here.

On several workers (``strategy``, :mod:`shared.distributed`): each network is built and compiled in the strategy's
scope, ``batch_size`` is per replica (every step draws ``batch_size`` x replicas frames), and under ``multi_worker``
(cluster in ``TF_CONFIG``) ``shared.training.fit`` runs its custom loop, with the model's Keras ``train_step`` per
replica (the losses are Keras losses, scaled per replica; class weights are inside the loss, so nothing changes for
them). Every worker computes the same validation mAP, so all choose the same variant; only the chief writes (the
others keep a marker of each finished variant, so that a restarted cluster skips the same ones).

Writes ``<out>/``: ``model.keras`` (the final training of the chosen variant, or the screened one without
``train.final``), ``variants/<name>.keras`` (every screened variant, for the variants table of the evaluate stage),
``variants.json`` (``chosen``, ``final`` (null without ``train.final``) and per variant: head, loss, imbalance,
config, val mAP, steps, seconds, parameters), ``train.json`` (characters, frame size, chosen variant, config),
``history.json`` (per variant, and ``final``) and ``predictions/val.npz`` (``logits`` float32 (n, C), ``labels``
uint8 (n, C) and ``names`` of the model on validation, for the calibrate stage).

    python -m projects.cartoon_characters.train --params projects/cartoon_characters/params.yaml \
        --data data/cartoon_characters/prepared --work data/cartoon_characters/work/train \
        --out data/cartoon_characters/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.cartoon_characters.imbalance import METHODS, ImbalanceConfig
from projects.cartoon_characters.losses import LOSSES, LossConfig
from projects.cartoon_characters.metrics import mean_average_precision
from projects.cartoon_characters.model import HEADS, ModelConfig
from shared.config import load_section, replace, to_dict
from shared.distributed import DistributeConfig
from shared.io import DataError, atomic_dir, load_npz, read_json, save_npz, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

SPLITS = ("train", "val")


@dataclass(frozen=True)
class Variant:
    head: Literal["gap", "gmp", "attention"] = "attention"
    loss: Literal["bce", "focal", "asl"] = "asl"
    imbalance: Literal["none", "class_weights", "oversample", "undersample"] = "none"

    @property
    def name(self) -> str:
        return f"{self.head}-{self.loss}-{self.imbalance}"


@dataclass(frozen=True)
class Vary:
    """The values tried one at a time against the base (a value equal to the base's is skipped)."""

    head: tuple[Literal["gap", "gmp", "attention"], ...] = ("gap", "gmp")
    loss: tuple[Literal["bce", "focal", "asl"], ...] = ("bce", "focal")
    imbalance: tuple[Literal["none", "class_weights", "oversample", "undersample"], ...] = (
        "class_weights", "oversample", "undersample")


@dataclass(frozen=True)
class FinalConfig:
    """The final training of the chosen variant, from scratch: ``epochs × steps_per_epoch`` steps."""

    epochs: int = 5
    steps_per_epoch: int = 300

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.steps_per_epoch < 1:
            raise ValueError("final.epochs and final.steps_per_epoch must be ≥ 1")


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    imbalance: ImbalanceConfig = field(default_factory=ImbalanceConfig)
    base: Variant = field(default_factory=Variant)
    vary: Vary = field(default_factory=Vary)
    #: the screening budget of every variant
    epochs: int = 6
    steps_per_epoch: int = 60
    #: the final training of the chosen variant (null: the screened variant is the model)
    final: FinalConfig | None = None
    batch_size: int = 64
    learning_rate: float = 3.0e-3
    weight_decay: float = 1.0e-4
    #: random horizontal flips of the training frames (the labels do not change)
    flip: bool = True
    #: early stopping on the validation mAP (epochs without improvement); null: none
    patience: int | None = None
    seed: int = 0
    #: XLA compilation of the training step (Keras' jit_compile); off: on 2 CPU cores it cost ~12 s of compilation
    #: per variant and made steps slower (measured 0.29 against 0.15 s per batch of 64)
    jit_compile: bool = False
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, the global batch is ``batch_size`` x replicas
    strategy: str = "auto"
    #: float32 | mixed_float16 (GPU; loss scaling applied by Keras) | mixed_bfloat16
    precision: str = "float32"

    def __post_init__(self) -> None:
        DistributeConfig(strategy=self.strategy, precision=self.precision, jit_compile=self.jit_compile)
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, steps_per_epoch and batch_size ≥ 1 and learning_rate > 0 are required")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be ≥ 0, got {self.weight_decay}")

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def variants(cfg: TrainConfig) -> list[Variant]:
    """The base variant, then each value of ``cfg.vary`` changed alone (duplicates dropped, order kept)."""
    out = [cfg.base]
    for factor, values in (("head", cfg.vary.head), ("loss", cfg.vary.loss), ("imbalance", cfg.vary.imbalance)):
        for value in values:
            variant = replace(cfg.base, **{factor: value})
            if variant not in out:
                out.append(variant)
    assert all(v.head in HEADS and v.loss in LOSSES and v.imbalance in METHODS for v in out)
    return out


# --------------------------------------------------------------------------- data
def load_prepared(data: str | Path, split: str) -> dict[str, np.ndarray]:
    """One split of the prepared frames: ``images`` uint8 (n, S, S, 3), ``labels`` uint8 (n, C), ``names`` (n,).

    Raises:
        DataError: the file is missing or corrupt, or the arrays have the wrong shape, dtype or label values.
    """
    path = Path(data) / f"{split}.npz"
    if not path.exists():
        raise DataError(f"{path} not found; run the cartoon_characters_data stage first")
    arrays = load_npz(path, required=("images", "labels", "names"))
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2] or images.dtype != np.uint8:
        raise DataError(f"{path}: images must be uint8 (n, S, S, 3), got {images.dtype} {images.shape}")
    if labels.ndim != 2 or len(labels) != len(images) or len(arrays["names"]) != len(images):
        raise DataError(f"{path}: labels {labels.shape} and names {arrays['names'].shape} must have one row per "
                        f"image ({len(images)})")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise DataError(f"{path}: labels must be 0/1 (multi-hot), found {sorted(np.unique(labels))[:6]}")
    return {"images": images, "labels": labels.astype(np.uint8), "names": arrays["names"]}


def read_characters(data: str | Path, n_labels: int) -> list[str]:
    """The character names in column order from ``meta.json`` of the prepared data.

    Raises:
        DataError: ``meta.json`` is missing or corrupt, or its character count differs from the label columns.
    """
    meta = read_json(Path(data) / "meta.json")
    characters = list(meta.get("characters") or [])
    if len(characters) != n_labels:
        raise DataError(f"{Path(data) / 'meta.json'} names {len(characters)} characters, the labels have "
                        f"{n_labels} columns")
    return characters


def batches(images: np.ndarray, labels: np.ndarray, indices: np.ndarray, batch_size: int, flip: bool,
            seed: int, skip: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless training batches drawn from ``indices`` (shuffled each pass): uint8 frames, float32 labels.

    ``skip``: the first ``skip`` batches of the stream are drawn but not yielded (a resumed run goes on with the
    batches an uninterrupted run would see next).
    """
    rng = np.random.default_rng(seed)
    order = np.empty(0, dtype=int)
    drawn = 0
    while True:
        while len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(indices)])
        take, order = order[:batch_size], order[batch_size:]
        mirrored = rng.random(batch_size) < 0.5 if flip else None
        drawn += 1
        if drawn <= skip:
            continue
        x = images[take]
        if flip:
            x = np.where(mirrored[:, None, None, None], x[:, :, ::-1], x)
        yield x, labels[take].astype(np.float32)


def make_dataset(images, labels, indices, cfg: TrainConfig, seed: int, batch_size: int | None = None,
                 skip: int = 0):
    """``tf.data`` of :func:`batches` (``batch_size``: the global batch, default ``cfg.batch_size``)."""
    import tensorflow as tf

    size, n_classes = images.shape[1], labels.shape[1]
    batch_size = batch_size or cfg.batch_size
    signature = (tf.TensorSpec((batch_size, size, size, 3), tf.uint8),
                 tf.TensorSpec((batch_size, n_classes), tf.float32))
    return tf.data.Dataset.from_generator(
        lambda: batches(images, labels, indices, batch_size, cfg.flip, seed, skip),
        output_signature=signature).prefetch(2)


# --------------------------------------------------------------------------- one variant
def predict_logits(net, images: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """Logits (n, C) float32 of uint8 frames, batch by batch (plain calls: no tf.data pipeline per call)."""
    out = [np.asarray(net(images[i:i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, net.output_shape[-1]), np.float32)


def ValidationMAP(images: np.ndarray, labels: np.ndarray, characters: Sequence[str]):  # noqa: N802 (a class factory)
    """A Keras callback that adds ``val_map`` (validation mAP of the epoch's weights) and ``val_loss`` to the logs,
    for the choice of the best epoch and the dvclive curves; it must run before the callbacks that read them."""
    import keras

    class _ValidationMAP(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logits = predict_logits(self.model, images)
            if logs is not None:
                logs["val_map"] = mean_average_precision(labels, logits, characters)["map"]
                logs["val_loss"] = float(np.mean(np.asarray(self.model.loss(labels.astype(np.float32), logits))))

    return _ValidationMAP()



def compile_variant(variant: Variant, cfg: TrainConfig, train_labels: np.ndarray, n_classes: int, size: int):
    """Build and compile the network of ``variant`` (class weights enter the loss as positive weights)."""
    import keras

    from projects.cartoon_characters.imbalance import positive_weights
    from projects.cartoon_characters.losses import make_loss
    from projects.cartoon_characters.model import build_model

    model_cfg = replace(cfg.model, head=variant.head, n_classes=n_classes, size=size)
    pos_weight = positive_weights(train_labels, cfg.imbalance) if variant.imbalance == "class_weights" else None
    net = build_model(model_cfg)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(cfg.steps, 1), alpha=0.05)
    # no Keras metric: the multi-label PR-AUC metric doubled the step time on 2 CPU cores; validation mAP is
    # computed once an epoch by ValidationMAP instead
    net.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
                loss=make_loss(variant.loss, cfg.loss, None if pos_weight is None else pos_weight.tolist()),
                jit_compile=cfg.jit_compile)
    return net, model_cfg, pos_weight


def done_record(workdir: Path) -> Path:
    """The ``record.json`` that says a variant is finished: the parked model's on the chief, a worker's own marker
    elsewhere (only the chief writes models)."""
    from shared.distributed import is_chief, worker_id

    return workdir / ("done" if is_chief() else f"done-{worker_id()}") / "record.json"


def train_variant(variant: Variant, cfg: TrainConfig, train_split: dict, val_split: dict, characters: list[str],
                  workdir: Path, callbacks: Sequence = (), strategy=None) -> dict:
    """Train one variant in ``workdir`` and park it in ``workdir/done``: ``model.keras``, ``val_logits.npy``,
    ``record.json``. Returns the record (config, val mAP, steps, seconds, parameters, history).

    ``strategy``: from ``shared.distributed.make_strategy`` (default: the current one). A worker that is not the
    chief writes only its marker (:func:`done_record`).
    """
    import keras
    import tensorflow as tf

    from projects.cartoon_characters.imbalance import resample
    from shared.distributed import global_batch_size, is_chief, set_precision
    from shared.training import completed_epochs, fit, set_seed

    strategy = strategy or tf.distribute.get_strategy()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    set_precision(cfg.precision)
    set_seed(cfg.seed, deterministic=False)
    with strategy.scope():
        net, model_cfg, pos_weight = compile_variant(variant, cfg, train_split["labels"], len(characters),
                                                     train_split["images"].shape[1])
        net.optimizer.build(net.trainable_variables)  # in the scope: fit would build it outside
    indices = resample(train_split["labels"], variant.imbalance, cfg.imbalance, cfg.seed)
    batch = global_batch_size(cfg.batch_size, strategy)
    log.info("%s: %d parameters; %d training frames (%d after %s), %d steps of %d", variant.name, net.count_params(),
             len(train_split["labels"]), len(indices), variant.imbalance, cfg.steps, batch)
    # a resumed run (shared.training.fit) goes on with the batches an uninterrupted run would see next
    skip = 0 if multi_worker else completed_epochs(workdir / "run") * cfg.steps_per_epoch
    start = time.perf_counter()
    history = fit(net, make_dataset(train_split["images"], train_split["labels"], indices, cfg, cfg.seed, batch,
                                    skip),
                  epochs=cfg.epochs, steps_per_epoch=cfg.steps_per_epoch, workdir=workdir / "run",
                  monitor="val_map", mode="max", patience=cfg.patience, verbose=cfg.verbose,
                  callbacks=[ValidationMAP(val_split["images"], val_split["labels"], characters), *callbacks],
                  strategy=strategy)
    seconds = time.perf_counter() - start
    logits = predict_logits(net, val_split["images"])
    val_map = mean_average_precision(val_split["labels"], logits, characters)["map"]
    log.info("%s: validation mAP %.4f (%.0f s of training, %.1f s a step)", variant.name, val_map, seconds,
             seconds / cfg.steps)
    record = {"name": variant.name, "head": variant.head, "loss": variant.loss, "imbalance": variant.imbalance,
              "config": {"model": to_dict(model_cfg), "loss": to_dict(cfg.loss), "imbalance": to_dict(cfg.imbalance),
                         "pos_weight": None if pos_weight is None else pos_weight.tolist()},
              "val_map": val_map, "steps": cfg.steps, "epochs_run": len(history.get("epoch", [])),
              "seconds": seconds, "params": int(net.count_params()), "train_frames": int(len(indices)),
              "history": history}
    if not is_chief():  # a multi-worker run: the chief writes the model; the loop removed this worker's state
        write_json(done_record(workdir), record)
        keras.backend.clear_session()
        return record
    with atomic_dir(workdir / "done") as tmp:
        net.save(tmp / "model.keras")
        np.save(tmp / "val_logits.npy", logits)
        write_json(tmp / "record.json", record)
    shutil.rmtree(workdir / "run", ignore_errors=True)
    keras.backend.clear_session()
    return record


# --------------------------------------------------------------------------- the stage
def train(cfg: TrainConfig, data: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train every variant (skipping those already finished in ``work``), choose on validation mAP, publish ``out``.

    ``callbacks``: extra Keras callbacks for every variant (tests interrupt a run with one).

    Returns:
        the content of ``variants.json``.

    Raises:
        DataError: the prepared splits are missing or malformed, or train and val disagree in frame size or labels.
        ConfigError: ``strategy: multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    from shared.distributed import is_chief, make_strategy, worker_id
    from shared.training import config_hash

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    splits = {s: load_prepared(data, s) for s in SPLITS}
    tr, va = splits["train"], splits["val"]
    if tr["images"].shape[1:] != va["images"].shape[1:] or tr["labels"].shape[1] != va["labels"].shape[1]:
        raise DataError(f"train frames {tr['images'].shape[1:]} × {tr['labels'].shape[1]} labels and val frames "
                        f"{va['images'].shape[1:]} × {va['labels'].shape[1]} labels differ")
    if not len(tr["images"]) or not len(va["images"]):
        raise DataError(f"{data}: the train and val splits need frames (train {len(tr['images'])}, val "
                        f"{len(va['images'])})")
    characters = read_characters(data, tr["labels"].shape[1])
    fingerprint = [characters, [list(s["images"].shape) for s in splits.values()],
                   [int(s["labels"].sum()) for s in splits.values()], int(tr["images"][:64].sum())]
    root = Path(work) / config_hash(cfg, fingerprint)
    records = []
    for variant in variants(cfg):
        workdir = root / variant.name
        if done_record(workdir).exists():
            record = read_json(done_record(workdir))
            log.info("%s: already trained in %s (validation mAP %.4f)", variant.name, workdir, record["val_map"])
        else:
            record = train_variant(variant, cfg, tr, va, characters, workdir, callbacks, strategy)
        records.append(record)
    scored = [r for r in records if r["val_map"] == r["val_map"]]
    if not scored:
        raise DataError("no variant has a validation mAP (no character has a positive in val)")
    chosen = max(scored, key=lambda r: r["val_map"])["name"]  # the first of equals: the base wins ties
    log.info("chosen on validation mAP: %s (%.4f)", chosen, max(r["val_map"] for r in scored))
    final, model_dir = None, root / chosen
    if cfg.final is not None:
        variant = next(v for v in variants(cfg) if v.name == chosen)
        final_cfg = replace(cfg, epochs=cfg.final.epochs, steps_per_epoch=cfg.final.steps_per_epoch)
        model_dir = root / "final"
        if done_record(model_dir).exists():
            final = read_json(done_record(model_dir))
            log.info("final %s: already trained in %s", chosen, model_dir)
        else:
            log.info("final training of %s: %d steps", chosen, final_cfg.steps)
            final = train_variant(variant, final_cfg, tr, va, characters, model_dir, callbacks, strategy)
    table = {"chosen": chosen, "rule": "the variant with the best validation mAP",
             "final": None if final is None else {k: v for k, v in final.items() if k != "history"},
             "variants": [{**{k: v for k, v in r.items() if k != "history"}, "chosen": r["name"] == chosen,
                           "model": f"variants/{r['name']}.keras"} for r in records]}
    if not is_chief():
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        for marker in root.glob(f"*/done-{worker_id()}"):
            shutil.rmtree(marker, ignore_errors=True)
        return table
    with atomic_dir(out) as tmp:
        (tmp / "variants").mkdir()
        (tmp / "predictions").mkdir()
        for record in records:
            shutil.copy2(root / record["name"] / "done" / "model.keras", tmp / "variants" / f"{record['name']}.keras")
        shutil.copy2(model_dir / "done" / "model.keras", tmp / "model.keras")
        logits = np.load(model_dir / "done" / "val_logits.npy")
        save_npz(tmp / "predictions" / "val.npz", logits=logits, labels=va["labels"], names=va["names"])
        write_json(tmp / "variants.json", table)
        histories = {r["name"]: r["history"] for r in records}
        write_json(tmp / "history.json", histories if final is None else {**histories, "final": final["history"]})
        write_json(tmp / "train.json", {"characters": characters, "size": int(tr["images"].shape[1]),
                                        "chosen": chosen, "config": to_dict(cfg),
                                        "frames": {s: int(len(v["images"])) for s, v in splits.items()},
                                        "seconds": float(sum(r["seconds"] for r in records)
                                                         + (final["seconds"] if final else 0.0))})
    shutil.rmtree(root, ignore_errors=True)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    train(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
