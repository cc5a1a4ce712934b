"""Sliding-window inference of the 3D U-Net with halo overlap and Gaussian blending, in bounded memory.

A volume larger than RAM (a zarr array, a TIFF or raw memmap, an HDF5 dataset: any array-like of shape (Z, Y, X)
with numpy slicing) is segmented window by window and written slab by slab:

* each axis is cut into ``ceil(size / tile)`` **cores** of equal length (at most ``tile`` voxels, rounded up to
  the network's divisor), so that no window is spent on a mostly empty last core;
* each core is read with ``halo`` voxels of context on every side (edge-replicated outside the volume), its size
  rounded up to the network's divisor, and run through the network;
* the window's class probabilities are **trusted on the core plus halo/2** on each side (the outer half of the
  halo is context only: there the network sees its own zero padding) and **blended** with the neighbours'
  under a separable Gaussian weight centred on the core (nnU-Net's blending; Isensee et al. 2021), so seams
  between tiles do not show;
* windows are visited row by row along Z; a rolling accumulator of ``(tile + halo)`` slices holds the weighted
  probabilities, and each Z slab of ``tile`` slices is written to ``out`` (argmax labels) as soon as no later
  window can reach it.

Peak memory: the accumulator, ``4 (C + 1) (tile + halo) Y X`` bytes (C classes), plus one window through the
network; it does not grow with Z. A 512³ volume with tile 96 and halo 16: about 0.5 GB of accumulator.

When the halo is at least twice the network's receptive radius (:attr:`ModelConfig.receptive_radius`) and the tile
a multiple of its divisor, the tiled probabilities equal those of the whole volume run at once
(:meth:`Segmenter.probabilities_whole`) up to float rounding; with smaller halos they differ only near seams.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.rock_ct.model import normalise, volume_stats
from shared.io import DataError, read_json

log = logging.getLogger(__name__)

#: class names, in label order (the same as projects/rock_ct/physics.py CLASSES)
CLASSES = ("vesicle", "glass", "crystal")


def _round_up(n: int, k: int) -> int:
    return int(math.ceil(n / k) * k)


def blend_weights(window: int, core_start: int, core: int, trust: int) -> np.ndarray:
    """1D blending weights (float32, length ``window``) of a window whose core is ``[core_start, core_start+core)``.

    A Gaussian centred on the core with sigma ``(core + 2 trust) / 4`` on the trusted span
    ``[core_start - trust, core_start + core + trust)`` and zero outside it (the weight at the edge of the trusted
    span is exp(-2) ≈ 0.14 of the centre's).
    """
    pos = np.arange(window, dtype=np.float64)
    centre = core_start + (core - 1) / 2.0
    sigma = (core + 2 * trust) / 4.0
    w = np.exp(-0.5 * ((pos - centre) / sigma) ** 2)
    w[(pos < core_start - trust) | (pos >= core_start + core + trust)] = 0.0
    return w.astype(np.float32)


@dataclass(frozen=True)
class _Axis:
    """The window layout along one axis: cores of ``tile``, windows of ``window`` starting at ``k*tile - halo``."""

    size: int
    tile: int
    halo: int
    window: int

    @property
    def count(self) -> int:
        return max(1, math.ceil(self.size / self.tile))

    def start(self, k: int) -> int:
        return k * self.tile - self.halo

    def read(self, k: int) -> tuple[int, int, int, int]:
        """``(lo, hi, pad_before, pad_after)``: the slice of the volume read for window k and its edge padding."""
        s = self.start(k)
        lo, hi = max(0, s), min(self.size, s + self.window)
        return lo, hi, lo - s, s + self.window - hi


class Segmenter:
    """The trained network with its normalisation: segments array-likes of any size, window by window.

    Args:
        model: the Keras network (input (B, Z, Y, X, 1) normalised intensity, output (B, Z, Y, X, C) logits).
        divisor: window sizes are multiples of this (2^poolings).
        classes: class names in label order.
        percentiles: the intensity percentiles mapped to -1 and +1 (:func:`projects.rock_ct.model.volume_stats`).
        voxel_size_um: the voxel size the network was trained at (µm; None: unknown).
        receptive_radius: the network's receptive half-width in voxels (for the exactness check of the halo).
    """

    def __init__(self, model, *, divisor: int, classes: Sequence[str] = CLASSES,
                 percentiles: Sequence[float] = (1.0, 99.0), voxel_size_um: float | None = None,
                 receptive_radius: int | None = None):
        import tensorflow as tf

        self.model = model
        self.divisor = int(divisor)
        self.classes = tuple(classes)
        self.percentiles = tuple(float(p) for p in percentiles)
        self.voxel_size_um = voxel_size_um
        self.receptive_radius = receptive_radius

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, None, 1], tf.float32)], reduce_retracing=True)
        def predict(x):
            return tf.nn.softmax(model(x, training=False), axis=-1)

        self._predict = predict

    # ----------------------------------------------------------------- pieces
    def stats(self, array) -> tuple[float, float]:
        """The intensities mapped to -1 and +1 for this volume (see :func:`projects.rock_ct.model.volume_stats`)."""
        return volume_stats(array, self.percentiles)

    def predict_block(self, block: np.ndarray) -> np.ndarray:
        """Class probabilities (Z, Y, X, C) float32 of a normalised block whose sides are multiples of the divisor.

        Raises:
            ValueError: a side is not a multiple of the divisor.
        """
        if any(s % self.divisor for s in block.shape):
            raise ValueError(f"block sides {block.shape} must be multiples of {self.divisor}")
        return self._predict(block[None, ..., None].astype(np.float32, copy=False))[0].numpy()

    def _layout(self, shape: Sequence[int], tile: int, halo: int) -> list[_Axis]:
        if tile < 1 or halo < 0 or halo % 2:
            raise ValueError(f"tile ≥ 1 and an even halo ≥ 0 are required, got tile {tile}, halo {halo}")
        if halo // 2 > tile:
            raise ValueError(f"halo {halo} must be at most twice the tile {tile}")
        axes = []
        for size in shape:
            # ceil(size / tile) cores of equal size (rounded up to the divisor): no mostly-empty last core
            count = max(1, math.ceil(size / tile))
            t = _round_up(math.ceil(size / count), self.divisor)
            axes.append(_Axis(int(size), t, halo, _round_up(t + 2 * halo, self.divisor)))
        return axes

    def _read_window(self, array, axes: list[_Axis], ks: tuple[int, int, int], low: float, high: float) -> np.ndarray:
        reads = [ax.read(k) for ax, k in zip(axes, ks)]
        block = np.asarray(array[tuple(slice(lo, hi) for lo, hi, _, _ in reads)])
        block = normalise(block, low, high)
        pads = [(before, after) for _, _, before, after in reads]
        if any(b or a for b, a in pads):
            block = np.pad(block, pads, mode="edge")
        return block

    # ----------------------------------------------------------------- tiled
    def iter_probabilities(self, array, tile: int = 120, halo: int = 8, *, stats: tuple[float, float] | None = None,
                           progress: bool = True) -> Iterator[tuple[int, int, np.ndarray]]:
        """Blended class probabilities, one Z slab at a time: ``(z0, z1, probabilities (z1-z0, Y, X, C))``.

        Args:
            array: (Z, Y, X) array-like with numpy slicing; read one window at a time.
            tile: largest core side in voxels (each axis is split into equal cores of at most this).
            halo: context voxels on each side of a core (even); the inner half is blended, the outer half only seen.
            stats: the (low, high) intensities of the normalisation; default: :meth:`stats` of ``array``.
            progress: a tqdm bar over the windows.

        Raises:
            DataError: the volume is not 3D, or holds NaNs, or is constant.
            ValueError: tile < 1, an odd or negative halo, or a halo above twice the tile.
        """
        from tqdm.auto import tqdm

        shape = tuple(int(s) for s in array.shape)
        if len(shape) != 3:
            raise DataError(f"a volume must be 3D (Z, Y, X), got shape {shape}")
        low, high = stats if stats is not None else self.stats(array)
        axes = self._layout(shape, tile, halo)
        trust = halo // 2
        weights = [blend_weights(ax.window, ax.halo, ax.tile, trust) for ax in axes]
        n_classes = len(self.classes)
        zax, yax, xax = axes
        span = zax.tile + 2 * trust
        # rolling accumulator over global z [base, base + span): weighted probabilities, then the weight sum
        acc = np.zeros((span, shape[1], shape[2], n_classes + 1), np.float32)
        base = -trust
        written = 0
        bar = tqdm(total=zax.count * yax.count * xax.count, desc="tiles", unit="tile", mininterval=5,
                   disable=not progress)
        try:
            for kz in range(zax.count):
                for ky in range(yax.count):
                    for kx in range(xax.count):
                        window = self._read_window(array, axes, (kz, ky, kx), low, high)
                        prob = self.predict_block(window)
                        self._accumulate(acc, base, prob, weights, axes, (kz, ky, kx), shape)
                        bar.update(1)
                # slices below the next row's trusted span are final
                final = min(shape[0], (kz + 1) * zax.tile - trust) if kz + 1 < zax.count else shape[0]
                if final > written:
                    yield written, final, self._finish(acc[written - base:final - base])
                    written = final
                shift = zax.tile
                acc[:span - shift] = acc[shift:]
                acc[span - shift:] = 0.0
                base += shift
        finally:
            bar.close()

    @staticmethod
    def _accumulate(acc, base, prob, weights, axes, ks, shape) -> None:
        """Add one window's weighted probabilities to the accumulator (global z offset ``base``)."""
        sl_acc, sl_win, ws = [], [], []
        for axis, (ax, k, w) in enumerate(zip(axes, ks, weights)):
            s = ax.start(k)
            nz = np.nonzero(w)[0]
            lo, hi = s + int(nz[0]), s + int(nz[-1]) + 1          # trusted span, global coordinates
            lo, hi = max(lo, 0), min(hi, shape[axis])
            off = base if axis == 0 else 0
            sl_acc.append(slice(lo - off, hi - off))
            sl_win.append(slice(lo - s, hi - s))
            ws.append(w[lo - s:hi - s])
        w3 = ws[0][:, None, None] * ws[1][None, :, None] * ws[2][None, None, :]
        target = acc[tuple(sl_acc)]
        target[..., :-1] += prob[tuple(sl_win)] * w3[..., None]
        target[..., -1] += w3

    @staticmethod
    def _finish(slab: np.ndarray) -> np.ndarray:
        weight = slab[..., -1:]
        if (weight <= 0).any():  # cannot happen with trust ≥ 0: every voxel lies in its own core
            raise RuntimeError("a voxel received no window; the tiling is broken")
        return slab[..., :-1] / weight

    def segment(self, array, out=None, tile: int = 120, halo: int = 8, *, stats: tuple[float, float] | None = None,
                progress: bool = True):
        """Labels (uint8, (Z, Y, X); 0 vesicle, 1 glass, 2 crystal) of a volume, tiled (see module doc).

        Args:
            array: (Z, Y, X) array-like with numpy slicing (numpy, zarr, memmap, h5py), any real dtype.
            out: a writable (Z, Y, X) array-like (zarr array, memmap from ``volumes.create_volume``), written one Z slab
                at a time; None: a new numpy array.
            tile, halo, stats, progress: see :meth:`iter_probabilities`.

        Returns:
            ``out`` (or the new array), filled.

        Raises:
            DataError: the volume is not 3D, holds NaNs or is constant; ``out`` has another shape.
            ValueError: see :meth:`iter_probabilities`.
        """
        shape = tuple(int(s) for s in array.shape)
        if out is None:
            out = np.empty(shape, np.uint8)
        elif tuple(int(s) for s in out.shape) != shape:
            raise DataError(f"the output volume has shape {tuple(out.shape)}, the input {shape}")
        for z0, z1, prob in self.iter_probabilities(array, tile, halo, stats=stats, progress=progress):
            out[z0:z1] = np.argmax(prob, axis=-1).astype(np.uint8)
        return out

    def probabilities(self, array, tile: int = 120, halo: int = 8, **kwargs) -> np.ndarray:
        """All blended probabilities (Z, Y, X, C) float32 in memory (small volumes; tests and the report)."""
        shape = tuple(int(s) for s in array.shape)
        out = np.empty((*shape, len(self.classes)), np.float32)
        for z0, z1, prob in self.iter_probabilities(array, tile, halo, **kwargs):
            out[z0:z1] = prob
        return out

    def probabilities_whole(self, array, halo: int = 16, *, stats: tuple[float, float] | None = None) -> np.ndarray:
        """Probabilities (Z, Y, X, C) of the whole volume in one pass (the reference of the tiled result).

        The volume is edge-padded by ``halo`` before (as the tiles are) and up to a multiple of the divisor after.
        """
        volume = np.asarray(array[...])
        low, high = stats if stats is not None else self.stats(volume)
        pads = [(halo, _round_up(s + 2 * halo, self.divisor) - s - halo) for s in volume.shape]
        block = np.pad(normalise(volume, low, high), pads, mode="edge")
        prob = self.predict_block(block)
        return prob[tuple(slice(halo, halo + s) for s in volume.shape)]


def load_segmenter(model_dir: str | os.PathLike) -> Segmenter:
    """The trained segmenter of a model folder (``model.keras`` and ``train.json`` of the train stage).

    Raises:
        DataError: the folder, the network or ``train.json`` is missing or unreadable.
    """
    from projects.rock_ct.model import load_model

    model_dir = Path(model_dir)
    if not (model_dir / "train.json").is_file():
        raise DataError(f"{model_dir / 'train.json'} not found; run the rock_ct train stage first")
    info = read_json(model_dir / "train.json")
    model = load_model(model_dir / "model.keras")
    try:
        norm = info["normalisation"]
        return Segmenter(model, divisor=int(info["divisor"]), classes=info.get("classes", CLASSES),
                         percentiles=norm["percentiles"], voxel_size_um=info.get("voxel_size_um"),
                         receptive_radius=info.get("receptive_radius"))
    except (KeyError, TypeError) as exc:
        raise DataError(f"{model_dir / 'train.json'} lacks {exc} (written by another version?)") from exc
