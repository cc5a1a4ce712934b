"""The network of a PINN: a pure ``build_model(cfg, ...)`` factory and its custom layers.

Input: one tensor ``x = [t, p_1, …, p_k]`` of shape ``(N, 1 + k)`` (``k = 0`` unless the
solve is parametric). The layers, each switchable in ``NetworkConfig``:

1. ``Rescale``: every input column to [-1, 1] (input scaling);
2. ``FourierFeatures``: ``[t, sin(2π t B), cos(2π t B)]`` for the time column, so that the
   MLP does not have to build oscillations out of tanh units (spectral bias);
3. a tanh MLP;
4. ``HardInitialCondition``: ``y(t) = y0 + (t − t0)/(t1 − t0) · N(x)``, so ``y(t0) = y0``
   holds exactly and no initial-condition loss term is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
from keras import ops


@dataclass(frozen=True)
class NetworkConfig:
    """The PINN network: an MLP of ``depth`` hidden layers of ``width`` units, with optional Fourier features.

    Raises:
        ValueError: ``width`` or ``depth`` < 1; ``fourier_features`` < 0 or ``fourier_scale`` ≤ 0; ``dtype`` is
            not ``float32`` or ``float64``.
    """

    width: int = 64
    depth: int = 3
    activation: str = "tanh"
    #: number of Fourier frequencies for the time input; 0 disables the features
    fourier_features: int = 16
    #: standard deviation of the (fixed, seeded) frequencies, in cycles per scaled unit
    fourier_scale: float = 2.0
    input_scaling: bool = True
    hard_ic: bool = True
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ValueError("width and depth must be at least 1")
        if self.fourier_features < 0 or self.fourier_scale <= 0:
            raise ValueError("fourier_features must be ≥ 0 and fourier_scale > 0")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")


@keras.saving.register_keras_serializable(package="pinn_ode")
class Rescale(keras.layers.Layer):
    """Maps column ``j`` from ``[low[j], high[j]]`` to ``[-1, 1]``.

    Raises:
        ValueError: ``low`` and ``high`` differ in length, or ``high[j]`` ≤ ``low[j]`` for a column.
    """

    def __init__(self, low: Sequence[float], high: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = [float(v) for v in low], [float(v) for v in high]
        if len(self.low) != len(self.high) or any(h <= lo for lo, h in zip(self.low, self.high)):
            raise ValueError(f"Rescale needs low < high per column, got {self.low} and {self.high}")

    def call(self, x):
        low = ops.convert_to_tensor(self.low, dtype=self.compute_dtype)
        high = ops.convert_to_tensor(self.high, dtype=self.compute_dtype)
        return 2.0 * (x - low) / (high - low) - 1.0

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="pinn_ode")
class FourierFeatures(keras.layers.Layer):
    """``[x, sin(π x B), cos(π x B)]`` with fixed Gaussian frequencies ``B ~ N(0, scale²)``."""

    def __init__(self, num: int, scale: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.num, self.scale, self.seed = int(num), float(scale), int(seed)

    def build(self, input_shape):
        self.frequencies = self.add_weight(
            name="frequencies", shape=(int(input_shape[-1]), self.num), trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=self.scale, seed=self.seed))

    def call(self, x):
        z = 3.141592653589793 * ops.matmul(x, self.frequencies)
        return ops.concatenate([x, ops.sin(z), ops.cos(z)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2 * self.num)

    def get_config(self):
        return {**super().get_config(), "num": self.num, "scale": self.scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="pinn_ode")
class HardInitialCondition(keras.layers.Layer):
    """``y = y0 + (t − t0) / (t1 − t0) · n``: the initial condition holds by construction."""

    def __init__(self, t_span: Sequence[float], y0: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.t_span, self.y0 = [float(v) for v in t_span], [float(v) for v in y0]

    def call(self, inputs):
        x, n = inputs
        y0 = ops.convert_to_tensor(self.y0, dtype=self.compute_dtype)
        t0, t1 = self.t_span
        return y0 + (x[:, :1] - t0) / (t1 - t0) * n

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "t_span": self.t_span, "y0": self.y0}


@keras.saving.register_keras_serializable(package="pinn_ode")
class TakeColumns(keras.layers.Layer):
    """Columns ``[start, stop)`` of a 2-D tensor."""

    def __init__(self, start: int, stop: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), None if stop is None else int(stop)

    def call(self, x):
        return x[:, self.start:self.stop]

    def compute_output_shape(self, input_shape):
        stop = input_shape[-1] if self.stop is None else self.stop
        return (*input_shape[:-1], stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def build_model(cfg: NetworkConfig, *, t_span: Sequence[float], y0: Sequence[float],
                param_ranges: Sequence[tuple[float, float]] = (), name: str = "pinn") -> keras.Model:
    """The PINN network ``x = [t, p…] ↦ y`` for the given problem geometry (pure factory)."""
    dtype = cfg.dtype
    n_params = len(param_ranges)
    x = keras.Input((1 + n_params,), dtype=dtype, name="t_and_params")
    h = x
    if cfg.input_scaling:
        low = [t_span[0], *(lo for lo, _ in param_ranges)]
        high = [t_span[1], *(hi for _, hi in param_ranges)]
        h = Rescale(low, high, dtype=dtype, name="rescale")(h)
    if cfg.fourier_features:
        t_part = TakeColumns(0, 1, dtype=dtype, name="time")(h)
        feats = FourierFeatures(cfg.fourier_features, cfg.fourier_scale, seed=cfg.seed, dtype=dtype,
                                name="fourier")(t_part)
        h = feats if n_params == 0 else keras.layers.Concatenate(dtype=dtype)(
            [feats, TakeColumns(1, None, dtype=dtype, name="params")(h)])
    init = keras.initializers.GlorotNormal
    for i in range(cfg.depth):
        h = keras.layers.Dense(cfg.width, activation=cfg.activation, dtype=dtype, name=f"dense_{i}",
                               kernel_initializer=init(seed=cfg.seed + i))(h)
    out = keras.layers.Dense(len(y0), dtype=dtype, name="head",
                             kernel_initializer=init(seed=cfg.seed + cfg.depth))(h)
    if cfg.hard_ic:
        out = HardInitialCondition(t_span, y0, dtype=dtype, name="hard_ic")([x, out])
    return keras.Model(x, out, name=name)
