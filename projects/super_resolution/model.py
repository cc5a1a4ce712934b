"""Super-resolution networks: pure ``build_model(cfg)`` factories and their layers.

Every model maps a low-resolution luma image ``(N, h, w, 1)`` in [0, 1] to ``(N, s·h, s·w, 1)``;
colour (Cb, Cr) and alpha are upscaled by bicubic interpolation outside the network, as in
SRCNN, ESPCN and FSRCNN. Two architectures, both fully convolutional (any input size):

* ``espcn`` (Shi et al. 2016): conv 5×5 → conv 3×3 → conv 3×3 to ``s²`` channels → pixel
  shuffle; the efficient sub-pixel baseline;
* ``edsr`` (Lim et al. 2017, the EDSR-baseline style): a head conv, ``blocks`` residual blocks
  (conv-ReLU-conv, residual scaling, no BatchNorm), a body conv with a long skip, then a conv to
  ``s²`` channels and a pixel shuffle.

With ``global_skip`` (default) the network predicts the correction to the MATLAB-compatible
bicubic upscale, computed in-graph by :class:`BicubicUpsample` (identical to
``resize.imresize(x, s)``), so an untrained network starts at bicubic quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
from keras import ops

from projects.super_resolution.resize import upsample_kernel

PACKAGE = "super_resolution"


@dataclass(frozen=True)
class ModelConfig:
    """One network: ESPCN or EDSR at an upscaling factor ``scale``.

    Raises:
        ValueError: ``arch`` is neither ``espcn`` nor ``edsr``; ``scale`` is not 2, 3 or 4; ``channels`` < 1 or
            ``blocks`` < 0.
    """

    arch: Literal["espcn", "edsr"] = "edsr"
    scale: int = 2
    #: edsr: residual blocks and channels; espcn: channels of the first conv (the second has half)
    blocks: int = 4
    channels: int = 32
    res_scale: float = 1.0
    activation: str = "relu"
    global_skip: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ("espcn", "edsr"):
            raise ValueError(f"arch must be 'espcn' or 'edsr', got {self.arch!r}")
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {self.scale}")
        if self.channels < 1 or self.blocks < 0:
            raise ValueError("channels must be ≥ 1 and blocks ≥ 0")


@keras.saving.register_keras_serializable(package=PACKAGE)
class BicubicUpsample(keras.layers.Layer):
    """MATLAB-compatible bicubic upscaling by an integer factor, as a fixed convolution.

    Symmetric padding by 2, a 5×5 convolution with one filter per output phase (the outer
    product of the per-axis phase weights), then a pixel shuffle.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)
        w = upsample_kernel(self.scale)                                    # (s, 5)
        k = np.einsum("pi,qj->ijpq", w, w).reshape(5, 5, 1, self.scale**2)
        self._kernel = k.astype("float32")

    def call(self, x):
        channels = ops.shape(x)[-1]
        kernel = ops.convert_to_tensor(self._kernel, dtype=self.compute_dtype)
        x = ops.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="symmetric")
        # fold channels into the batch so that each channel is upsampled on its own
        n, h, w = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        x = ops.reshape(ops.transpose(x, (0, 3, 1, 2)), (-1, h, w, 1))
        y = pixel_shuffle(ops.conv(x, kernel, padding="valid"), self.scale)
        y = ops.reshape(y, (n, channels, ops.shape(y)[1], ops.shape(y)[2]))
        return ops.transpose(y, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.scale, None if w is None else w * self.scale, c)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def pixel_shuffle(x, scale: int):
    """``(N, h, w, s²·C)`` → ``(N, s·h, s·w, C)`` (``depth_to_space``)."""
    import tensorflow as tf

    return tf.nn.depth_to_space(x, scale)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al. 2016)."""

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        return pixel_shuffle(x, self.scale)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        s = self.scale
        return (n, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualBlock(keras.layers.Layer):
    """EDSR block: ``x + res_scale · conv(relu(conv(x)))``, no BatchNorm."""

    def __init__(self, channels: int, res_scale: float = 1.0, activation: str = "relu", seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.channels, self.res_scale, self.activation, self.seed = int(channels), float(res_scale), activation, seed
        self.conv1 = keras.layers.Conv2D(self.channels, 3, padding="same", activation=activation,
                                         kernel_initializer=keras.initializers.HeNormal(seed=seed))
        # zero-initialised: every block starts as the identity, so deep stacks train from step one
        self.conv2 = keras.layers.Conv2D(self.channels, 3, padding="same", kernel_initializer="zeros")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(tuple(input_shape[:-1]) + (self.channels,))

    def call(self, x):
        return x + self.res_scale * self.conv2(self.conv1(x))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "res_scale": self.res_scale,
                "activation": self.activation, "seed": self.seed}


def build_model(cfg: ModelConfig, name: str | None = None) -> keras.Model:
    """The network described by ``cfg`` (uncompiled).

    Input ``(batch, h, w, 1)`` luma in [0, 1]; output ``(batch, s·h, s·w, 1)`` luma in about [0, 1], ``s`` =
    ``cfg.scale``.

    Raises:
        ValueError: ``cfg.arch`` is neither ``espcn`` nor ``edsr`` (:class:`ModelConfig` refuses it first).
    """
    s, c = cfg.scale, cfg.channels
    seed = iter(range(cfg.seed * 1000, cfg.seed * 1000 + 1000))
    init = lambda: keras.initializers.HeNormal(seed=next(seed))
    # the last conv starts near zero, so that with global_skip an untrained model is bicubic
    tail_init = lambda: keras.initializers.RandomNormal(stddev=1e-3, seed=next(seed))
    lr = keras.Input((None, None, 1), name="lr")
    x = keras.layers.Rescaling(1.0, offset=-0.5, name="center")(lr)
    if cfg.arch == "espcn":
        x = keras.layers.Conv2D(c, 5, padding="same", activation=cfg.activation, kernel_initializer=init(),
                                name="conv1")(x)
        x = keras.layers.Conv2D(max(c // 2, 1), 3, padding="same", activation=cfg.activation,
                                kernel_initializer=init(), name="conv2")(x)
    elif cfg.arch == "edsr":
        head = keras.layers.Conv2D(c, 3, padding="same", kernel_initializer=init(), name="head")(x)
        x = head
        for i in range(cfg.blocks):
            x = ResidualBlock(c, cfg.res_scale, cfg.activation, seed=cfg.seed * 1000 + 500 + i,
                              name=f"block{i + 1}")(x)
        x = keras.layers.Conv2D(c, 3, padding="same", kernel_initializer=init(), name="body_end")(x)
        x = keras.layers.Add(name="long_skip")([x, head])
    else:  # pragma: no cover - ModelConfig.__post_init__ refuses it first
        raise ValueError(f"unknown arch {cfg.arch!r}")
    x = keras.layers.Conv2D(s * s, 3, padding="same", kernel_initializer=tail_init() if cfg.global_skip else init(),
                            name=f"tail_x{s}")(x)
    out = PixelShuffle(s, name="shuffle")(x)
    if cfg.global_skip:
        out = keras.layers.Add(name="global_skip")([out, BicubicUpsample(s, name="bicubic")(lr)])
    return keras.Model(lr, out, name=name or f"{cfg.arch}_x{s}")


def receptive_radius(cfg: ModelConfig) -> int:
    """How many low-resolution pixels around a pixel can change its output (3×3 conv: 1)."""
    if cfg.arch == "espcn":
        body = 2 + 1 + 1
    else:
        body = 1 + 2 * cfg.blocks + 1 + 1
    return max(body, 2 if cfg.global_skip else 0)


def transfer_body(source: keras.Model, target: keras.Model) -> int:
    """Copy the weights of every layer of ``target`` that ``source`` has, by name and shape; returns the count.

    ×4 from ×2: every layer but the scale-specific tail (``tail_x4`` is not ``tail_x2``). A deeper
    EDSR of the same width from a shallower one: every layer, the extra residual blocks keep
    their zero-initialised last conv, so the deeper net starts as exactly the shallower one.
    """
    copied = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        if [w.shape for w in src.weights] == [w.shape for w in layer.weights]:
            layer.set_weights(src.get_weights())
            copied += 1
    return copied


def load_model(path) -> keras.Model:
    """Load a saved network (this module registers its custom layers)."""
    return keras.saving.load_model(path, compile=False)
