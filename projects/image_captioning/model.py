"""The captioning networks: a pure ``build_model(cfg, image_size, vocab_size, seq_len)`` factory.

Encoder (both decoders): a small CNN trained from scratch (stride-2 convolution stages with BatchNorm and ReLU,
then a 1×1 projection) that keeps the spatial feature map, flattened to ``L = h·w`` positions of ``dim`` channels,
plus a learned position embedding per cell (captions name spatial relations: left of, above). Optionally a
``keras.applications.MobileNetV2`` backbone whose ImageNet weights a user has as a local file (nothing is
downloaded).

Decoder A, :class:`TransformerDecoder`: token + position embeddings, then per layer causal self-attention,
cross-attention over the ``L`` feature positions and a feed-forward block (post-norm, as Vaswani et al. 2017 and
the keras-io captioning example).

Decoder B, :class:`AttentionLSTMDecoder`: Show, Attend and Tell (Xu et al. 2015) with soft attention: the LSTM
state starts from the mean feature, each step attends over the ``L`` positions (additive attention), a gating
scalar β scales the context, the LSTM reads [word embedding, context], and the deep output layer combines the
embedding, the hidden state and the context. The doubly stochastic regularisation (paper eq. 14) is added as a
layer loss: ``doubly_stochastic · mean_l (1 - Σ_t α_tl)²`` (the paper's λ Σ_l with λ = doubly_stochastic / L,
so its weight does not grow with the size of the feature map), with ``t`` over the caption's real tokens.

The training model maps ``{"image": (B, S, S, 3) uint8, "tokens": (B, C, T) int}`` to logits ``(B, C, T, V)``
(C reference captions per image share one pass of the encoder)
(teacher forcing: the tokens are ``[start] w1 … wn`` and the targets ``w1 … wn [end]``, 0 = padding). Its
layers ``encoder`` and ``decoder`` serve the step-wise decoding of :mod:`projects.image_captioning.decoding`.
Custom layers implement ``get_config`` and are registered, so ``keras.saving.load_model`` restores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import keras
from keras import layers, ops

PACKAGE = "image_captioning"
DECODERS = ("transformer", "lstm")


@dataclass(frozen=True)
class EncoderConfig:
    """The CNN encoder.

    Raises:
        ValueError: ``widths`` empty or not positive, ``blocks_per_stage`` < 1, ``dim`` < 1, or ``backbone`` is
            ``mobilenet_v2`` without ``pretrained_weights``' file existing (checked when the model is built).
    """

    backbone: Literal["scratch", "mobilenet_v2"] = "scratch"
    #: channels of the stride-2 stages (a 64-pixel image and 3 stages give an 8×8 map, L = 64)
    widths: tuple[int, ...] = (32, 64, 128)
    #: extra 3×3 convolutions (stride 1) per stage
    blocks_per_stage: int = 1
    #: channels of the projected feature map that the decoders attend over
    dim: int = 128
    bn_momentum: float = 0.9
    dropout: float = 0.1
    #: mobilenet_v2 only: a local ImageNet weights file (``include_top=False``); required for that backbone
    pretrained_weights: str | None = None

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 1 or self.blocks_per_stage < 0 or self.dim < 1:
            raise ValueError("widths must be positive, blocks_per_stage ≥ 0 and dim ≥ 1")
        if not 0 <= self.dropout < 1 or not 0 < self.bn_momentum < 1:
            raise ValueError("0 ≤ dropout < 1 and 0 < bn_momentum < 1 are required")


@dataclass(frozen=True)
class TransformerConfig:
    """Decoder A.

    Raises:
        ValueError: a size < 1, ``dim`` not divisible by ``heads``, or ``dropout`` outside [0, 1).
    """

    dim: int = 128
    heads: int = 4
    layers: int = 2
    ff_dim: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if min(self.dim, self.heads, self.layers, self.ff_dim) < 1 or self.dim % self.heads:
            raise ValueError("dim, heads, layers and ff_dim ≥ 1 with dim divisible by heads are required")
        if not 0 <= self.dropout < 1:
            raise ValueError("0 ≤ dropout < 1 is required")


@dataclass(frozen=True)
class LSTMConfig:
    """Decoder B (Show, Attend and Tell, soft attention).

    Raises:
        ValueError: a size < 1, ``dropout`` outside [0, 1) or ``doubly_stochastic`` < 0.
    """

    embed_dim: int = 128
    units: int = 256
    attention_dim: int = 128
    dropout: float = 0.3
    #: weight of the doubly stochastic attention regularisation (mean over positions; 0 switches it off)
    doubly_stochastic: float = 1.0

    def __post_init__(self) -> None:
        if min(self.embed_dim, self.units, self.attention_dim) < 1:
            raise ValueError("embed_dim, units and attention_dim ≥ 1 are required")
        if not 0 <= self.dropout < 1 or self.doubly_stochastic < 0:
            raise ValueError("0 ≤ dropout < 1 and doubly_stochastic ≥ 0 are required")


@dataclass(frozen=True)
class ModelConfig:
    """Encoder and both decoders' settings; ``build_model`` builds one decoder at a time."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    lstm: LSTMConfig = field(default_factory=LSTMConfig)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding per position to ``(B, L, D)`` features (L and D fixed when built)."""

    def build(self, input_shape):
        self.embedding = self.add_weight(name="embedding", shape=(int(input_shape[1]), int(input_shape[2])),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + ops.expand_dims(ops.cast(self.embedding, x.dtype), 0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerDecoder(layers.Layer):
    """Causal Transformer decoder with cross-attention over image features.

    ``call(tokens (B, T) or (B, C, T) int, features (B, L, D))`` → logits ``(B, [C,] T, vocab_size)``: with C
    captions per image, the memory (the projected features, and the keys and values of cross-attention) is
    computed once per image. ``call_with_attention`` also returns the last layer's cross-attention averaged over
    heads, ``(B, [C,] T, L)``.
    Positions beyond ``max_len`` have no embedding.
    """

    def __init__(self, vocab_size: int, max_len: int, dim: int = 128, heads: int = 4, num_layers: int = 2,
                 ff_dim: int = 256, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.dim, self.heads = vocab_size, max_len, dim, heads
        self.num_layers, self.ff_dim, self.dropout_rate = num_layers, ff_dim, dropout
        self.token_embedding = layers.Embedding(vocab_size, dim, name="token_embedding")
        self.position_embedding = layers.Embedding(max_len, dim, name="position_embedding")
        self.feature_projection = layers.Dense(dim, name="feature_projection")
        self.blocks = []
        for i in range(num_layers):
            self.blocks.append({
                "self": layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"self_attention_{i}"),
                "self_norm": layers.LayerNormalization(name=f"self_norm_{i}"),
                "cross": layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"cross_attention_{i}"),
                "cross_norm": layers.LayerNormalization(name=f"cross_norm_{i}"),
                "ff1": layers.Dense(ff_dim, activation="relu", name=f"ff1_{i}"),
                "ff2": layers.Dense(dim, name=f"ff2_{i}"),
                "ff_norm": layers.LayerNormalization(name=f"ff_norm_{i}"),
            })
        self.drop = layers.Dropout(dropout)
        self.out = layers.Dense(vocab_size, name="logits")

    def build(self, tokens_shape, features_shape=None):
        features_shape = features_shape or (None, None, self.dim)
        seq = (None, None, self.dim)
        self.token_embedding.build(tokens_shape)
        self.position_embedding.build((None,))
        self.feature_projection.build(features_shape)
        for block in self.blocks:
            block["self"].build(seq, seq)
            block["cross"].build(seq, seq)
            for name in ("self_norm", "cross_norm", "ff_norm"):
                block[name].build(seq)
            block["ff1"].build(seq)
            block["ff2"].build((None, None, self.ff_dim))
        self.out.build(seq)

    def call_with_attention(self, tokens, features, training=None):
        grouped = len(tokens.shape) == 3
        if not grouped:
            tokens = ops.expand_dims(tokens, 1)
        shape = ops.shape(tokens)                                     # (B, C, T): C captions of one image
        b, c, length = shape[0], shape[1], shape[2]
        flat = ops.reshape(tokens, (-1, length))
        x = self.token_embedding(flat) * (self.dim ** 0.5)
        x = x + ops.expand_dims(self.position_embedding(ops.arange(length)), 0)
        x = self.drop(x, training=training)
        memory = self.feature_projection(features)                    # once per image, not per caption
        scores = None
        for block in self.blocks:
            a = block["self"](x, x, use_causal_mask=True, training=training)
            x = block["self_norm"](x + self.drop(a, training=training))
            # cross-attention is position-wise: the C·T queries of an image attend to its memory in one call
            a, scores = block["cross"](ops.reshape(x, (b, -1, self.dim)), memory, return_attention_scores=True,
                                       training=training)
            x = block["cross_norm"](x + self.drop(ops.reshape(a, (-1, length, self.dim)), training=training))
            f = block["ff2"](self.drop(block["ff1"](x), training=training))
            x = block["ff_norm"](x + self.drop(f, training=training))
        logits = ops.reshape(self.out(x), (b, c, length, self.vocab_size))
        attention = ops.reshape(ops.mean(scores, axis=1), (b, c, length, -1))
        if not grouped:
            logits, attention = logits[:, 0], attention[:, 0]
        return logits, attention

    def call(self, tokens, features, training=None):
        return self.call_with_attention(tokens, features, training=training)[0]

    def compute_output_shape(self, tokens_shape, features_shape=None):
        return (*tokens_shape, self.vocab_size)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len, "dim": self.dim,
                "heads": self.heads, "num_layers": self.num_layers, "ff_dim": self.ff_dim,
                "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionLSTMDecoder(layers.Layer):
    """Show-Attend-Tell soft-attention LSTM decoder.

    ``call(tokens (B, T) int, features (B, L, D))`` → logits ``(B, T, vocab_size)`` (the loop over T is unrolled),
    adding the doubly stochastic regularisation as a layer loss in training. Step-wise decoding:
    ``initial_state(features)`` → ``[h, c]``; ``step(token (B,), state, features)`` → logits ``(B, V)``, new
    state and the attention weights ``(B, L)``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 128, units: int = 256, attention_dim: int = 128,
                 dropout: float = 0.3, doubly_stochastic: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units
        self.attention_dim, self.dropout_rate, self.doubly_stochastic = attention_dim, dropout, doubly_stochastic
        self.embedding = layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.init_h = layers.Dense(units, activation="tanh", name="init_h")
        self.init_c = layers.Dense(units, activation="tanh", name="init_c")
        self.att_features = layers.Dense(attention_dim, name="attention_features")
        self.att_hidden = layers.Dense(attention_dim, name="attention_hidden")
        self.att_score = layers.Dense(1, name="attention_score")
        self.gate = layers.Dense(1, activation="sigmoid", name="gate")
        self.cell = layers.LSTMCell(units, name="lstm_cell")
        self.out_hidden = layers.Dense(embed_dim, name="out_hidden")
        self.out_context = layers.Dense(embed_dim, use_bias=False, name="out_context")
        self.drop = layers.Dropout(dropout)
        self.out = layers.Dense(vocab_size, name="logits")

    def build(self, tokens_shape, features_shape=None):
        d = int(features_shape[-1]) if features_shape is not None and features_shape[-1] else None
        if d is None:
            raise ValueError("AttentionLSTMDecoder needs the feature dimension to build")
        self.embedding.build(tokens_shape)
        self.init_h.build((None, d))
        self.init_c.build((None, d))
        self.att_features.build((None, None, d))
        self.att_hidden.build((None, self.units))
        self.att_score.build((None, None, self.attention_dim))
        self.gate.build((None, self.units))
        self.cell.build((None, self.embed_dim + d))
        self.out_hidden.build((None, self.units))
        self.out_context.build((None, d))
        self.out.build((None, self.embed_dim))

    def initial_state(self, features):
        mean = ops.mean(features, axis=1)
        return [self.init_h(mean), self.init_c(mean)]

    def _step(self, embedded, state, features, projected, training=None):
        h, c = state
        energy = ops.tanh(projected + ops.expand_dims(self.att_hidden(h), 1))
        alpha = ops.softmax(ops.squeeze(self.att_score(energy), -1), axis=-1)           # (B, L)
        context = ops.sum(features * ops.expand_dims(alpha, -1), axis=1) * self.gate(h)  # (B, D)
        h, (h, c) = self.cell(ops.concatenate([embedded, context], -1), [h, c], training=training)
        deep = embedded + self.out_hidden(h) + self.out_context(context)
        return self.out(self.drop(deep, training=training)), [h, c], alpha

    def step(self, token, state, features, projected=None):
        """One decoding step (inference): ``token (B,)`` int → logits ``(B, V)``, new ``[h, c]``, alpha ``(B, L)``."""
        projected = self.att_features(features) if projected is None else projected
        return self._step(self.embedding(token), state, features, projected, training=False)

    def call(self, tokens, features, training=None):
        embedded = self.embedding(tokens)
        projected = self.att_features(features)
        state = self.initial_state(features)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            out, state, alpha = self._step(embedded[:, t], state, features, projected, training=training)
            logits.append(out)
            alphas.append(alpha)
        if self.doubly_stochastic > 0:
            mask = ops.cast(ops.not_equal(tokens, 0), alphas[0].dtype)                  # (B, T)
            coverage = ops.sum(ops.stack(alphas, 1) * ops.expand_dims(mask, -1), axis=1)  # (B, L)
            rows = ops.cast(ops.any(ops.not_equal(tokens, 0), axis=1), mask.dtype)     # all-padding rows: none
            penalty = ops.mean(ops.square(1.0 - coverage), axis=1)
            self.add_loss(self.doubly_stochastic * ops.sum(penalty * rows) / ops.maximum(ops.sum(rows), 1.0))
        return ops.stack(logits, 1)

    def compute_output_shape(self, tokens_shape, features_shape=None):
        return (*tokens_shape, self.vocab_size)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embed_dim": self.embed_dim,
                "units": self.units, "attention_dim": self.attention_dim, "dropout": self.dropout_rate,
                "doubly_stochastic": self.doubly_stochastic}


def build_encoder(cfg: EncoderConfig, image_size: int) -> keras.Model:
    """The CNN: ``(B, S, S, 3)`` uint8 → features ``(B, L, dim)``, L = (S / 2^len(widths))².

    Raises:
        FileNotFoundError: ``backbone: mobilenet_v2`` and ``pretrained_weights`` is not an existing file.
    """
    from pathlib import Path

    image = keras.Input((image_size, image_size, 3), name="image", dtype="uint8")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(ops.cast(image, "float32"))
    if cfg.backbone == "mobilenet_v2":
        if not cfg.pretrained_weights or not Path(cfg.pretrained_weights).is_file():
            raise FileNotFoundError(f"encoder.pretrained_weights: no weights file at {cfg.pretrained_weights!r} "
                                    "(put the MobileNetV2 no-top ImageNet .h5 there; nothing is downloaded)")
        base = keras.applications.MobileNetV2(include_top=False, weights=None,
                                              input_shape=(image_size, image_size, 3))
        base.load_weights(cfg.pretrained_weights)
        base.trainable = False
        x = base(x)
    else:
        for i, width in enumerate(cfg.widths):
            x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"stage{i}_down")(x)
            x = layers.ReLU()(layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"stage{i}_bn")(x))
            for j in range(cfg.blocks_per_stage):
                y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{i}_conv{j}")(x)
                y = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"stage{i}_bn{j}")(y)
                x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.Conv2D(cfg.dim, 1, activation="relu", name="project")(x)
    h, w = int(x.shape[1]), int(x.shape[2])
    x = layers.Reshape((h * w, cfg.dim), name="flatten_positions")(x)
    x = PositionEmbedding(name="positions")(x)
    x = layers.Dropout(cfg.dropout, name="feature_dropout")(x)
    return keras.Model(image, x, name="encoder")


@keras.saving.register_keras_serializable(package=PACKAGE)
class FlattenCaptions(layers.Layer):
    """``features (B, L, D)``, ``tokens (B, C, T)`` → features repeated per caption ``(B·C, L, D)``, tokens
    ``(B·C, T)``: an image is encoded once for all its C reference captions."""

    def call(self, features, tokens):
        shape = ops.shape(tokens)
        return ops.repeat(features, shape[1], axis=0), ops.reshape(tokens, (-1, shape[2]))

    def compute_output_shape(self, features_shape, tokens_shape):
        return (None, *features_shape[1:]), (None, tokens_shape[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupCaptions(layers.Layer):
    """Logits ``(B·C, T, V)`` back to ``(B, C, T, V)`` (the shape of the ``tokens`` input)."""

    def call(self, logits, tokens):
        shape = ops.shape(tokens)
        return ops.reshape(logits, (shape[0], shape[1], shape[2], ops.shape(logits)[-1]))

    def compute_output_shape(self, logits_shape, tokens_shape):
        return (*tokens_shape, logits_shape[-1])


def build_model(cfg: ModelConfig, decoder: str, image_size: int, vocab_size: int, seq_len: int) -> keras.Model:
    """The training model of one decoder (teacher forcing), uncompiled.

    Args:
        cfg: encoder and decoder settings.
        decoder: ``transformer`` or ``lstm``.
        image_size: S, the side of the square uint8 RGB input.
        vocab_size: V, including padding (0) and ``[UNK]`` (1).
        seq_len: T, the input token length (``[start]`` + words, padded); the Transformer's position table.

    Returns:
        ``keras.Model`` named ``captioner_<decoder>``: ``{"image": (B, S, S, 3) uint8, "tokens": (B, C, T) int32}``
        (C captions per image, all-padding rows allowed) → logits ``(B, C, T, V)``; the image is encoded once for
        its C captions; sub-layers ``encoder`` and ``decoder``.

    Raises:
        ValueError: ``decoder`` is not one of ``transformer``, ``lstm``, or a size < 1.
        FileNotFoundError: see :func:`build_encoder`.
    """
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; use one of {', '.join(DECODERS)}")
    if min(image_size, vocab_size, seq_len) < 1:
        raise ValueError("image_size, vocab_size and seq_len must be ≥ 1")
    encoder = build_encoder(cfg.encoder, image_size)
    image = keras.Input((image_size, image_size, 3), name="image", dtype="uint8")
    tokens = keras.Input((None, seq_len), name="tokens", dtype="int32")
    if decoder == "transformer":
        t = cfg.transformer
        layer = TransformerDecoder(vocab_size, seq_len, dim=t.dim, heads=t.heads, num_layers=t.layers,
                                   ff_dim=t.ff_dim, dropout=t.dropout, name="decoder")
    else:
        c = cfg.lstm
        layer = AttentionLSTMDecoder(vocab_size, embed_dim=c.embed_dim, units=c.units,
                                     attention_dim=c.attention_dim, dropout=c.dropout,
                                     doubly_stochastic=c.doubly_stochastic, name="decoder")
    if decoder == "transformer":
        logits = layer(tokens, encoder(image))
    else:
        features, flat = FlattenCaptions(name="flatten_captions")(encoder(image), tokens)
        logits = GroupCaptions(name="group_captions")(layer(flat, features), tokens)
    return keras.Model({"image": image, "tokens": tokens}, logits, name=f"captioner_{decoder}")
