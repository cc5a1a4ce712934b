"""Stage ``train``: the vocabulary, then each decoder (Transformer, attention LSTM) with its CNN encoder.

The vocabulary (a ``keras.layers.TextVectorization``) is fitted on the **training** captions only: words seen at
least ``min_count`` times, the rest ``[UNK]``; ``[start]``/``[end]`` frame each caption. Each decoder in
``decoders`` is trained from scratch with teacher forcing on every training image with all its reference
captions (the image is encoded once per step for its captions), shuffled each epoch: masked cross-entropy on the
next token (padding ignored), plus the LSTM's doubly stochastic attention regulariser; AdamW with a linear warm-up
and cosine decay, gradient clipping. The epoch with the lowest validation loss (all val captions) is kept.
Training goes through ``shared.training.fit`` (dvclive curves, resume after a kill at the last finished epoch; a
finished decoder is parked in ``--work`` and not retrained).

On several workers (``strategy``, :mod:`shared.distributed`): the model is built and compiled in the strategy's
scope, ``batch_size`` is per replica (the pipeline yields ``batch_size`` x replicas images per step), and under
``multi_worker`` (cluster in ``TF_CONFIG``) ``shared.training.fit`` runs its custom loop, where the model's own
``train_step`` runs per replica: the masked cross-entropy and the LSTM's attention penalty are Keras losses, scaled
per replica by Keras so that the summed gradients are those of the global batch. Only the chief writes the model;
another worker parks only a marker of each finished decoder (so a restarted cluster skips the same decoders).

Writes ``<out>/<decoder>/`` (``model.keras``, ``vocabulary.json``, ``captioner.json``: what
``decoding.load_captioner`` reads; ``history.json``; ``train.json``: config, parameters, steps, wall time) and
``<out>/summary.json``.

    python -m projects.image_captioning.train --params projects/image_captioning/params.yaml \
        --data data/image_captioning/prepared --work data/image_captioning/work/train \
        --out data/image_captioning/model
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.image_captioning.dataset import load_prepared
from projects.image_captioning.decoding import END, Captioner, encode_captions, fit_vocabulary, make_vectorizer
from projects.image_captioning.model import DECODERS, ModelConfig, build_model
from shared.config import load_section, to_dict
from shared.distributed import DistributeConfig
from shared.io import DataError, read_json, write_json
from shared.stage import run, stage_parser
from shared.training import config_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section.

    Raises:
        ValueError: an unknown decoder or none, ``epochs``/``batch_size``/``min_count``/``seq_len`` < 1,
            ``learning_rate`` ≤ 0, ``warmup_epochs``/``weight_decay``/``clipnorm`` < 0, ``length_alpha`` < 0.
        ConfigError: an unknown ``strategy`` or ``precision``.
    """

    #: decoders to train, each with its own encoder (``transformer``, ``lstm``)
    decoders: tuple[str, ...] = DECODERS
    model: ModelConfig = field(default_factory=ModelConfig)
    #: a training word seen fewer times becomes [UNK]
    min_count: int = 2
    #: T: tokens the decoder reads and predicts per caption (words + [end]); longer captions are cut
    seq_len: int = 25
    epochs: int = 10
    #: images per batch (each with all its reference captions)
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-4
    #: global gradient-norm clipping (0: none)
    clipnorm: float = 5.0
    #: early stopping on val_loss (epochs without improvement; null: train all epochs, keep the best)
    patience: int | None = None
    #: length normalisation exponent α of beam search, saved with each model (decoding.Captioner)
    length_alpha: float = 0.7
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, the global batch is ``batch_size`` x replicas
    strategy: str = "auto"
    #: float32 | mixed_float16 (GPU; loss scaling applied by Keras) | mixed_bfloat16
    precision: str = "float32"
    #: XLA for the training step (off: on CPU Keras' "auto" is off too)
    jit_compile: bool = False

    def __post_init__(self) -> None:
        DistributeConfig(strategy=self.strategy, precision=self.precision, jit_compile=self.jit_compile)
        if not self.decoders or any(d not in DECODERS for d in self.decoders):
            raise ValueError(f"decoders must be a non-empty list of {', '.join(DECODERS)}")
        if min(self.epochs, self.batch_size, self.min_count, self.seq_len) < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, batch_size, min_count, seq_len ≥ 1 and learning_rate > 0 are required")
        if min(self.warmup_epochs, self.weight_decay, self.clipnorm, self.length_alpha) < 0:
            raise ValueError("warmup_epochs, weight_decay, clipnorm and length_alpha must be ≥ 0")


def caption_groups(records: Sequence[dict], vectorizer) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per image its reference captions as token ids: ``index (N,)``, ``ids (N, C, seq_len + 1)``, the texts.

    C is the most captions any image of the split has; an image with fewer gets all-padding rows (ignored by the
    loss). Empty captions are dropped; an image without any caption is skipped.
    """
    index, groups, texts = [], [], []
    for r in records:
        captions = [c for c in r["captions"] if c.strip()]
        if captions:
            index.append(int(r["index"]))
            groups.append(encode_captions(vectorizer, captions))
            texts += captions
    if not groups:
        return np.zeros(0, np.int64), np.zeros((0, 1, 1), np.int32), []
    c = max(len(g) for g in groups)
    ids = np.zeros((len(groups), c, groups[0].shape[1]), np.int32)
    for i, g in enumerate(groups):
        ids[i, :len(g)] = g
    return np.asarray(index, np.int64), ids, texts


def make_dataset(images: np.ndarray, index: np.ndarray, ids: np.ndarray, batch_size: int, *, shuffle: bool,
                 seed: int, skip: int = 0, drop_remainder: bool | None = None):
    """``tf.data``: batches of ``({"image": (B, S, S, 3) uint8, "tokens": ids[:, :, :-1]}, ids[:, :, 1:])``.

    ``index (N,)`` rows of ``images``; ``ids (N, C, T + 1)``. With ``shuffle``: reshuffled each epoch, repeated,
    whole batches only (use ``steps_per_epoch``); ``skip`` batches of that stream are passed over (a resumed run
    continues where the killed one stopped, so it sees the batches of an uninterrupted run). ``drop_remainder``:
    whole batches only (default: with ``shuffle``).
    """
    import tensorflow as tf

    table = tf.constant(np.asarray(images))
    ds = tf.data.Dataset.from_tensor_slices((index, ids))
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=shuffle if drop_remainder is None else drop_remainder)
    if skip:
        ds = ds.skip(skip)

    @tf.autograph.experimental.do_not_convert
    def to_inputs(i, seq):
        return {"image": tf.gather(table, i), "tokens": seq[:, :, :-1]}, seq[:, :, 1:]

    return ds.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def masked_accuracy(y_true, y_pred):
    """Next-token accuracy over the real (non-padding) tokens."""
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    mask = ops.cast(ops.not_equal(y_true, 0), "float32")
    hit = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32") * mask
    return ops.sum(hit) / ops.maximum(ops.sum(mask), 1.0)


def compile_model(model, cfg: TrainConfig, steps_per_epoch: int) -> None:
    """AdamW with a linear warm-up to ``learning_rate`` and a cosine decay; masked cross-entropy (``jit_compile``:
    XLA for the step)."""
    import keras

    total = cfg.epochs * steps_per_epoch
    warmup = min(int(cfg.warmup_epochs * steps_per_epoch), total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10 if warmup else cfg.learning_rate,
        decay_steps=max(total - warmup, 1), alpha=0.02, warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay,
                                       global_clipnorm=cfg.clipnorm or None)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
                  metrics=[masked_accuracy], jit_compile=cfg.jit_compile)


def data_fingerprint(prepared: Path) -> str:
    """sha256 of the prepared train/val records and images (what a resumed run must have trained on)."""
    from shared.data import sha256sum

    return "-".join(sha256sum(Path(prepared) / name)[:12] for name in ("train.json", "val.json", "images.npy"))


def done_marker(workdir: Path, decoder: str) -> Path:
    """The ``train.json`` that says ``decoder`` is finished: the parked captioner's on the chief, a worker's own
    marker elsewhere (only the chief writes the model)."""
    from shared.distributed import is_chief, worker_id

    folder = workdir / "done" if is_chief() else workdir / f"done-{worker_id()}"
    return folder / decoder / "train.json"


def train_decoder(decoder: str, cfg: TrainConfig, images: np.ndarray, train_ids: Sequence[np.ndarray],
                  val_ids: Sequence[np.ndarray], vocabulary: list[str], workdir: Path,
                  callbacks: Sequence = (), resize: str = "letterbox", strategy=None) -> dict:
    """Train one decoder; save its :class:`Captioner` to ``workdir/done/<decoder>``; returns its train info.

    ``strategy``: from ``shared.distributed.make_strategy`` (default: the current one). On a worker that is not
    the chief nothing but a marker (:func:`done_marker`) is written.
    """
    import keras
    import tensorflow as tf

    from shared.distributed import global_batch_size, is_chief, set_precision
    from shared.training import completed_epochs, fit, read_history, set_seed

    strategy = strategy or tf.distribute.get_strategy()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    keras.backend.clear_session()  # resets Keras' dtype policy too: the precision is set after it
    set_precision(cfg.precision)
    set_seed(cfg.seed, deterministic=False)
    batch = global_batch_size(cfg.batch_size, strategy)
    steps = max(1, len(train_ids[0]) // batch)
    run_dir = workdir / decoder
    # a resumed run (shared.training.fit) goes on with the batches an uninterrupted run would see next
    skip = 0 if multi_worker else completed_epochs(run_dir) * steps
    train_ds = make_dataset(images, *train_ids, batch, shuffle=True, seed=cfg.seed, skip=skip)
    validation_steps = None
    if multi_worker:  # the custom loop: validation as whole global batches
        val_batch = min(64, len(val_ids[0]))
        validation_steps = len(val_ids[0]) // val_batch
        val_ds = make_dataset(images, *val_ids, val_batch, shuffle=False, seed=cfg.seed, drop_remainder=True)
    else:
        val_ds = make_dataset(images, *val_ids, 64, shuffle=False, seed=cfg.seed)
    with strategy.scope():
        model = build_model(cfg.model, decoder, int(images.shape[1]), len(vocabulary), cfg.seq_len)
        compile_model(model, cfg, steps)
        model.optimizer.build(model.trainable_variables)  # in the scope: fit would build it outside
    log.info("%s: %d parameters; %d training images (%d captions each), %d steps per epoch of %d images",
             decoder, model.count_params(), len(train_ids[0]), train_ids[1].shape[1], steps, batch)
    start = time.perf_counter()
    history = fit(model, train_ds, epochs=cfg.epochs, steps_per_epoch=steps, validation=val_ds, workdir=run_dir,
                  validation_steps=validation_steps, monitor="val_loss", mode="min", patience=cfg.patience,
                  verbose=cfg.verbose, callbacks=callbacks, strategy=strategy)
    wall = time.perf_counter() - start
    history = history if history.get("epoch") else read_history(run_dir)
    val_loss = [v for v in history.get("val_loss", []) if v is not None]
    info = {"decoder": decoder, "image_size": int(images.shape[1]), "seq_len": cfg.seq_len,
            "max_len": cfg.seq_len, "length_alpha": cfg.length_alpha, "resize": resize}
    captioner = Captioner(model, vocabulary, info)
    summary = {"decoder": decoder, "parameters": captioner.num_params, "steps_per_epoch": steps,
               "epochs_run": len(history.get("epoch", [])), "best_val_loss": min(val_loss) if val_loss else None,
               "wall_time_s": wall, "seconds_per_step": wall / max(steps * len(history.get("epoch", [])), 1),
               "vocabulary_size": len(vocabulary), "train_images": int(len(train_ids[0])),
               "val_images": int(len(val_ids[0])), "config": to_dict(cfg)}
    if not is_chief():  # a multi-worker run: the chief writes the model; the loop removed this worker's state
        log.info("%s: this worker is done; the chief writes the model", decoder)
        write_json(done_marker(workdir, decoder), summary)
        return summary
    target = workdir / "done" / decoder
    captioner.save(target)
    write_json(target / "history.json", history)
    write_json(target / "train.json", summary)
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    log.info("%s: best val loss %s after %d epochs, %.0f s", decoder, summary["best_val_loss"],
             summary["epochs_run"], wall)
    return summary


def train(cfg: TrainConfig, prepared: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Fit the vocabulary, train every decoder of ``cfg.decoders``, publish them to ``out``.

    ``callbacks``: extra Keras callbacks (tests interrupt a run with one). A decoder finished by an earlier,
    interrupted run of the same config and data is reused.

    Raises:
        DataError: the prepared data are missing or malformed (see :func:`load_prepared`), or a split has no
            caption.
        ValueError: no training word reaches ``min_count``.
        ConfigError: ``strategy: multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    from shared.distributed import is_chief, make_strategy, worker_id
    from shared.training import publish_runs

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    images, splits, meta = load_prepared(prepared)
    train_records, val_records = splits["train"], splits["val"]
    train_texts = [c for r in train_records for c in r["captions"] if c.strip()]
    if not train_texts:
        raise DataError(f"{prepared}: the train split has no caption")
    vocabulary = fit_vocabulary(train_texts, cfg.min_count)
    vectorizer = make_vectorizer(vocabulary, cfg.seq_len + 1)
    *train_ids, _ = caption_groups(train_records, vectorizer)
    *val_ids, val_texts = caption_groups(val_records, vectorizer)
    if not val_texts:
        raise DataError(f"{prepared}: the val split has no caption")
    end = vocabulary.index(END)
    real = train_ids[1][..., 0] != 0
    long = int(np.sum(real & ~np.any(train_ids[1] == end, axis=-1)))
    log.info("vocabulary: %d tokens (min count %d) from %d training captions; %d captions cut at %d tokens",
             len(vocabulary), cfg.min_count, len(train_texts), long, cfg.seq_len)
    images = np.ascontiguousarray(images)
    workdir = Path(work) / config_hash(cfg, data_fingerprint(prepared))
    summaries = {}
    for decoder in cfg.decoders:
        done = done_marker(workdir, decoder)
        if done.is_file():
            log.info("%s: finished by an earlier run, reused from %s", decoder, done.parent)
            summaries[decoder] = read_json(done)
            continue
        summaries[decoder] = train_decoder(decoder, cfg, images, train_ids, val_ids, vocabulary, workdir,
                                           callbacks=callbacks, resize=meta.get("resize", "letterbox"),
                                           strategy=strategy)
    summary = {"decoders": list(cfg.decoders), "vocabulary_size": len(vocabulary), "captions_cut": long,
               "runs": summaries, "wall_time_s": sum(s["wall_time_s"] for s in summaries.values())}
    if not is_chief():
        import shutil

        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(workdir / f"done-{worker_id()}", ignore_errors=True)
        return summary
    publish_runs(workdir, cfg.decoders, out, summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    train(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
