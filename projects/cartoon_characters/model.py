"""The multi-label CNN: a small convolutional network trained from scratch, with the head as a param.

``build_model(cfg)`` is pure (no data, no files): uint8 frames ``(n, S, S, 3)`` in, one logit per character
``(n, C)`` out. The backbone is ``len(widths)`` stages of ``convs_per_stage`` × (3×3 convolution, batch norm, ReLU),
the stem (first convolution) downsampling by ``stem_stride``, a 2×2 max pooling between stages; its last convolutional
map is the layer ``features`` (what Grad-CAM differentiates). The head (layer ``head``) is one of:

* ``gap``: global average pooling, dropout, a dense layer (the ResNet-101 GAP baseline of multi-label MS-COCO);
* ``gmp``: global max pooling, dropout, a dense layer (max pooling keeps the evidence of a small object that an
  average over the whole frame dilutes; Durand et al. 2017, WILDCAT);
* ``attention``: spatial class-query attention. Each character has a learned query; its attention over the
  positions of the feature map (softmax of query · key / √d) pools a class-specific feature vector, and a
  per-class linear map turns it into that class's logit. A one-layer, single-head form of the query-based heads of
  Query2Label (Liu et al. 2021) and ML-Decoder (Ridnik et al. 2023).

Both heads are Keras layers with ``get_config``, registered for ``keras.saving.load_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
from keras import layers, ops

FEATURES = "features"
HEAD = "head"
HEADS = ("gap", "gmp", "attention")
PACKAGE = "cartoon_characters"


@dataclass(frozen=True)
class ModelConfig:
    #: the head on the last convolutional map: gap | gmp | attention
    head: Literal["gap", "gmp", "attention"] = "attention"
    #: channels of the backbone stages (a 2×2 max pooling between stages)
    widths: tuple[int, ...] = (32, 64)
    convs_per_stage: int = 2
    #: downsampling of the stem: 1, 2 (the first convolution with stride 2) or 4 (stride 2, then 2×2 max pooling);
    #: each factor 2 quarters the work of every later layer
    stem_stride: int = 4
    #: attention head: width of queries, keys and values
    attention_dim: int = 64
    dropout: float = 0.1
    #: set by the train stage from the prepared data
    n_classes: int = 10
    size: int = 64
    bn_momentum: float = 0.9

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if not self.widths or min(self.widths) < 1 or self.convs_per_stage < 1:
            raise ValueError("widths (≥ 1 stage, each ≥ 1 channel) and convs_per_stage ≥ 1 are required")
        if self.n_classes < 1 or self.attention_dim < 1 or not 0 <= self.dropout < 1:
            raise ValueError("n_classes ≥ 1, attention_dim ≥ 1 and 0 ≤ dropout < 1 are required")
        if self.stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {self.stem_stride}")
        if self.size % self.divisor:
            raise ValueError(f"size {self.size} must be a multiple of stem_stride × 2^(stages - 1) = {self.divisor}")

    @property
    def divisor(self) -> int:
        """The ratio of the frame side to the side of the last convolutional map."""
        return self.stem_stride * 2 ** (len(self.widths) - 1)

    @property
    def feature_size(self) -> int:
        """Side of the last convolutional map."""
        return self.size // self.divisor


@keras.saving.register_keras_serializable(package=PACKAGE)
class GlobalPoolHead(layers.Layer):
    """Global average (``pool="avg"``) or max (``pool="max"``) pooling, dropout and a dense layer to C logits."""

    def __init__(self, n_classes: int, pool: str = "avg", dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be avg or max, got {pool!r}")
        self.n_classes, self.pool, self.dropout_rate = int(n_classes), pool, float(dropout)
        self.drop = layers.Dropout(self.dropout_rate)
        self.dense = layers.Dense(self.n_classes, name="logits")

    def build(self, input_shape):
        self.dense.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, features, training=None):
        pooled = ops.mean(features, axis=(1, 2)) if self.pool == "avg" else ops.max(features, axis=(1, 2))
        return self.dense(self.drop(pooled, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "pool": self.pool, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClassQueryAttentionHead(layers.Layer):
    """Spatial class-query attention: one learned query per class attends over the H×W positions.

    For features ``F`` (n, H, W, D): keys ``K = F W_k`` and values ``V = F W_v`` (n, HW, d); attention
    ``A = softmax_HW(Q Kᵀ / √d)`` (n, C, HW) with the learned queries ``Q`` (C, d); class features ``Z = A V``
    (n, C, d); logit ``c`` = ``⟨Z_c, w_c⟩ + b_c`` (a separate linear map per class). ``attention(features)``
    returns ``A`` reshaped to (n, C, H, W), for the report.
    """

    def __init__(self, n_classes: int, dim: int = 64, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_classes, self.dim, self.dropout_rate = int(n_classes), int(dim), float(dropout)
        self.key = layers.Dense(self.dim, name="key")
        self.value = layers.Dense(self.dim, name="value")
        self.drop = layers.Dropout(self.dropout_rate)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.key.build((None, channels))
        self.value.build((None, channels))
        self.queries = self.add_weight(shape=(self.n_classes, self.dim), initializer="glorot_uniform", name="queries")
        self.class_weights = self.add_weight(shape=(self.n_classes, self.dim), initializer="glorot_uniform",
                                             name="class_weights")
        self.class_bias = self.add_weight(shape=(self.n_classes,), initializer="zeros", name="class_bias")
        self.built = True

    def _attention(self, features):
        shape = ops.shape(features)
        flat = ops.reshape(features, (shape[0], shape[1] * shape[2], shape[3]))
        keys = self.key(flat)                                                   # (n, HW, d)
        scores = ops.einsum("cd,npd->ncp", self.queries, keys) / self.dim ** 0.5
        return ops.softmax(scores, axis=-1), flat                               # (n, C, HW)

    def call(self, features, training=None):
        attn, flat = self._attention(features)
        values = self.value(flat)                                               # (n, HW, d)
        pooled = self.drop(ops.einsum("ncp,npd->ncd", attn, values), training=training)
        return ops.einsum("ncd,cd->nc", pooled, self.class_weights) + self.class_bias

    def attention(self, features):
        """The attention maps (n, C, H, W) of each class over the feature map."""
        attn, _ = self._attention(features)
        shape = ops.shape(features)
        return ops.reshape(attn, (shape[0], self.n_classes, shape[1], shape[2]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "dim": self.dim, "dropout": self.dropout_rate}


def build_head(cfg: ModelConfig) -> layers.Layer:
    """The head layer of ``cfg.head`` (named ``head``)."""
    if cfg.head == "attention":
        return ClassQueryAttentionHead(cfg.n_classes, cfg.attention_dim, cfg.dropout, name=HEAD)
    return GlobalPoolHead(cfg.n_classes, "avg" if cfg.head == "gap" else "max", cfg.dropout, name=HEAD)


def build_model(cfg: ModelConfig) -> keras.Model:
    """The CNN of ``cfg``: uint8 frames (n, S, S, 3) → logits (n, C). Pure: no data, no files.

    Returns:
        an uncompiled ``keras.Model`` named ``cartoon_<head>`` whose layer ``features`` is the last
        convolutional map and layer ``head`` maps it to the logits.
    """
    inputs = keras.Input((cfg.size, cfg.size, 3), dtype="uint8", name="frames")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(ops.cast(inputs, "float32"))
    for stage, width in enumerate(cfg.widths):
        if stage:
            x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for i in range(cfg.convs_per_stage):
            last = stage == len(cfg.widths) - 1 and i == cfg.convs_per_stage - 1
            stride = min(cfg.stem_stride, 2) if stage == 0 and i == 0 else 1
            x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"conv{stage}_{i}")(x)
            x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"bn{stage}_{i}")(x)
            x = layers.ReLU(name=FEATURES if last else f"relu{stage}_{i}")(x)
            if stage == 0 and i == 0 and cfg.stem_stride == 4:
                x = layers.MaxPooling2D(2, name="stem_pool")(x)
    logits = build_head(cfg)(x)
    return keras.Model(inputs, logits, name=f"cartoon_{cfg.head}")
