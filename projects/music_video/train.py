"""Stage ``train``: the generators (convolutional VAE, DCGAN) on the embedded image set.

Reads ``<data>/images.npz`` (``images`` uint8 (n, S, S, 3), written by the data stage with
:func:`projects.music_video.art.make_images`), holds out ``val_fraction`` of it (a seeded permutation; the indices
are saved so that evaluate compares samples with the same held-out images), and trains each generator of
``models`` through ``shared.training.fit`` (dvclive curves; a killed run resumes at its last finished epoch; a
finished generator is parked in ``--work`` and not retrained). The VAE keeps the epoch of lowest validation loss
(negative ELBO); the DCGAN has no such criterion and keeps its last epoch.

Writes ``<out>/<kind>/`` (``decoder.keras``, VAE also ``encoder.keras``, ``generator.json``, ``history.json``) and
``<out>/train.json`` (config, the render default ``render_model``, per model: parameters, epochs, seconds,
seconds per epoch, final losses; ``val_indices``), all in one atomic step.

On several workers (``strategy``, :mod:`shared.distributed`): the models and their optimizers (the DCGAN's two)
are built in the strategy's scope; their own ``train_step`` divides each loss by the replicas before its gradient,
so the all-reduced gradients are those of the global batch (see :mod:`projects.music_video.model`). Under
``multi_worker`` (cluster in ``TF_CONFIG``) the images go in as a seeded, repeating ``tf.data`` pipeline of global
batches (``batch_size`` per replica) with ``batch_size`` x replicas images per step, the VAE's validation as whole
global batches; only the chief writes (the other workers keep a marker of each finished generator). On one device
the images go to Keras' ``fit`` as arrays in batches of ``batch_size`` (32: the batch the default models were
always trained with, since until the strategy switch ``batch_size`` was not passed on and Keras used its default).

    python -m projects.music_video.train --params projects/music_video/params.yaml \
        --data data/music_video/prepared --work data/music_video/work/train --out data/music_video/model
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.music_video.model import KINDS, ModelConfig, build_model, save_generator
from shared.config import load_section, to_dict
from shared.distributed import DistributeConfig
from shared.io import DataError, atomic_dir, load_npz, read_json, write_json
from shared.stage import run, stage_parser
from shared.training import config_hash

__all__ = ["TrainConfig", "load_images", "split_indices", "train_generator", "train", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section.

    Raises:
        ValueError: no or an unknown model, ``render_model`` not among ``models``, epochs/batch size < 1,
            learning rates ≤ 0, ``val_fraction`` not in (0, 0.5].
        ConfigError: an unknown ``strategy`` or ``precision``.
    """

    #: generators to train (the DCGAN only for the comparison when the VAE renders)
    models: tuple[str, ...] = KINDS
    #: the generator the render stage and the CLI use by default
    render_model: str = "vae"
    model: ModelConfig = field(default_factory=ModelConfig)
    vae_epochs: int = 25
    dcgan_epochs: int = 16
    #: images per step (per replica under a strategy with several)
    batch_size: int = 32
    #: Adam learning rate of the VAE
    vae_learning_rate: float = 2e-3
    #: Adam learning rate of both DCGAN networks (β₁ = 0.5, as Radford et al.)
    dcgan_learning_rate: float = 2e-4
    #: share of images held out (VAE model selection; the reference set of evaluate's generator quality)
    val_fraction: float = 0.1
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2
    #: tf.distribute strategy (shared.distributed): auto | default | mirrored | multi_worker (cluster in TF_CONFIG);
    #: ``batch_size`` is per replica
    strategy: str = "auto"
    #: float32 | mixed_float16 (GPU; the losses go through the optimizers' loss scaling) | mixed_bfloat16
    precision: str = "float32"
    #: XLA for the training step
    jit_compile: bool = False

    def __post_init__(self) -> None:
        DistributeConfig(strategy=self.strategy, precision=self.precision, jit_compile=self.jit_compile)
        if not self.models or any(m not in KINDS for m in self.models):
            raise ValueError(f"models must be a non-empty list of {', '.join(KINDS)}")
        if self.render_model not in self.models:
            raise ValueError(f"render_model {self.render_model!r} must be one of the trained models {self.models}")
        if min(self.vae_epochs, self.dcgan_epochs, self.batch_size) < 1:
            raise ValueError("vae_epochs, dcgan_epochs and batch_size must be ≥ 1")
        if self.vae_learning_rate <= 0 or self.dcgan_learning_rate <= 0:
            raise ValueError("learning rates must be > 0")
        if not 0 < self.val_fraction <= 0.5:
            raise ValueError("val_fraction must be in (0, 0.5]")


def load_images(prepared: str | Path) -> np.ndarray:
    """``images`` of ``<prepared>/images.npz``: uint8 ``(n, S, S, 3)``.

    Raises:
        DataError: the file is missing or unreadable, or the array is not uint8 (n ≥ 2, S, S, 3) with S a
            multiple of 8.
    """
    images = load_npz(Path(prepared) / "images.npz", required=("images",))["images"]
    if (images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or len(images) < 2
            or images.shape[1] != images.shape[2] or images.shape[1] % 8):
        raise DataError(f"{prepared}/images.npz: images must be uint8 (n ≥ 2, S, S, 3) with S a multiple of 8, got "
                        f"{images.dtype} {images.shape}")
    return images


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, val) index split of ``n`` images; val has ``max(1, round(val_fraction · n))`` images."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(val_fraction * n)), n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def done_marker(workdir: Path, kind: str) -> Path:
    """The ``train.json`` that says generator ``kind`` is finished: the parked generator's on the chief, a worker's
    own marker elsewhere (only the chief writes models)."""
    from shared.distributed import is_chief, worker_id

    return workdir / ("done" if is_chief() else f"done-{worker_id()}") / kind / "train.json"


def _adam(learning_rate: float, precision: str, **kwargs):
    """Adam, wrapped in Keras' ``LossScaleOptimizer`` under ``mixed_float16`` (the DCGAN's own optimizers, which
    ``compile`` does not wrap)."""
    import keras

    optimizer = keras.optimizers.Adam(learning_rate, **kwargs)
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "mixed_float16" else optimizer


def _global_batches(images: np.ndarray, batch: int, seed: int, *, repeat: bool):
    """``tf.data`` of whole global batches of ``images``: shuffled (seeded, reshuffled each pass) and endless with
    ``repeat``, else in order."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(images)
    if repeat:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch, drop_remainder=True).prefetch(2)


def train_generator(kind: str, cfg: TrainConfig, train_images: np.ndarray, val_images: np.ndarray, workdir: Path,
                    callbacks: Sequence = (), strategy=None) -> dict:
    """Train one generator; save it (render-time part) to ``workdir/done/<kind>``; returns its summary.

    ``strategy``: from ``shared.distributed.make_strategy`` (default: the current one). A worker that is not the
    chief writes only its marker (:func:`done_marker`).
    """
    import keras
    import tensorflow as tf

    from shared.distributed import global_batch_size, is_chief, set_precision
    from shared.training import fit, read_history, set_seed

    strategy = strategy or tf.distribute.get_strategy()
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    keras.backend.clear_session()  # resets Keras' dtype policy too: the precision is set after it
    set_precision(cfg.precision)
    set_seed(cfg.seed, deterministic=False)
    size = int(train_images.shape[1])
    with strategy.scope():
        model = build_model(cfg.model, kind, size, seed=cfg.seed)
        if kind == "vae":
            model.compile(optimizer=keras.optimizers.Adam(cfg.vae_learning_rate), jit_compile=cfg.jit_compile)
            epochs, validation, monitor, restore = cfg.vae_epochs, val_images, "val_loss", True
        else:
            model.compile(d_optimizer=_adam(cfg.dcgan_learning_rate, cfg.precision, beta_1=0.5),
                          g_optimizer=_adam(cfg.dcgan_learning_rate, cfg.precision, beta_1=0.5),
                          jit_compile=cfg.jit_compile)
            epochs, validation, monitor, restore = cfg.dcgan_epochs, None, "g_loss", False
        model(np.zeros((1, size, size, 3), np.uint8) if kind == "vae" else np.zeros((1, cfg.model.latent_dim)))
        # the optimizers' variables in the scope (fit would build the VAE's outside it; the DCGAN's two would be
        # built inside the first replica step)
        model.optimizer.build(model.trainable_variables)
        if kind == "dcgan":
            model.d_optimizer.build(model.discriminator.trainable_variables)
            model.g_optimizer.build(model.generator.trainable_variables)
    params = int(model.count_params())
    train_data, steps, validation_steps = train_images, None, None
    batch = global_batch_size(cfg.batch_size, strategy)
    if multi_worker:  # the custom loop: global batches that repeat, an explicit epoch length
        train_data = _global_batches(train_images, batch, cfg.seed, repeat=True)
        steps = max(1, len(train_images) // batch)
        if validation is not None:
            val_batch = min(batch, len(val_images))
            validation_steps = len(val_images) // val_batch
            validation = _global_batches(val_images, val_batch, cfg.seed, repeat=False)
    log.info("%s: %d parameters; %d training images of %d px, batch %d, %d epochs", kind, params,
             len(train_images), size, batch, epochs)
    run_dir = workdir / kind
    start = time.perf_counter()
    history = fit(model, train_data, epochs=epochs, workdir=run_dir, validation=validation, monitor=monitor,
                  restore_best=restore, verbose=cfg.verbose, callbacks=callbacks,
                  steps_per_epoch=steps, validation_steps=validation_steps, strategy=strategy, batch_size=batch)
    wall = time.perf_counter() - start
    history = history if history.get("epoch") else read_history(run_dir)
    epochs_run = len(history.get("epoch", []))
    if not is_chief():  # a multi-worker run: the chief writes the model; the loop removed this worker's state
        summary = {"kind": kind, "parameters": params, "epochs_run": epochs_run, "wall_time_s": wall}
        write_json(done_marker(workdir, kind), summary)
        return summary
    target = workdir / "done" / kind
    if target.exists():
        shutil.rmtree(target)
    save_generator(model, kind, size, cfg.model.latent_dim, target)
    last = {k: v[-1] for k, v in history.items() if k != "epoch" and v and v[-1] is not None}
    summary = {"kind": kind, "parameters": params, "epochs_run": epochs_run, "wall_time_s": wall,
               "seconds_per_epoch": wall / max(epochs_run, 1), "final": last}
    if kind == "vae":
        val = [v for v in history.get("val_loss", []) if v is not None]
        summary["best_val_loss"] = min(val) if val else None
    write_json(target / "history.json", history)
    write_json(target / "train.json", summary)
    shutil.rmtree(run_dir, ignore_errors=True)
    log.info("%s: %d epochs in %.0f s (%s)", kind, epochs_run, wall,
             ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return summary


def train(cfg: TrainConfig, prepared: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train every generator of ``cfg.models`` on ``<prepared>/images.npz``; publish them to ``out`` atomically.

    ``callbacks``: extra Keras callbacks (tests interrupt a run with one). A generator finished by an earlier,
    interrupted run of the same config and data is reused.

    Returns:
        the summary written to ``<out>/train.json``.

    Raises:
        DataError: ``images.npz`` is missing or malformed (see :func:`load_images`).
        ConfigError: ``strategy: multi_worker`` without a ``TF_CONFIG`` cluster.
    """
    from shared.data import sha256sum
    from shared.distributed import is_chief, make_strategy, worker_id

    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy starts its servers before other TF work
    images = load_images(prepared)
    train_idx, val_idx = split_indices(len(images), cfg.val_fraction, cfg.seed)
    workdir = Path(work) / config_hash(cfg, sha256sum(Path(prepared) / "images.npz")[:16])
    runs = {}
    start = time.perf_counter()
    for kind in cfg.models:
        done = done_marker(workdir, kind)
        if done.is_file():
            log.info("%s: finished by an earlier run, reused from %s", kind, done.parent)
            runs[kind] = read_json(done)
            continue
        runs[kind] = train_generator(kind, cfg, images[train_idx], images[val_idx], workdir, callbacks, strategy)
    summary = {"models": list(cfg.models), "render_model": cfg.render_model, "image_size": int(images.shape[1]),
               "latent_dim": cfg.model.latent_dim, "train_images": len(train_idx), "val_images": len(val_idx),
               "val_indices": val_idx.tolist(), "runs": runs, "stage_wall_time_s": time.perf_counter() - start,
               "wall_time_s": sum(r["wall_time_s"] for r in runs.values()), "config": to_dict(cfg)}
    if not is_chief():
        log.info("worker %s done; the chief writes %s", worker_id(), out)
        shutil.rmtree(workdir / f"done-{worker_id()}", ignore_errors=True)
        return summary
    with atomic_dir(out) as tmp:
        for kind in cfg.models:
            shutil.copytree(workdir / "done" / kind, tmp / kind)
        write_json(tmp / "train.json", summary)
    shutil.rmtree(workdir, ignore_errors=True)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "train", TrainConfig)
    summary = train(cfg, Path(args.data), Path(args.work), Path(args.out))
    log.info("trained %s in %.0f s; render model: %s", ", ".join(summary["models"]), summary["wall_time_s"],
             summary["render_model"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
