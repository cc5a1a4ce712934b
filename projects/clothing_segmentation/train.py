"""Stage ``train``: the click-conditioned segmenter, trained iteratively as in RITM (Sofiiuk et al. 2022).

Every training sample is one garment instance of the prepared ``train.npz``. Per batch, inside the compiled
training step (:class:`IterativeTrainer`):

1. the **first click** is drawn inside the object, with a probability that grows with the distance from its
   boundary (users click inside, rarely on an edge);
2. for each sample, ``n ~ U{0, ..., max_extra_clicks}`` **extra clicks come from the model's own errors**: the
   network (weights frozen for these passes, inference mode) predicts with the clicks so far and its previous
   prediction; the next click goes to the deepest point of the larger error, positive in a false-negative
   region, negative in a false-positive one (the same rule as the evaluation's click simulator, with a little
   noise on the depth so that training sees near-ties resolved both ways);
3. one gradient step on the prediction from all clicks and the **previous prediction fed back** (``prev_mask``).

Losses: binary cross-entropy plus soft Dice on the mask; cross-entropy on the garment class, weighted by
``class_loss_weight``. Augmentation: horizontal flips and, with probability ``zoom_p``, a square crop around
the object expanded by ``zoom_expand`` and resized to the training size: the view the predictor's zoom-in gives
the network after the first clicks. Validation replays the protocol deterministically (first click at the
deepest point of the object, then ``max_extra_clicks`` corrections) and reports the IoU after the first and
after the last click; the epoch with the best final validation IoU is kept.

Training goes through :func:`shared.training.fit`, so a killed run resumes at its last finished epoch (state in
``--work``) and the curves are logged with dvclive.

On several workers (``strategy``, see docs/scaling.md): the segmenter and its trainer are built in the
``tf.distribute`` strategy's scope, ``batch_size`` is per replica (the input yields ``batch_size`` x replicas
instances), the training step's loss is divided by the number of replicas (the gradients are summed across them,
so a step follows the mean over the global batch), and under ``multi_worker`` (``TF_CONFIG``)
``shared.training.fit`` runs the custom loop of ``shared.distributed``; only the chief writes ``--out``.

Writes ``<out>/model.keras`` (the segmenter alone), ``train.json`` (config, classes, size, click radius, wall
time) and ``history.json``.

    python -m projects.clothing_segmentation.train --params projects/clothing_segmentation/params.yaml \
        --data data/clothing_segmentation/prepared --work data/clothing_segmentation/work/train \
        --out data/clothing_segmentation/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.clothing_segmentation.model import ModelConfig
from shared.config import load_section, replace, to_dict
from shared.distributed import PRECISIONS, STRATEGIES
from shared.io import DataError, atomic_dir, check_array, load_npz, read_json, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

#: how deep (in pixels) the erosion-based distance to an error's boundary is measured in the training graph
DEPTH_ITERATIONS = 16


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 12
    #: batches per epoch (the instances are sampled with replacement through a shuffled, repeated stream)
    steps_per_epoch: int = 100
    batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-4
    #: radius of the click disks in pixels of the network input (the predictor uses the same)
    click_radius: float = 5.0
    #: RITM: up to this many extra clicks per sample from the model's own errors
    max_extra_clicks: int = 3
    #: noise (pixels) added to the error depth when training picks the next click
    click_jitter: float = 1.5
    class_loss_weight: float = 0.3
    flip: bool = True
    #: probability of a crop around the object (what the predictor's zoom-in shows the network)
    zoom_p: float = 0.4
    #: side of that crop over the longer side of the object's box
    zoom_expand: tuple[float, float] = (1.4, 2.5)
    #: validation instances (the first ones of val.npz)
    val_instances: int = 200
    #: early stopping on the validation IoU (epochs without improvement); null: none
    patience: int | None = None
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, the global batch is ``batch_size`` x replicas
    strategy: str = "auto"
    #: float32 | mixed_float16 | mixed_bfloat16 (Keras' dtype policy; mixed_float16 adds loss scaling)
    precision: str = "float32"
    #: XLA for the training step: compiling the unrolled click simulation costs more on 2 CPU cores than it saves
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, steps_per_epoch and batch_size ≥ 1 and learning_rate > 0 are required")
        if self.click_radius <= 0 or self.max_extra_clicks < 0 or self.click_jitter < 0:
            raise ValueError("click_radius > 0, max_extra_clicks ≥ 0 and click_jitter ≥ 0 are required")
        if not 0 <= self.zoom_p <= 1 or not 1 <= self.zoom_expand[0] <= self.zoom_expand[1]:
            raise ValueError("0 ≤ zoom_p ≤ 1 and 1 ≤ zoom_expand[0] ≤ zoom_expand[1] are required")
        if self.val_instances < 1 or self.class_loss_weight < 0 or self.warmup_epochs < 0:
            raise ValueError("val_instances ≥ 1, class_loss_weight ≥ 0 and warmup_epochs ≥ 0 are required")


# --------------------------------------------------------------------------- data
def load_instances(prepared: Path, split: str) -> dict[str, np.ndarray]:
    """``images`` (N, S, S, 3) uint8, ``masks`` (M, S, S) uint8, ``image_index`` (M,), ``labels`` (M,) of a split.

    Instances with an empty mask are dropped (there is nothing to click on).

    Raises:
        DataError: the file is missing or corrupt, an array has the wrong shape or type, an index points
            outside the images, or no instance is left.
    """
    path = Path(prepared) / f"{split}.npz"
    arrays = load_npz(path, required=("images", "masks", "image_index", "labels"))
    images = check_array(arrays["images"], "images", ndim=4, dtype="u", source=path)
    if images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise DataError(f"images in {path} must be (N, S, S, 3), got {images.shape}")
    size = images.shape[1]
    masks = check_array(arrays["masks"], "masks", shape=(None, size, size), dtype="ub", source=path)
    index = check_array(arrays["image_index"], "image_index", shape=(len(masks),), dtype="iu", source=path)
    labels = check_array(arrays["labels"], "labels", shape=(len(masks),), dtype="iu", source=path)
    if len(index) and (index.min() < 0 or index.max() >= len(images)):
        raise DataError(f"image_index in {path} points outside the {len(images)} images")
    keep = masks.reshape(len(masks), -1).any(axis=1)
    if not keep.any():
        raise DataError(f"{path} holds no instance with a non-empty mask")
    return {"images": images.astype(np.uint8), "masks": (masks[keep] > 0).astype(np.uint8),
            "image_index": index[keep].astype(np.int32), "labels": labels[keep].astype(np.int32)}


def read_meta(prepared: Path) -> dict:
    """``meta.json`` of the prepared data: the class names (``classes``) and the input size."""
    meta = read_json(Path(prepared) / "meta.json")
    if not isinstance(meta.get("classes"), list) or not meta["classes"]:
        raise DataError(f"{Path(prepared) / 'meta.json'} lacks the list of class names ('classes')")
    return meta


def data_fingerprint(prepared: Path) -> str:
    """sha256 of the prepared train and val files (what a resumed run must have trained on)."""
    from shared.data import sha256sum

    return "-".join(sha256sum(Path(prepared) / f"{split}.npz")[:16] for split in ("train", "val"))


def _zoom_crop(image, mask, size: int, expand: tuple[float, float]):
    """A square crop around the object (its box's longer side × U(expand)), jittered, resized to ``size``."""
    import tensorflow as tf

    rows = tf.where(tf.reduce_any(mask > 0, axis=1))[:, 0]
    cols = tf.where(tf.reduce_any(mask > 0, axis=0))[:, 0]
    y0, y1 = tf.cast(rows[0], tf.float32), tf.cast(rows[-1] + 1, tf.float32)
    x0, x1 = tf.cast(cols[0], tf.float32), tf.cast(cols[-1] + 1, tf.float32)
    side = tf.maximum(tf.maximum(y1 - y0, x1 - x0) * tf.random.uniform([], expand[0], expand[1]), size / 8)
    side = tf.minimum(side, float(size) * 1.5)
    cy = (y0 + y1) / 2 + tf.random.uniform([], -0.15, 0.15) * side
    cx = (x0 + x1) / 2 + tf.random.uniform([], -0.15, 0.15) * side
    box = tf.stack([cy - side / 2, cx - side / 2, cy + side / 2, cx + side / 2]) / float(size)
    both = tf.concat([tf.cast(image, tf.float32), tf.cast(mask[..., None], tf.float32)], axis=-1)
    out = tf.image.crop_and_resize(both[None], box[None], [0], [size, size], extrapolation_value=0.0)[0]
    return out[..., :3], tf.cast(out[..., 3] > 0.5, tf.uint8)


def make_dataset(data: dict[str, np.ndarray], cfg: TrainConfig, *, training: bool, limit: int | None = None,
                 batch_size: int | None = None, drop_remainder: bool = False):
    """A ``tf.data`` stream of ``{"image": float (S, S, 3) in 0-255, "mask": uint8 (S, S), "label": int32}``.

    ``batch_size``: the batch it yields (default ``cfg.batch_size``; the global batch under a strategy);
    ``drop_remainder``: validation in whole batches only (training batches are always whole).
    """
    import tensorflow as tf

    batch_size = batch_size or cfg.batch_size

    images = tf.constant(data["images"])
    size = int(data["images"].shape[1])
    masks, index, labels = data["masks"], data["image_index"], data["labels"]
    if limit is not None:
        masks, index, labels = masks[:limit], index[:limit], labels[:limit]
    ds = tf.data.Dataset.from_tensor_slices({"mask": masks, "index": index, "label": labels})

    def load(item):
        return tf.cast(tf.gather(images, item["index"]), tf.float32), item["mask"], item["label"]

    def augment(image, mask, label):
        if cfg.flip:
            flip = tf.random.uniform([]) < 0.5
            image = tf.where(flip, image[:, ::-1], image)
            mask = tf.where(flip, mask[:, ::-1], mask)
        if cfg.zoom_p > 0:
            zoomed_image, zoomed_mask = _zoom_crop(image, mask, size, cfg.zoom_expand)
            use = tf.logical_and(tf.random.uniform([]) < cfg.zoom_p, tf.reduce_any(zoomed_mask > 0))
            image = tf.where(use, zoomed_image, image)
            mask = tf.where(use, zoomed_mask, mask)
        return image, mask, label

    def pack(image, mask, label):
        return {"image": image, "mask": mask, "label": label}

    if training:
        ds = ds.shuffle(len(masks), seed=cfg.seed, reshuffle_each_iteration=True).repeat()
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.map(pack).batch(batch_size, drop_remainder=True)
    else:
        ds = ds.map(load).map(pack).batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- clicks in the graph
def error_depth(region, iterations: int = DEPTH_ITERATIONS):
    """Chessboard distance to the boundary of a binary map (B, H, W), capped at ``iterations``.

    Computed by repeated 3×3 erosions, each a separable minimum over shifted slices (15 times faster on CPU
    than ``max_pool2d`` on one channel); outside the image counts as boundary (as for the protocol's distance
    transform on a zero-padded map).
    """
    import tensorflow as tf

    x = tf.pad(tf.cast(region, tf.float32), [[0, 0], [1, 1], [1, 1]])
    depth = tf.zeros_like(x)
    for _ in range(iterations):
        depth += x
        rows = tf.minimum(tf.minimum(x[:, :, :-2], x[:, :, 1:-1]), x[:, :, 2:])
        rows = tf.pad(rows, [[0, 0], [0, 0], [1, 1]])
        both = tf.minimum(tf.minimum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
        x = tf.pad(both, [[0, 0], [1, 1], [0, 0]])
    return depth[:, 1:-1, 1:-1]


def argmax_2d(score):
    """Row and column (int32, (B,)) of the maximum of each (H, W) map of ``score`` (B, H, W)."""
    import tensorflow as tf

    width = tf.shape(score)[2]
    flat = tf.argmax(tf.reshape(score, [tf.shape(score)[0], -1]), axis=1, output_type=tf.int32)
    return flat // width, flat % width


def first_click(gt, training: bool):
    """One click per sample inside the object: in training drawn with probability ∝ depth², in validation at the
    deepest point."""
    import tensorflow as tf

    depth = error_depth(gt)
    if not training:
        return argmax_2d(depth)
    flat = tf.reshape(depth, [tf.shape(depth)[0], -1])
    logits = tf.where(flat > 0, 2.0 * tf.math.log(tf.maximum(flat, 1e-6)), tf.fill(tf.shape(flat), -1e9))
    pick = tf.random.categorical(logits, 1, dtype=tf.int32)[:, 0]
    width = tf.shape(depth)[2]
    return pick // width, pick % width


def next_click(gt, pred, jitter: float = 0.0):
    """The next click from the errors of ``pred`` (B, H, W) against ``gt``: ``(row, col, positive, has_error)``.

    The click goes to the deepest point of the larger error (false negatives → positive click, false positives
    → negative), as the evaluation's simulator does; ``jitter`` adds uniform noise of that many pixels to the
    depth before the argmax.
    """
    import tensorflow as tf

    gt, pred = tf.cast(gt, tf.bool), tf.cast(pred, tf.bool)
    fn_depth = error_depth(tf.logical_and(gt, tf.logical_not(pred)))
    fp_depth = error_depth(tf.logical_and(pred, tf.logical_not(gt)))
    positive = tf.reduce_max(fn_depth, axis=(1, 2)) >= tf.reduce_max(fp_depth, axis=(1, 2))
    depth = tf.where(positive[:, None, None], fn_depth, fp_depth)
    has_error = tf.reduce_max(depth, axis=(1, 2)) > 0
    score = depth
    if jitter > 0:
        score = depth + tf.random.uniform(tf.shape(depth), 0.0, jitter) * tf.cast(depth > 0, tf.float32)
    row, col = argmax_2d(score)
    return row, col, positive, has_error


def disk_maps(row, col, shape, radius: float):
    """Disks (B, H, W) float32 of ``radius`` around (row, col) of each sample (pixel centres at integers)."""
    import tensorflow as tf

    yy = tf.range(shape[0], dtype=tf.float32)[None, :, None]
    xx = tf.range(shape[1], dtype=tf.float32)[None, None, :]
    dy = yy - tf.cast(row, tf.float32)[:, None, None]
    dx = xx - tf.cast(col, tf.float32)[:, None, None]
    return tf.cast(dy * dy + dx * dx <= radius * radius, tf.float32)


# --------------------------------------------------------------------------- the iterative trainer
def _trainer_class():
    import keras
    import tensorflow as tf

    class IterativeTrainer(keras.Model):
        """Wraps the segmenter; its train/test steps simulate the clicks (RITM) before the gradient step."""

        def __init__(self, net, *, radius: float, max_extra: int, jitter: float, class_loss_weight: float,
                     **kwargs):
            super().__init__(**kwargs)
            self.net = net
            self.radius, self.max_extra, self.jitter = float(radius), int(max_extra), float(jitter)
            self.class_loss_weight = float(class_loss_weight)
            self.trackers = {name: keras.metrics.Mean(name=name) for name in
                             ("loss", "mask_loss", "class_loss", "iou", "iou_1", "class_accuracy", "clicks")}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def call(self, inputs, training=False):
            return self.net(inputs, training=training)

        def _correct(self, image, gt, pos, neg, prev, count, jitter: float):
            """One extra click per sample from the errors of the network's prediction with the clicks so far."""
            shape = tf.shape(gt)[1:3]
            clicks = tf.stack([pos, neg], axis=-1)
            out = self.net({"image": image, "clicks": clicks, "prev_mask": prev[..., None]}, training=False)
            prob = tf.stop_gradient(tf.sigmoid(out["mask"][..., 0]))
            pred = prob > 0.5
            row, col, positive, has_error = next_click(gt, pred, jitter)
            disk = disk_maps(row, col, shape, self.radius) * tf.cast(has_error, tf.float32)[:, None, None]
            pos = tf.maximum(pos, disk * tf.cast(positive, tf.float32)[:, None, None])
            neg = tf.maximum(neg, disk * tf.cast(tf.logical_not(positive), tf.float32)[:, None, None])
            return pos, neg, prob, count + tf.cast(has_error, tf.float32), pred

        def simulate(self, image, gt, training: bool):
            """Clicks (B, H, W, 2) and previous mask (B, H, W, 1) after the first click and the extra ones, the IoU
            of the first-click prediction (validation only, else None) and the number of clicks per sample.

            Training draws the number of extra clicks per batch, n ~ U{0, ..., max_extra} (as RITM), and runs the
            network only n times (a ``tf.while_loop``); validation always gives ``max_extra`` extra clicks.
            """
            batch, shape = tf.shape(gt)[0], tf.shape(gt)[1:3]
            row, col = first_click(gt, training)
            pos = disk_maps(row, col, shape, self.radius)
            neg = tf.zeros_like(pos)
            prev = tf.zeros_like(pos)
            count = tf.ones([batch], tf.float32)
            if training:
                n = tf.random.uniform([], 0, self.max_extra + 1, dtype=tf.int32)

                def body(k, pos, neg, prev, count):
                    pos, neg, prev, count, _ = self._correct(image, gt, pos, neg, prev, count, self.jitter)
                    return k + 1, pos, neg, prev, count

                _, pos, neg, prev, count = tf.while_loop(
                    lambda k, *_: k < n, body, (tf.constant(0), pos, neg, prev, count),
                    maximum_iterations=self.max_extra)
                return tf.stack([pos, neg], axis=-1), prev[..., None], None, count
            iou_1 = None
            for k in range(self.max_extra):
                pos, neg, prev, count, pred = self._correct(image, gt, pos, neg, prev, count, 0.0)
                if k == 0:
                    iou_1 = _iou(gt, pred)
            if iou_1 is None:  # no extra click: the first-click IoU is the final one (measured by the caller)
                iou_1 = tf.fill([batch], -1.0)
            return tf.stack([pos, neg], axis=-1), prev[..., None], iou_1, count

        def _segmentation_losses(self, gt, label, out):
            logits = out["mask"][..., 0]
            target = tf.cast(gt, tf.float32)
            bce = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits), axis=(1, 2))
            prob = tf.sigmoid(logits)
            inter = tf.reduce_sum(prob * target, axis=(1, 2))
            dice = 1 - (2 * inter + 1) / (tf.reduce_sum(prob, axis=(1, 2)) + tf.reduce_sum(target, axis=(1, 2)) + 1)
            mask_loss = tf.reduce_mean(bce + dice)
            class_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.cast(label, tf.int32), logits=out["class"]))
            return mask_loss, class_loss

        def _record(self, gt, label, out, mask_loss, class_loss, loss, iou_1, count):
            pred = out["mask"][..., 0] > 0
            values = {"loss": loss, "mask_loss": mask_loss, "class_loss": class_loss, "iou": _iou(gt, pred),
                      "class_accuracy": tf.cast(tf.equal(tf.argmax(out["class"], -1, output_type=tf.int32),
                                                         tf.cast(label, tf.int32)), tf.float32),
                      "clicks": count}
            if iou_1 is not None:
                values["iou_1"] = tf.where(iou_1 < 0, values["iou"], iou_1)
            for name, value in values.items():
                self.trackers[name].update_state(value)
            return {name: self.trackers[name].result() for name in values}

        def train_step(self, data):
            image, gt, label = data["image"], data["mask"], data["label"]
            clicks, prev, iou_1, count = self.simulate(image, gt, training=True)
            with tf.GradientTape() as tape:
                out = self.net({"image": image, "clicks": clicks, "prev_mask": prev}, training=True)
                mask_loss, class_loss = self._segmentation_losses(gt, label, out)
                loss = mask_loss + self.class_loss_weight * class_loss
                if self.net.losses:
                    loss += tf.add_n(self.net.losses)
                # under a tf.distribute strategy the replicas' gradients are summed: each takes its share of the
                # mean over the global batch
                replicas = tf.distribute.get_strategy().num_replicas_in_sync
                scaled = loss / replicas if replicas > 1 else loss
                scaled = self.optimizer.scale_loss(scaled)  # mixed_float16: the LossScaleOptimizer's scale
            grads = tape.gradient(scaled, self.net.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.net.trainable_variables))
            return self._record(gt, label, out, mask_loss, class_loss, loss, iou_1, count)

        def test_step(self, data):
            image, gt, label = data["image"], data["mask"], data["label"]
            clicks, prev, iou_1, count = self.simulate(image, gt, training=False)
            out = self.net({"image": image, "clicks": clicks, "prev_mask": prev}, training=False)
            mask_loss, class_loss = self._segmentation_losses(gt, label, out)
            return self._record(gt, label, out, mask_loss, class_loss,
                                mask_loss + self.class_loss_weight * class_loss, iou_1, count)

    return IterativeTrainer


def _iou(gt, pred):
    import tensorflow as tf

    gt, pred = tf.cast(gt, tf.bool), tf.cast(pred, tf.bool)
    inter = tf.reduce_sum(tf.cast(tf.logical_and(gt, pred), tf.float32), axis=(1, 2))
    union = tf.reduce_sum(tf.cast(tf.logical_or(gt, pred), tf.float32), axis=(1, 2))
    return tf.where(union > 0, inter / tf.maximum(union, 1.0), tf.ones_like(union))


def build_trainer(net, cfg: TrainConfig, size: int):
    """The compiled :class:`IterativeTrainer` around ``net``, built on one dummy batch (BackupAndRestore needs
    built weights). Under a ``tf.distribute`` strategy, call it (and build ``net``) in the strategy's scope."""
    import keras

    trainer = _trainer_class()(net, radius=cfg.click_radius, max_extra=cfg.max_extra_clicks, jitter=cfg.click_jitter,
                               class_loss_weight=cfg.class_loss_weight, name="iterative_trainer")
    total = cfg.epochs * cfg.steps_per_epoch
    warmup = min(int(cfg.warmup_epochs * cfg.steps_per_epoch), total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10 if warmup else cfg.learning_rate,
        decay_steps=max(total - warmup, 1), alpha=0.02, warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup)
    # jit_compile off by default: compiling the unrolled click simulation costs more on 2 cores than it saves
    trainer.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, clipnorm=5.0),
                    jit_compile=cfg.jit_compile)
    dummy = np.zeros((1, size, size, 1), np.float32)
    trainer({"image": np.zeros((1, size, size, 3), np.float32), "clicks": np.repeat(dummy, 2, -1),
             "prev_mask": dummy})
    trainer.optimizer.build(trainer.net.trainable_variables)
    return trainer


def train(cfg: TrainConfig, prepared: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train and save; returns the final validation metrics. ``callbacks``: extra Keras callbacks (tests interrupt
    a run with one).

    Raises:
        DataError: the prepared data are missing, corrupt or inconsistent with the model (size not a multiple of
            the model's divisor, a label outside the class list).
    """
    import keras
    import tensorflow as tf

    from projects.clothing_segmentation.model import build_model
    from shared.distributed import global_batch_size, is_chief, make_strategy, set_precision, worker_id
    from shared.training import config_hash, fit, set_seed

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    meta = read_meta(prepared)
    classes = list(meta["classes"])
    train_data = load_instances(prepared, "train")
    val_data = load_instances(prepared, "val")
    size = int(train_data["images"].shape[1])
    model_cfg = replace(cfg.model, n_classes=len(classes))
    if size % model_cfg.divisor:
        raise DataError(f"prepared images are {size} px; the model needs a multiple of {model_cfg.divisor} "
                        f"(2^len(train.model.widths)); change data.size or the widths")
    for name, data in (("train", train_data), ("val", val_data)):
        if data["labels"].max() >= len(classes) or data["labels"].min() < 0:
            raise DataError(f"{name} labels reach {data['labels'].max()}, but meta.json names {len(classes)} classes")
    set_seed(cfg.seed, deterministic=False)
    set_precision(cfg.precision)
    with strategy.scope():
        net = build_model(model_cfg)
        trainer = build_trainer(net, cfg, size)
    batch = global_batch_size(cfg.batch_size, strategy)
    log.info("%s: %d parameters; %d training instances on %d images (%d px), %d steps of %d per epoch",
             net.name, net.count_params(), len(train_data["masks"]), len(train_data["images"]), size,
             cfg.steps_per_epoch, batch)
    train_ds = make_dataset(train_data, cfg, training=True, batch_size=batch)
    n_val = min(cfg.val_instances, len(val_data["masks"]))
    validation_steps = None
    if multi_worker:  # the custom loop: validation in whole global batches
        validation_steps = max(1, n_val // batch)
    val_ds = make_dataset(val_data, cfg, training=False, limit=cfg.val_instances, batch_size=batch,
                          drop_remainder=multi_worker and n_val >= batch)
    workdir = Path(work) / config_hash(cfg, data_fingerprint(prepared))
    start = time.perf_counter()
    history = fit(trainer, train_ds, epochs=cfg.epochs, steps_per_epoch=cfg.steps_per_epoch, validation=val_ds,
                  validation_steps=validation_steps, workdir=workdir, monitor="val_iou", mode="max",
                  patience=cfg.patience, verbose=cfg.verbose, callbacks=callbacks, strategy=strategy)
    wall = time.perf_counter() - start
    if multi_worker:  # no Keras loop under multi_worker (keras#20585): the restored best epoch's validation
        best = int(np.argmax(history["val_iou"]))
        final = {k[4:]: float(v[best]) for k, v in history.items() if k.startswith("val_")}
    else:
        final = {k: float(v) for k, v in trainer.evaluate(val_ds, verbose=0, return_dict=True).items()}
    log.info("validation after 1 click IoU %.3f, after %d clicks IoU %.3f, class accuracy %.3f; %.0f s",
             final["iou_1"], 1 + cfg.max_extra_clicks, final["iou"], final["class_accuracy"], wall)
    if not is_chief():  # a multi-worker run: the chief writes the model
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(workdir / worker_id(), ignore_errors=True)
        keras.backend.clear_session()
        return final
    with atomic_dir(out) as tmp:
        net.save(tmp / "model.keras")
        write_json(tmp / "history.json", history)
        write_json(tmp / "train.json", {"config": to_dict(cfg), "model": to_dict(model_cfg), "classes": classes,
                                        "size": size, "click_radius": cfg.click_radius,
                                        "parameters": int(net.count_params()),
                                        "train_instances": len(train_data["masks"]),
                                        "train_images": len(train_data["images"]), "wall_time_s": wall,
                                        "epochs_run": len(history.get("epoch", [])), "val": final,
                                        "source": meta.get("source")})
    shutil.rmtree(workdir, ignore_errors=True)
    keras.backend.clear_session()
    return final


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    train(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
