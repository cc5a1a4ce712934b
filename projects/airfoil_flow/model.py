"""Surrogates of the flow field: pure ``build_*`` factories and their custom layers and loss.

The U-Nets read the input tensor ``(H, W, 4)`` = [signed distance, body mask, cos α, sin α]
(``pod_residual``: 7 channels, those and POD-RBF's u, v, Cp) and return ``(H, W, 3)`` = [u, v, Cp],
zero inside the body:

* ``design: plain`` sees all four channels and predicts the disturbance of the freestream
  (u − cos α, v − sin α) and Cp;
* ``design: geometry`` sees only the geometry (SDF and mask) and predicts the two *basis*
  flows, for the freestream along x (α = 0°) and along y (α = 90°). Inviscid flow is linear in
  the freestream vector, so ``(u, v) = cos α · basis_0 + sin α · basis_90`` holds exactly, and
  Cp = 1 − u² − v² (Bernoulli). The angle enters only through this combination: the model
  extrapolates in α by construction. ``scale_90`` scales the 90° outputs, whose disturbance is
  an order of magnitude larger than the 0° one.
* ``design: pod_residual`` sees the four channels and the field that POD-RBF (``baselines.PODRegression``)
  predicts for the case, and adds a correction to it; the head starts at zero, so the untrained network *is*
  POD-RBF. POD-RBF interpolates in shape-parameter space and misses what the parameters do not capture; the
  U-Net sees the geometry itself. (The residual-on-a-reduced-order-model idea: e.g. San & Maulik 2018,
  "Neural network closures for nonlinear model order reduction", Adv. Comput. Math. 44.)

``build_cl_mlp`` is the baseline that predicts C_L from the section's Kulfan parameters and α alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
from keras import ops

INPUT_CHANNELS = ("sdf", "mask", "cos_alpha", "sin_alpha")
#: the extra input channels of the pod_residual design: POD-RBF's field of the same case
POD_CHANNELS = ("pod_u", "pod_v", "pod_cp")
OUTPUT_CHANNELS = ("u", "v", "cp")
DESIGNS = ("geometry", "plain", "pod_residual")


def input_channels(design: str) -> tuple[str, ...]:
    """The input channels of a design (``pod_residual`` adds POD-RBF's u, v, Cp)."""
    return INPUT_CHANNELS + POD_CHANNELS if design == "pod_residual" else INPUT_CHANNELS


@dataclass(frozen=True)
class UNetConfig:
    """The field surrogate: U-Net design, width, depth and the basis-flow output scale.

    Raises:
        ValueError: an unknown ``design``, ``filters`` < 1, ``levels`` outside 1 … 7, or ``scale_90`` ≤ 0.
    """

    design: Literal["geometry", "plain", "pod_residual"] = "geometry"
    #: filters of the first level; level k has filters · 2^k
    filters: int = 16
    #: resolution levels (the grid must be divisible by 2^(levels − 1))
    levels: int = 4
    activation: str = "gelu"
    #: add x and y coordinate channels (CoordConv): the flow is not translation-invariant
    coord_channels: bool = True
    #: output scale of the α = 90° basis flow (geometry design)
    scale_90: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"design {self.design!r}: use one of {', '.join(DESIGNS)}")
        if self.filters < 1 or not 1 <= self.levels <= 7:
            raise ValueError(f"filters ≥ 1 and 1 ≤ levels ≤ 7 required, got {self.filters}, {self.levels}")
        if self.scale_90 <= 0:
            raise ValueError(f"scale_90 must be positive, got {self.scale_90}")


@keras.saving.register_keras_serializable(package="airfoil_flow")
class CoordChannels(keras.layers.Layer):
    """Appends the normalised x and y coordinates of each cell, in [-1, 1], as two channels."""

    def call(self, x):
        shape = ops.shape(x)
        h, w = shape[1], shape[2]
        ys = ops.linspace(-1.0, 1.0, h)
        xs = ops.linspace(-1.0, 1.0, w)
        yy = ops.broadcast_to(ops.reshape(ys, (1, -1, 1, 1)), (shape[0], h, w, 1))
        xx = ops.broadcast_to(ops.reshape(xs, (1, 1, -1, 1)), (shape[0], h, w, 1))
        return ops.concatenate([x, ops.cast(xx, x.dtype), ops.cast(yy, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)


@keras.saving.register_keras_serializable(package="airfoil_flow")
class CombineBasis(keras.layers.Layer):
    """[inputs, basis disturbances (4 channels)] → [u, v, Cp] at the input's angle of attack."""

    def __init__(self, scale_90: float = 4.0, **kwargs):
        super().__init__(**kwargs)
        self.scale_90 = float(scale_90)

    def call(self, inputs):
        x, d = inputs
        fluid = 1.0 - x[..., 1:2]
        cos_a, sin_a = x[..., 2:3], x[..., 3:4]
        u0, v0 = 1.0 + d[..., 0:1], d[..., 1:2]
        u90, v90 = self.scale_90 * d[..., 2:3], 1.0 + self.scale_90 * d[..., 3:4]
        u = cos_a * u0 + sin_a * u90
        v = cos_a * v0 + sin_a * v90
        cp = 1.0 - u * u - v * v
        return ops.concatenate([u, v, cp], axis=-1) * fluid

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], 3)

    def get_config(self):
        return {**super().get_config(), "scale_90": self.scale_90}


@keras.saving.register_keras_serializable(package="airfoil_flow")
class AddFreestream(keras.layers.Layer):
    """[inputs, (du, dv, Cp)] → [cos α + du, sin α + dv, Cp], zero inside the body."""

    def call(self, inputs):
        x, d = inputs
        fluid = 1.0 - x[..., 1:2]
        free = ops.concatenate([x[..., 2:4], ops.zeros_like(x[..., :1])], axis=-1)
        return (free + d) * fluid

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], 3)


@keras.saving.register_keras_serializable(package="airfoil_flow")
class AddCorrection(keras.layers.Layer):
    """[inputs (7 channels), correction (3)] → POD-RBF's [u, v, Cp] (input channels 4 … 6) plus the correction,
    zero inside the body."""

    def call(self, inputs):
        x, d = inputs
        return (x[..., 4:7] + d) * (1.0 - x[..., 1:2])

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], 3)


@keras.saving.register_keras_serializable(package="airfoil_flow")
class SelectChannels(keras.layers.Layer):
    """The first ``n`` channels (the geometry design sees only SDF and mask)."""

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, x):
        return x[..., : self.n]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.n)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def _block(h, filters: int, cfg: UNetConfig, name: str, seed: int):
    for i in range(2):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation=cfg.activation, name=f"{name}_conv{i}",
                                kernel_initializer=keras.initializers.HeNormal(seed=seed + i))(h)
    return h


def build_unet(cfg: UNetConfig, grid_shape: tuple[int, int], name: str | None = None) -> keras.Model:
    """The field surrogate ``(H, W, C) → (H, W, 3)`` (pure factory; C = ``len(input_channels(cfg.design))``).

    Inputs per cell: SDF (chords), body mask, cos α, sin α (``pod_residual``: and POD-RBF's u, v, Cp); outputs
    u, v (units of the freestream speed) and Cp. ``grid_shape`` is ``(H, W)``.

    Raises:
        ValueError: ``H`` or ``W`` is not divisible by ``2 ** (cfg.levels − 1)``.
    """
    h_, w_ = grid_shape
    factor = 2 ** (cfg.levels - 1)
    if h_ % factor or w_ % factor:
        raise ValueError(f"grid {h_}×{w_} is not divisible by 2^(levels-1) = {factor}")
    x = keras.Input((h_, w_, len(input_channels(cfg.design))), name="inputs")
    h = SelectChannels(2, name="geometry")(x) if cfg.design == "geometry" else x
    if cfg.coord_channels:
        h = CoordChannels(name="coords")(h)
    skips = []
    for level in range(cfg.levels):
        h = _block(h, cfg.filters * 2**level, cfg, f"down{level}", cfg.seed + 10 * level)
        if level < cfg.levels - 1:
            skips.append(h)
            h = keras.layers.MaxPooling2D(2, name=f"pool{level}")(h)
    for level in reversed(range(cfg.levels - 1)):
        h = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}")(h)
        h = keras.layers.Concatenate(name=f"skip{level}")([h, skips[level]])
        h = _block(h, cfg.filters * 2**level, cfg, f"dec{level}", cfg.seed + 100 + 10 * level)
    n_out = 4 if cfg.design == "geometry" else 3
    # pod_residual starts as POD-RBF itself: a zero head adds no correction
    head_init = "zeros" if cfg.design == "pod_residual" else keras.initializers.GlorotNormal(cfg.seed)
    d = keras.layers.Conv2D(n_out, 1, name="head", kernel_initializer=head_init, bias_initializer="zeros")(h)
    if cfg.design == "geometry":
        out = CombineBasis(cfg.scale_90, name="combine")([x, d])
    elif cfg.design == "pod_residual":
        out = AddCorrection(name="correct_pod")([x, d])
    else:
        out = AddFreestream(name="freestream")([x, d])
    return keras.Model(x, out, name=name or f"unet_{cfg.design}")


# --------------------------------------------------------------------------- loss and metrics
@keras.saving.register_keras_serializable(package="airfoil_flow")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error over fluid cells only.

    ``y_true`` is ``(H, W, 4)``: u, v, Cp and the fluid indicator (1 in the fluid, 0 inside
    the body), so that cells inside the body never contribute. ``weights`` weight u, v, Cp.
    """

    def __init__(self, weights: tuple[float, float, float] = (1.0, 1.0, 0.25), name: str = "masked_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weights = tuple(float(w) for w in weights)

    def call(self, y_true, y_pred):
        fluid = y_true[..., 3:4]
        w = ops.convert_to_tensor(self.weights, dtype=y_pred.dtype)
        sq = ops.square(y_pred - y_true[..., :3]) * fluid * w
        return ops.sum(sq, axis=(1, 2, 3)) / (ops.sum(fluid, axis=(1, 2, 3)) + 1e-6)

    def get_config(self):
        return {**super().get_config(), "weights": list(self.weights)}


def masked_rmse(channel: int, name: str):
    """A Keras metric: RMSE of one output channel over fluid cells."""

    def metric(y_true, y_pred):
        fluid = y_true[..., 3]
        err = ops.square(y_pred[..., channel] - y_true[..., channel]) * fluid
        return ops.sqrt(ops.sum(err) / (ops.sum(fluid) + 1e-6))

    metric.__name__ = name
    return metric


# --------------------------------------------------------------------------- C_L baseline
@dataclass(frozen=True)
class MLPConfig:
    """The C_L baseline MLP.

    Raises:
        ValueError: ``width`` or ``depth`` < 1.
    """

    width: int = 64
    depth: int = 3
    activation: str = "gelu"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ValueError("width and depth must be at least 1")


def build_cl_mlp(cfg: MLPConfig, mean, std, name: str = "cl_mlp") -> keras.Model:
    """C_L from the shape parameters and α (deg): ``(n, F) → (n, 1)``; inputs are standardised with
    the training ``mean``/``std`` (each of length F)."""
    x = keras.Input((len(mean),), name="shape_params_alpha")
    h = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="standardise")(x)
    for i in range(cfg.depth):
        h = keras.layers.Dense(cfg.width, activation=cfg.activation, name=f"dense{i}",
                               kernel_initializer=keras.initializers.GlorotUniform(cfg.seed + i))(h)
    out = keras.layers.Dense(1, name="cl", kernel_initializer=keras.initializers.GlorotUniform(cfg.seed + 99))(h)
    return keras.Model(x, out, name=name)
