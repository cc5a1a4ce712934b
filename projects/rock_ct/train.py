"""Stage ``train``: the 3D U-Net on random patches of the phantom training volumes (trained from scratch).

Each training sample is a random ``patch``³ crop of one training volume (each volume normalised by its own
percentiles, :func:`projects.rock_ct.model.volume_stats`), augmented by

* a random **90° rotation and flip** of the cube: a random permutation of the three axes and a random flip of each
  (the 48 symmetries of the cube; the phantom's voxels are isotropic);
* **intensity jitter** on the normalised scale: gain, offset, a gamma change and added Gaussian noise, so that the
  network does not rely on the exact contrast or noise of the training acquisitions.

Loss: cross-entropy plus soft Dice (mean over the classes, over the batch; Milletari et al. 2016). Validation: fixed
crops of the validation volume (the same every epoch); the epoch with the lowest validation loss is kept. The
test and shifted volumes are never read here.

Training goes through :func:`shared.training.fit`, so a killed run resumes at its last finished epoch (state in
``--work``), on the batches after the ones it had trained on (the batch stream is a pure function of the seed),
and the curves are logged with dvclive.

On several workers (``strategy``, see docs/scaling.md): the network is built and compiled in the ``tf.distribute``
strategy's scope, ``batch_size`` is per replica (the input yields ``batch_size`` x replicas patches; each replica's
soft Dice is taken over its own share), and under ``multi_worker`` (``TF_CONFIG``) ``shared.training.fit`` runs the
custom loop of ``shared.distributed``; only the chief writes ``--out``.

Writes ``<out>/model.keras``, ``train.json`` (config, classes, divisor, receptive radius, normalisation, patch,
voxel size, step time, wall time, validation Dice) and ``history.json``.

    python -m projects.rock_ct.train --params projects/rock_ct/params.yaml --data data/rock_ct/phantom \
        --work data/rock_ct/work/train --out data/rock_ct/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.rock_ct.model import ModelConfig, normalise, volume_stats
from shared.config import load_section, to_dict
from shared.distributed import PRECISIONS, STRATEGIES
from shared.io import DataError, atomic_dir, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

CLASSES = ("vesicle", "glass", "crystal")


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 8
    steps_per_epoch: int = 15
    batch_size: int = 2
    #: side of the cubic training patches, voxels (a multiple of the model's divisor)
    patch: int = 48
    learning_rate: float = 3.0e-3
    weight_decay: float = 1.0e-4
    #: weight of the soft Dice term beside the cross-entropy
    dice_weight: float = 1.0
    #: intensity percentiles mapped to -1 and +1, per volume (training and inference alike)
    percentiles: tuple[float, float] = (1.0, 99.0)
    #: random 90° rotations and flips of the patches
    rotate_flip: bool = True
    #: intensity jitter on the normalised scale: gain range, offset amplitude, gamma range, noise std maximum
    gain: tuple[float, float] = (0.85, 1.15)
    offset: float = 0.15
    gamma: tuple[float, float] = (0.8, 1.25)
    noise: float = 0.1
    #: fixed validation crops of the validation volume(s)
    val_patches: int = 4
    #: early stopping on the validation loss (epochs without improvement); null: none
    patience: int | None = None
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica, the global batch is ``batch_size`` x replicas
    strategy: str = "auto"
    #: float32 | mixed_float16 | mixed_bfloat16 (Keras' dtype policy; mixed_float16 adds loss scaling; logits float32)
    precision: str = "float32"
    #: XLA for the training step (GPU machines)
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs, steps_per_epoch and batch_size ≥ 1 and learning_rate > 0 are required")
        if self.patch < 1 or self.patch % self.model.divisor:
            raise ValueError(f"patch {self.patch} must be a positive multiple of the model's divisor "
                             f"{self.model.divisor} (2^(len(widths) - 1))")
        if not 0 <= self.percentiles[0] < self.percentiles[1] <= 100:
            raise ValueError("percentiles must be 0 ≤ low < high ≤ 100")
        if not 0 < self.gain[0] <= self.gain[1] or not 0 < self.gamma[0] <= self.gamma[1]:
            raise ValueError("gain and gamma ranges must be positive and ordered")
        if self.offset < 0 or self.noise < 0 or self.dice_weight < 0 or self.val_patches < 1:
            raise ValueError("offset, noise and dice_weight ≥ 0 and val_patches ≥ 1 are required")


# --------------------------------------------------------------------------- data
def load_split(data: Path, split: str) -> list[dict]:
    """The volumes of one split of the generated phantoms: ``data/<split>.zarr`` (a zarr group).

    The group holds ``image`` (uint16 (Z, Y, X), or (N, Z, Y, X) for N cubes) and ``labels`` (uint8, same shape) and
    the attribute ``voxel_size_um``.

    Returns:
        one dict per cube: ``image`` (Z, Y, X) array, ``labels`` (Z, Y, X) uint8, ``voxel_size_um`` (float or None).

    Raises:
        DataError: the group or an array is missing, the shapes differ, an array is not 3D/4D, or a label is
            outside 0..2.
    """
    import zarr

    path = Path(data) / f"{split}.zarr"
    if not path.exists():
        raise DataError(f"{path} not found; run the rock_ct_data stage first")
    try:
        group = zarr.open_group(str(path), mode="r")
        image, labels = group["image"], group["labels"]
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise DataError(f"{path} is not a phantom group with arrays 'image' and 'labels': {exc}") from exc
    if tuple(image.shape) != tuple(labels.shape):
        raise DataError(f"{path}: labels have shape {tuple(labels.shape)}, the image {tuple(image.shape)}")
    if image.ndim not in (3, 4):
        raise DataError(f"{path}: image must be (Z, Y, X) or (N, Z, Y, X), got shape {tuple(image.shape)}")
    voxel = group.attrs.get("voxel_size_um")
    images, label_arrays = np.asarray(image[...]), np.asarray(labels[...])
    if image.ndim == 3:
        images, label_arrays = images[None], label_arrays[None]
    if label_arrays.size and int(label_arrays.max()) >= len(CLASSES):
        raise DataError(f"{path}: labels reach {int(label_arrays.max())}; the classes are 0..{len(CLASSES) - 1} "
                        f"({', '.join(CLASSES)})")
    return [{"image": im, "labels": lab.astype(np.uint8), "voxel_size_um": None if voxel is None else float(voxel)}
            for im, lab in zip(images, label_arrays)]


def prepare_volumes(volumes: list[dict], cfg: TrainConfig, name: str) -> list[dict]:
    """Normalise each volume by its own percentiles; check that a patch fits.

    Returns:
        dicts of ``x`` float32 (Z, Y, X), ``y`` uint8 (Z, Y, X) and ``stats`` (low, high).

    Raises:
        DataError: a volume is smaller than the patch along an axis, or holds NaNs, or is constant.
    """
    out = []
    for i, vol in enumerate(volumes):
        if min(vol["image"].shape) < cfg.patch:
            raise DataError(f"{name} volume {i} has shape {vol['image'].shape}, smaller than the training patch "
                            f"{cfg.patch}³; lower train.patch")
        stats = volume_stats(vol["image"], cfg.percentiles)
        out.append({"x": normalise(vol["image"], *stats), "y": vol["labels"], "stats": stats})
    return out


def rotate_flip(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the 48 symmetries of the cube, the same for image and labels (Z, Y, X)."""
    perm = rng.permutation(3)
    x, y = x.transpose(perm), y.transpose(perm)
    flips = tuple(axis for axis in range(3) if rng.random() < 0.5)
    if flips:
        x, y = np.flip(x, flips), np.flip(y, flips)
    return x, y


def jitter(x: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Intensity jitter on the normalised scale (about [-1, 1]): gamma, gain, offset, Gaussian noise."""
    gamma = float(np.exp(rng.uniform(np.log(cfg.gamma[0]), np.log(cfg.gamma[1]))))
    # gamma acts on [0, 1]: map, bend, map back (sign kept outside the range)
    u = np.clip((x + 1.0) / 2.0, 0.0, None)
    x = 2.0 * u ** gamma - 1.0
    x = x * rng.uniform(*cfg.gain) + rng.uniform(-cfg.offset, cfg.offset)
    if cfg.noise > 0:
        x = x + rng.normal(0.0, rng.uniform(0.0, cfg.noise), x.shape)
    return x.astype(np.float32)


def random_patch(volumes: list[dict], size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random ``size``³ crop (image, labels) of a random volume."""
    vol = volumes[int(rng.integers(len(volumes)))]
    z, y, x = (int(rng.integers(0, s - size + 1)) for s in vol["x"].shape)
    sl = (slice(z, z + size), slice(y, y + size), slice(x, x + size))
    return vol["x"][sl], vol["y"][sl]


def batches(volumes: list[dict], cfg: TrainConfig, seed: int,
            batch_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless augmented training batches: ``x`` (B, P, P, P, 1) float32, ``y`` (B, P, P, P) uint8, ``B`` =
    ``batch_size`` (default ``cfg.batch_size``)."""
    rng = np.random.default_rng(seed)
    while True:
        xs, ys = [], []
        for _ in range(batch_size or cfg.batch_size):
            x, y = random_patch(volumes, cfg.patch, rng)
            if cfg.rotate_flip:
                x, y = rotate_flip(x, y, rng)
            xs.append(jitter(x, cfg, rng))
            ys.append(np.ascontiguousarray(y))
        yield np.stack(xs)[..., None], np.stack(ys)


def validation_set(volumes: list[dict], cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Fixed crops of the validation volumes (no augmentation): ``x`` (N, P, P, P, 1), ``y`` (N, P, P, P)."""
    rng = np.random.default_rng(12345)
    pairs = [random_patch(volumes, cfg.patch, rng) for _ in range(cfg.val_patches)]
    return np.stack([p[0] for p in pairs])[..., None], np.stack([p[1] for p in pairs])


def make_dataset(volumes: list[dict], cfg: TrainConfig, seed: int, batch_size: int | None = None, start: int = 0):
    """The endless stream of :func:`batches` as a ``tf.data.Dataset``, from batch ``start`` on (a resumed run
    continues where the killed one stopped)."""
    import tensorflow as tf

    p, b = cfg.patch, batch_size or cfg.batch_size
    signature = (tf.TensorSpec((b, p, p, p, 1), tf.float32), tf.TensorSpec((b, p, p, p), tf.uint8))
    ds = tf.data.Dataset.from_generator(lambda: batches(volumes, cfg, seed, b), output_signature=signature)
    if start:
        ds = ds.skip(start)
    return ds.prefetch(2)


# --------------------------------------------------------------------------- loss and metric
def ce_dice_loss(n_classes: int, dice_weight: float = 1.0, smooth: float = 1.0):
    """Cross-entropy plus ``dice_weight`` × (1 - soft Dice), the Dice averaged over the classes.

    ``y_true`` integer labels (B, Z, Y, X); ``y_pred`` logits (B, Z, Y, X, C).
    """
    import keras
    from keras import ops

    def loss(y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        ce = ops.mean(keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True))
        prob = ops.softmax(y_pred, axis=-1)
        onehot = ops.one_hot(labels, n_classes)
        axes = (0, 1, 2, 3)
        inter = ops.sum(prob * onehot, axis=axes)
        denom = ops.sum(prob, axis=axes) + ops.sum(onehot, axis=axes)
        dice = (2.0 * inter + smooth) / (denom + smooth)
        return ce + dice_weight * (1.0 - ops.mean(dice))

    return loss


def _dice_metric_class():
    import keras
    from keras import ops

    class MeanDice(keras.metrics.Metric):
        """Dice of the argmax labels per class, accumulated over an epoch, averaged over the classes."""

        def __init__(self, n_classes: int = 3, name: str = "dice", **kwargs):
            super().__init__(name=name, **kwargs)
            self.n_classes = int(n_classes)
            self.inter = self.add_variable(shape=(self.n_classes,), initializer="zeros", name="inter")
            self.total = self.add_variable(shape=(self.n_classes,), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            truth = ops.one_hot(ops.cast(y_true, "int32"), self.n_classes)
            pred = ops.one_hot(ops.argmax(y_pred, axis=-1), self.n_classes)
            axes = (0, 1, 2, 3)
            self.inter.assign_add(ops.sum(truth * pred, axis=axes))
            self.total.assign_add(ops.sum(truth, axis=axes) + ops.sum(pred, axis=axes))

        def result(self):
            return ops.mean(2.0 * self.inter / ops.maximum(self.total, 1.0))

        def reset_state(self):
            self.inter.assign(ops.zeros_like(self.inter))
            self.total.assign(ops.zeros_like(self.total))

        def get_config(self):
            return {**super().get_config(), "n_classes": self.n_classes}

    return MeanDice


def compile_model(net, cfg: TrainConfig):
    """Compile ``net`` with AdamW (cosine decay over the whole run), the CE + Dice loss and the mean-Dice metric."""
    import keras

    total = cfg.epochs * cfg.steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=max(total, 1), alpha=0.05)
    net.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
                loss=ce_dice_loss(cfg.model.n_classes, cfg.dice_weight),
                metrics=[_dice_metric_class()(cfg.model.n_classes)], jit_compile=cfg.jit_compile)
    return net


def evaluate_patches(net, cfg: TrainConfig, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Loss (mean over patches, one patch a batch) and mean Dice of ``net`` on patches ``x`` (N, P, P, P, 1), ``y``
    (N, P, P, P), computed in this process: what ``net.evaluate(x, y, batch_size=1)`` gives, without Keras' loop
    (which a multi-worker strategy does not support)."""
    loss_fn = ce_dice_loss(cfg.model.n_classes, cfg.dice_weight)
    dice = _dice_metric_class()(cfg.model.n_classes)
    losses = []
    for i in range(len(x)):
        logits = net(x[i:i + 1], training=False)
        losses.append(float(loss_fn(y[i:i + 1], logits)))
        dice.update_state(y[i:i + 1], logits)
    return {"dice": float(dice.result()), "loss": float(np.mean(losses))}


# --------------------------------------------------------------------------- the stage
def train(cfg: TrainConfig, data: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train and save; returns the final validation metrics. ``callbacks``: extra Keras callbacks (tests interrupt
    a run with one).

    Raises:
        DataError: the phantom splits are missing or malformed, or smaller than the patch.
    """
    import keras
    import tensorflow as tf

    from projects.rock_ct.model import build_model
    from shared.distributed import global_batch_size, is_chief, make_strategy, set_precision, worker_id
    from shared.training import completed_epochs, config_hash, fit, set_seed

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    train_raw, val_raw = load_split(data, "train"), load_split(data, "val")
    voxel = train_raw[0]["voxel_size_um"]
    train_vols = prepare_volumes(train_raw, cfg, "train")
    val_vols = prepare_volumes(val_raw, cfg, "val")
    set_seed(cfg.seed, deterministic=False)
    set_precision(cfg.precision)
    with strategy.scope():
        net = compile_model(build_model(cfg.model), cfg)
        # the optimizer's variables belong to the strategy too (shared.training.fit would build them outside it)
        net.optimizer.build(net.trainable_variables)
    batch = global_batch_size(cfg.batch_size, strategy)
    val_x, val_y = validation_set(val_vols, cfg)
    validation, validation_steps = (val_x, val_y), None
    if multi_worker:  # the custom loop: validation as whole global batches
        validation_steps = max(1, len(val_x) // batch)
        validation = tf.data.Dataset.from_tensor_slices(validation).batch(batch, drop_remainder=len(val_x) >= batch)
    fingerprint = [[float(v) for v in vol["stats"]] + [int(vol["y"].sum())] for vol in train_vols + val_vols]
    workdir = Path(work) / config_hash(cfg, fingerprint)
    log.info("%s: %d parameters; %d training volume(s) %s, patches %d³ × %d, %d steps × %d epochs", net.name,
             net.count_params(), len(train_vols), train_vols[0]["x"].shape, cfg.patch, batch,
             cfg.steps_per_epoch, cfg.epochs)
    # Keras' fit restarts the input at a resume: skip the batches of the backed-up epochs (the multi-worker loop
    # skips them itself)
    skip = 0 if multi_worker else completed_epochs(workdir) * cfg.steps_per_epoch
    step_timer = _StepTimer()
    start = time.perf_counter()
    history = fit(net, make_dataset(train_vols, cfg, cfg.seed, batch_size=batch, start=skip), epochs=cfg.epochs,
                  steps_per_epoch=cfg.steps_per_epoch, validation=validation, validation_steps=validation_steps,
                  workdir=workdir, monitor="val_loss", mode="min", patience=cfg.patience, verbose=cfg.verbose,
                  callbacks=[step_timer, *callbacks], strategy=strategy)
    wall = time.perf_counter() - start
    if multi_worker:
        final = evaluate_patches(net, cfg, val_x, val_y)
    else:
        final = {k: float(v) for k, v in net.evaluate(val_x, val_y, batch_size=1, verbose=0,
                                                      return_dict=True).items()}
    log.info("validation: loss %.4f, mean Dice %.3f; %.0f s (%.2f s a step)", final["loss"], final["dice"], wall,
             step_timer.median)
    if not is_chief():  # a multi-worker run: the chief writes the model
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(workdir / worker_id(), ignore_errors=True)
        keras.backend.clear_session()
        return final
    model_cfg = cfg.model
    with atomic_dir(out) as tmp:
        net.save(tmp / "model.keras")
        write_json(tmp / "history.json", history)
        write_json(tmp / "train.json", {
            "config": to_dict(cfg), "model": to_dict(model_cfg), "classes": list(CLASSES),
            "divisor": model_cfg.divisor, "receptive_radius": model_cfg.receptive_radius,
            "normalisation": {"method": "per-volume percentiles", "percentiles": list(cfg.percentiles),
                              "train_stats": [list(v["stats"]) for v in train_vols]},
            "patch": cfg.patch, "voxel_size_um": voxel, "parameters": int(net.count_params()),
            "train_volumes": [list(v["x"].shape) for v in train_vols], "wall_time_s": wall,
            "step_time_s": step_timer.median, "steps": cfg.epochs * cfg.steps_per_epoch,
            "epochs_run": len(history.get("epoch", [])), "val": final})
    shutil.rmtree(workdir, ignore_errors=True)
    keras.backend.clear_session()
    return final


class _StepTimer:
    """A Keras callback measuring the wall time of each training step (median over the run, the first excluded)."""

    def __new__(cls):
        import keras

        class StepTimer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: list[float] = []
                self._t = 0.0

            def on_train_batch_begin(self, batch, logs=None):
                self._t = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter() - self._t)

            @property
            def median(self) -> float:
                times = self.times[1:] or self.times
                return float(np.median(times)) if times else float("nan")

        return StepTimer()


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    train(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
