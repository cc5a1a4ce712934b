"""Upscaling images with a trained network: colour, alpha, bit depth, tiles.

The network upscales the luma (BT.601 Y); Cb, Cr and alpha are upscaled by MATLAB-compatible
bicubic interpolation, and the result is converted back to the input's mode and bit depth
(grey, grey+alpha, RGB, RGBA; 8 or 16 bit).

Tiled inference cuts the low-resolution luma into ``tile × tile`` pieces, pads each with
``overlap`` real neighbouring pixels (at least the network's receptive radius), runs the
network and keeps the centre. Every kept output pixel then sees exactly the inputs it sees in
whole-image inference, so the result is the same up to float rounding (no seams), in memory
bounded by the tile size.

    up = Upscaler.load("data/super_resolution/model", model="fast", scale=4)
    big = up.upscale(image, tile=256)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from projects.super_resolution.quality import from_unit, rgb_to_ycbcr, to_unit, ycbcr_to_rgb
from projects.super_resolution.resize import imresize
from shared.io import DataError, read_json

log = logging.getLogger(__name__)

#: whole-image inference refuses outputs larger than this (pixels); tiles have no limit
MAX_WHOLE_OUTPUT_PIXELS = 16_000_000


class Upscaler:
    """A trained network of one scale, with its receptive radius."""

    def __init__(self, model, scale: int, radius: int, name: str = "model"):
        import tensorflow as tf

        self.model, self.scale, self.radius, self.name = model, int(scale), int(radius), name
        self._predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def load(cls, model_dir: str | os.PathLike, model: str = "fast", scale: int = 2) -> Upscaler:
        """The run ``<model>_x<scale>`` of a train-stage output folder.

        Args:
            model_dir: the train stage's ``--out`` folder (``summary.json`` and one folder per run).
            model: the model name of ``train.models`` (``fast``, ``quality``, ``espcn``).
            scale: 2, 3 or 4.

        Raises:
            DataError: no ``summary.json`` (the train stage has not run), or no run of that model at
                that scale (the message lists what is trained and how to add it).
        """
        from projects.super_resolution.model import ModelConfig, load_model, receptive_radius
        from shared.config import from_mapping

        model_dir = Path(model_dir)
        summary_path = model_dir / "summary.json"
        if not summary_path.exists():
            raise DataError(f"{model_dir} holds no trained models (summary.json missing); run "
                            "`capstone run super_resolution --stage train` first")
        runs = {r["run"]: r for r in read_json(summary_path)["runs"]}
        name = f"{model}_x{scale}"
        if name not in runs:
            have = sorted(f"×{r['scale']}" for r in runs.values() if r["model"] == model)
            models = sorted({r["model"] for r in runs.values()})
            hint = f"the {model} model is trained for {', '.join(have)}" if have else \
                f"trained models: {', '.join(models)}"
            raise DataError(f"no trained {model} model for ×{scale} in {model_dir} ({hint}); add a run "
                            f"'{name}' to train.runs in params.yaml and rerun the train stage")
        cfg = from_mapping(ModelConfig, runs[name]["config"], where=f"run {name} of {summary_path}")
        return cls(load_model(model_dir / name / "model.keras"), scale, receptive_radius(cfg), name)

    # ------------------------------------------------------------------ luma
    def luma(self, y: np.ndarray) -> np.ndarray:
        """Whole-image network output: ``(h, w)`` luma in [0, 1] → ``(s·h, s·w)`` float32 in about [0, 1]."""
        out = self._predict(np.asarray(y, np.float32)[None, :, :, None])
        return np.asarray(out)[0, :, :, 0]

    def luma_tiled(self, y: np.ndarray, tile: int, overlap: int | None = None) -> np.ndarray:
        """The same as :meth:`luma`, computed tile by tile.

        Args:
            y: ``(h, w)`` luma in [0, 1].
            tile: tile side in low-resolution pixels.
            overlap: low-resolution pixels of real context around each tile (default: the
                receptive radius, the least that keeps the result seamless).

        Returns:
            ``(s·h, s·w)`` float32, equal to :meth:`luma` up to float rounding.

        Raises:
            ValueError: ``tile < 1`` or ``overlap`` below the receptive radius (the tiles would show seams).
        """
        overlap = self.radius if overlap is None else int(overlap)
        if tile < 1:
            raise ValueError(f"tile must be ≥ 1, got {tile}")
        if overlap < self.radius:
            raise ValueError(f"overlap {overlap} is smaller than the receptive radius of {self.name} "
                             f"({self.radius} px): tiles would show seams; use --overlap {self.radius} or more")
        h, w = y.shape
        s = self.scale
        out = np.empty((h * s, w * s), np.float32)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                bottom, right = min(top + tile, h), min(left + tile, w)
                t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
                b0, r0 = min(bottom + overlap, h), min(right + overlap, w)
                piece = self.luma(y[t0:b0, l0:r0])
                out[top * s:bottom * s, left * s:right * s] = \
                    piece[(top - t0) * s:(bottom - t0) * s, (left - l0) * s:(right - l0) * s]
        return out

    # ------------------------------------------------------------------ images
    def upscale(self, image: np.ndarray, *, tile: int | None = None, overlap: int | None = None,
                max_pixels: int = MAX_WHOLE_OUTPUT_PIXELS) -> np.ndarray:
        """Upscale an image by the network's scale, keeping its mode and bit depth.

        Args:
            image: ``(H, W)`` grey, ``(H, W, 2)`` grey+alpha, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA,
                uint8 or uint16 (as ``images.read_image`` returns it).
            tile: tile side in input pixels for bounded memory (None: the whole image at once).
            overlap: context around each tile in input pixels (default: the receptive radius).
            max_pixels: the largest output (pixels) computed in one piece without ``tile``.

        Returns:
            ``(s·H, s·W[, C])`` with the input's channels and dtype: the network upscales the BT.601
            luma; Cb, Cr and alpha are upscaled by MATLAB-compatible bicubic interpolation.

        Raises:
            DataError: an unsupported dtype or layout, or an output above ``max_pixels`` without tiles.
            ValueError: a bad ``tile`` or ``overlap`` (see :meth:`luma_tiled`).
        """
        image = np.asarray(image)
        if image.dtype not in (np.uint8, np.uint16):
            raise DataError(f"unsupported mode: {image.dtype} pixels (8- and 16-bit images only)")
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
            raise DataError(f"unsupported mode: shape {image.shape} (grey, grey+alpha, RGB or RGBA)")
        h, w = image.shape[:2]
        out_pixels = h * w * self.scale**2
        if tile is None and out_pixels > max_pixels:
            raise DataError(f"a {w}×{h} image upscaled ×{self.scale} has {out_pixels / 1e6:.0f} MP, more than "
                            f"{max_pixels / 1e6:.0f} MP in one piece; use tiles (--tile 256)")
        unit = to_unit(image)
        colour = unit[..., :3] if image.ndim == 3 and image.shape[-1] >= 3 else None
        grey = unit if image.ndim == 2 else (unit[..., 0] if colour is None else None)
        alpha = unit[..., -1] if image.ndim == 3 and image.shape[-1] in (2, 4) else None
        if colour is not None:
            ycc = rgb_to_ycbcr(colour)
            if image.dtype == np.uint8:   # the rounded Y of an 8-bit image, as in the evaluation
                ycc[..., 0] = np.round(ycc[..., 0])
            y = ycc[..., 0] / 255.0
        else:
            y = grey
        y_up = self.luma(y) if tile is None else self.luma_tiled(y, tile, overlap)
        if colour is not None:
            chroma = imresize(ycc[..., 1:], self.scale)
            planes = ycbcr_to_rgb(np.concatenate([y_up[..., None].astype(np.float64) * 255.0, chroma], axis=-1))
        else:
            planes = y_up[..., None].astype(np.float64)
        if alpha is not None:
            planes = np.concatenate([planes, imresize(alpha, self.scale)[..., None]], axis=-1)
        out = from_unit(np.clip(planes, 0.0, 1.0), image.dtype)
        return out[..., 0] if image.ndim == 2 else out
