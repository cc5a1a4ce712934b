"""The 3D U-Net of rock_ct: a pure ``build_model(cfg)`` factory (Keras 3, trained from scratch), and the intensity
normalisation that every user of the network applies before it.

Architecture (Çiçek et al. 2016, "3D U-Net", made small for 2 CPU cores):

* **encoder**: per level two 3×3×3 convolutions (batch norm, ReLU), then 2×2×2 max pooling; ``widths`` gives the
  channels per level, the last level is the bottleneck;
* **decoder**: 2×2×2 nearest up-sampling, concatenation with the encoder's skip, two 3×3×3 convolutions;
* **head**: a 1×1×1 convolution to ``n_classes`` logits (float32, also under mixed precision).

Input ``(B, Z, Y, X, 1)`` float32, the *normalised* intensity (:func:`normalise`); output ``(B, Z, Y, X, C)`` logits
of the classes (0 vesicle, 1 glass, 2 crystal). Fully convolutional: any size that is a multiple of
``cfg.divisor = 2 ** (len(widths) - 1)`` along each axis.

Normalisation is per volume (robust percentiles, :func:`volume_stats`): an acquisition with another contrast or
offset maps to the same range, which a fixed mean/std learnt on the training scans would not do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PACKAGE = "rock_ct"

#: voxels sampled (at most) by :func:`volume_stats` to estimate the percentiles of a volume
STATS_SAMPLE = 2_000_000


@dataclass(frozen=True)
class ModelConfig:
    #: channels per level; len(widths) - 1 poolings (the last width is the bottleneck)
    widths: tuple[int, ...] = (8, 16, 32)
    #: 3×3×3 convolutions per level (encoder and decoder)
    convs_per_level: int = 2
    bn_momentum: float = 0.9
    #: dropout at the bottleneck
    dropout: float = 0.0
    n_classes: int = 3

    def __post_init__(self) -> None:
        if len(self.widths) < 1 or min(self.widths) < 1 or self.convs_per_level < 1 or self.n_classes < 2:
            raise ValueError("at least one positive width, convs_per_level ≥ 1 and n_classes ≥ 2 are required")
        if not 0 <= self.dropout < 1 or not 0 < self.bn_momentum < 1:
            raise ValueError("0 ≤ dropout < 1 and 0 < bn_momentum < 1 are required")

    @property
    def divisor(self) -> int:
        """Input sizes must be multiples of this along every axis."""
        return 2 ** (len(self.widths) - 1)

    @property
    def receptive_radius(self) -> int:
        """Voxels of context on each side that reach one output voxel (the receptive field's half-width)."""
        radius = 0
        for level in range(len(self.widths)):
            convs = self.convs_per_level * (1 if level == len(self.widths) - 1 else 2)
            radius += convs * 2 ** level
            if level < len(self.widths) - 1:
                radius += 2 ** level  # the pooling window
        return radius


def build_model(cfg: ModelConfig):
    """The 3D U-Net: input ``(None, None, None, 1)`` normalised intensity, output ``(..., n_classes)`` logits.

    Pure: the same config gives the same architecture (weights come from Keras' global seed).
    """
    import keras
    from keras import layers

    def conv_block(x, filters: int, name: str):
        for i in range(cfg.convs_per_level):
            x = layers.Conv3D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i + 1}")(x)
            x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn{i + 1}")(x)
            x = layers.ReLU(name=f"{name}_relu{i + 1}")(x)
        return x

    inputs = keras.Input(shape=(None, None, None, 1), name="intensity")
    x = inputs
    skips = []
    for level, width in enumerate(cfg.widths[:-1]):
        x = conv_block(x, width, f"enc{level + 1}")
        skips.append(x)
        x = layers.MaxPooling3D(2, name=f"pool{level + 1}")(x)
    x = conv_block(x, cfg.widths[-1], "bottleneck")
    if cfg.dropout:
        x = layers.Dropout(cfg.dropout, name="bottleneck_dropout")(x)
    for level in range(len(cfg.widths) - 2, -1, -1):
        x = layers.UpSampling3D(2, name=f"up{level + 1}")(x)
        x = layers.Concatenate(name=f"concat{level + 1}")([x, skips[level]])
        x = conv_block(x, cfg.widths[level], f"dec{level + 1}")
    logits = layers.Conv3D(cfg.n_classes, 1, name="logits_conv")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(inputs, logits, name="unet3d")


def load_model(path):
    """Load a saved network (``model.keras``).

    Raises:
        DataError: the file is missing or cannot be loaded.
    """
    from pathlib import Path

    import keras

    from shared.io import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run the rock_ct train stage first")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise DataError(f"{path} cannot be loaded (corrupt?): {exc}") from exc


# --------------------------------------------------------------------------- intensity normalisation
def volume_stats(array, percentiles: Sequence[float] = (1.0, 99.0), sample: int = STATS_SAMPLE) -> tuple[float, float]:
    """Robust low/high intensity of a volume: the given percentiles of a regular subsample.

    Reads at most about ``sample`` voxels: evenly spaced Z slices, strided in Y and X, so a volume larger than RAM
    (a zarr array, a memmap) is never loaded whole.

    Args:
        array: (Z, Y, X) array-like with numpy slicing (numpy, zarr, memmap, h5py dataset), any real dtype.
        percentiles: low and high percentile, in percent.

    Returns:
        ``(low, high)`` in the volume's intensity units, ``high > low``.

    Raises:
        DataError: the volume is not 3D, holds NaN or infinite values, or is constant.
    """
    from shared.io import DataError

    shape = tuple(int(s) for s in array.shape)
    if len(shape) != 3:
        raise DataError(f"a volume must be 3D (Z, Y, X), got shape {shape}")
    total = int(np.prod(shape))
    if total <= sample:
        values = np.asarray(array[...])
    else:
        n_slices = int(min(shape[0], 32))
        per_slice = sample // n_slices
        stride = max(1, int(np.ceil(np.sqrt(shape[1] * shape[2] / per_slice))))
        zs = np.unique(np.linspace(0, shape[0] - 1, n_slices).round().astype(int))
        values = np.stack([np.asarray(array[int(z), ::stride, ::stride]) for z in zs])
    values = values.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        raise DataError("the volume holds NaN or infinite values; mask or fill them before segmenting")
    low, high = np.percentile(values, list(percentiles))
    if not high > low:
        low, high = float(values.min()), float(values.max())
        if not high > low:
            raise DataError(f"the volume is constant ({low:g}); nothing to segment")
    return float(low), float(high)


def normalise(block: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map intensities so that ``low`` → -1 and ``high`` → +1 (float32, not clipped), the network's input scale.

    Raises:
        DataError: the block holds NaN values.
    """
    out = (np.asarray(block, dtype=np.float32) - np.float32(low)) * np.float32(2.0 / (high - low)) - np.float32(1.0)
    if np.isnan(out).any():
        from shared.io import DataError

        raise DataError("the volume holds NaN values; mask or fill them before segmenting")
    return out
