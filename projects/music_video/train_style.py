"""Stage ``train_style``: the fast style-transfer network of the ``style`` frame effect.

Trains :func:`projects.music_video.effects.build_style_net` (Johnson et al. 2016, instance norm) with the perceptual
loss of a fixed random-weight loss network (:func:`projects.music_video.effects.build_loss_net`; content + Gram
style + total variation, see :mod:`projects.music_video.effects`) on the project's images (``<data>/images.npz``,
the generator's training set: the frames the generator draws look like them), upscaled from their 32 px to
``image_size`` (bicubic), a seeded subset of ``images`` of them, ``val_fraction`` held out to keep the epoch of
lowest validation loss. The style image is ``style_image`` (a path, read with ``shared.io.read_image``) or, for
``""``, the embedded default: a procedural abstract painting of :mod:`projects.music_video.art` at
``default_seed``. Through ``shared.training.fit`` (a killed run resumes at its last epoch).

Writes ``<out>/style_net.keras`` (the transform network alone; loads with Keras ``safe_mode``), ``style.json``
(config, parameters, epochs, wall seconds, final and best losses, style image), ``history.json`` and
``style_image.npz`` (the style image, uint8, for the report), in one atomic step.

    python -m projects.music_video.train_style --params projects/music_video/params.yaml \
        --data data/music_video/prepared --work data/music_video/work/train_style --out data/music_video/style
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.music_video import effects
from projects.music_video.effects import StyleLossConfig, StyleNetConfig
from shared.config import load_section, to_dict
from shared.io import DataError, atomic_dir, load_npz, save_npz, write_json
from shared.stage import run, stage_parser
from shared.training import config_hash

__all__ = ["StyleConfig", "content_images", "train_style", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StyleConfig:
    """The ``style`` section.

    Raises:
        ValueError: sizes not even and ≥ 16, ``images`` < 2, epochs/batch size < 1, learning rate ≤ 0,
            ``val_fraction`` not in (0, 0.5].
    """

    #: the style picture: a path (any image format), or "" = the embedded procedural painting (art.py)
    style_image: str = ""
    #: seed of the embedded painting
    default_seed: int = 7
    #: side of the style image when its Gram matrices are taken (sets the texture's scale in pixels)
    style_size: int = 128
    #: content images (the project's 32 px images) are upscaled to this side for training
    image_size: int = 32
    #: content images used (a seeded subset of images.npz)
    images: int = 1024
    net: StyleNetConfig = field(default_factory=StyleNetConfig)
    loss: StyleLossConfig = field(default_factory=StyleLossConfig)
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-3
    val_fraction: float = 0.1
    seed: int = 0
    #: Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    verbose: int = 2

    def __post_init__(self) -> None:
        for name in ("style_size", "image_size"):
            v = getattr(self, name)
            if v < 16 or v % 2:
                raise ValueError(f"style.{name} must be an even number ≥ 16, got {v}")
        if self.images < 2 or min(self.epochs, self.batch_size) < 1 or self.learning_rate <= 0:
            raise ValueError("style.images must be ≥ 2, epochs and batch_size ≥ 1, learning_rate > 0")
        if not 0 < self.val_fraction <= 0.5:
            raise ValueError("style.val_fraction must be in (0, 0.5]")


def content_images(prepared: str | Path, cfg: StyleConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) uint8 content images ``(n, image_size, image_size, 3)``: a seeded subset of
    ``<prepared>/images.npz``, upscaled bicubically.

    Raises:
        DataError: images.npz missing, unreadable or not uint8 (n ≥ 2, S, S, 3).
    """
    images = load_npz(Path(prepared) / "images.npz", required=("images",))["images"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or len(images) < 2:
        raise DataError(f"{prepared}/images.npz: images must be uint8 (n ≥ 2, S, S, 3), got {images.dtype} "
                        f"{images.shape}")
    rng = np.random.default_rng(cfg.seed)
    idx = rng.permutation(len(images))[:min(cfg.images, len(images))]
    n_val = min(max(1, round(cfg.val_fraction * len(idx))), len(idx) - 1)
    up = np.clip(np.rint(effects.resize_frames(images[np.sort(idx)], cfg.image_size) * 255), 0, 255).astype(np.uint8)
    order = rng.permutation(len(up))
    return up[order[n_val:]], up[order[:n_val]]


def train_style(cfg: StyleConfig, prepared: Path, work: Path, out: Path, callbacks: Sequence = ()) -> dict:
    """Train the style network and publish it to ``out`` atomically; returns ``style.json``'s content.

    ``callbacks``: extra Keras callbacks (tests interrupt a run with one). An interrupted run of the same config,
    images and style image resumes at its last finished epoch.

    Raises:
        DataError: images.npz missing or malformed; the style image missing or unreadable.
    """
    import keras

    from shared.data import sha256sum
    from shared.training import fit, read_history, set_seed

    style = effects.style_image(cfg.style_image, cfg.style_size, cfg.default_seed)
    train_x, val_x = content_images(prepared, cfg)
    style_hash = hashlib.sha256(style.tobytes()).hexdigest()[:16]
    workdir = Path(work) / config_hash(cfg, sha256sum(Path(prepared) / "images.npz")[:16], style_hash)
    keras.backend.clear_session()
    set_seed(cfg.seed, deterministic=False)
    net = effects.build_style_net(cfg.net)
    loss_net = effects.build_loss_net(cfg.loss)
    grams = [np.asarray(effects.gram(f))[0] for f in loss_net(style[None])]
    trainer = effects.StyleTrainer(net, loss_net, grams, cfg.loss)
    trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    trainer(train_x[:1])
    params = int(net.count_params())
    log.info("style net: %d parameters; %d content images of %d px (%d held out), batch %d, %d epochs; style "
             "image %s", params, len(train_x), cfg.image_size, len(val_x), cfg.batch_size, cfg.epochs,
             cfg.style_image or f"embedded (art.py abstract, seed {cfg.default_seed})")
    start = time.perf_counter()
    history = fit(trainer, train_x, epochs=cfg.epochs, workdir=workdir, validation=val_x, monitor="val_loss",
                  restore_best=True, verbose=cfg.verbose, callbacks=callbacks, batch_size=cfg.batch_size)
    wall = time.perf_counter() - start
    history = history if history.get("epoch") else read_history(workdir)
    epochs_run = len(history.get("epoch", []))
    val = [v for v in history.get("val_loss", []) if v is not None]
    last = {k: v[-1] for k, v in history.items() if k != "epoch" and v and v[-1] is not None}
    meta = {"parameters": params, "epochs_run": epochs_run, "wall_time_s": wall,
            "seconds_per_epoch": wall / max(epochs_run, 1), "final": last, "best_val_loss": min(val) if val else None,
            "style_image": cfg.style_image or f"embedded: art.abstract_images seed {cfg.default_seed}",
            "content_images": len(train_x), "val_images": len(val_x), "image_size": cfg.image_size,
            "loss_network": "random-weight conv net (He et al. 2016): " + "/".join(map(str, cfg.loss.filters)),
            "config": to_dict(cfg)}
    with atomic_dir(out) as tmp:
        effects.save_style_net(net, tmp, meta)
        write_json(tmp / "history.json", history)
        save_npz(tmp / "style_image.npz", image=np.clip(np.rint(style * 255), 0, 255).astype(np.uint8))
    shutil.rmtree(workdir, ignore_errors=True)
    log.info("style net: %d epochs in %.0f s (%s)", epochs_run, wall,
             ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data",), outputs=("out",), work=True)
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "style", StyleConfig)
    train_style(cfg, Path(args.data), Path(args.work), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
