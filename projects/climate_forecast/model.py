"""The recurrent forecaster: a pure ``build_model(cfg, ...)`` factory and its masked loss.

Input: moving windows of shape ``(samples, window, features)``. The model holds ``members``
independent recurrent networks (an ensemble of seeds: each member has its own random
initialisation and dropout masks) that read the same window; each predicts ``outputs``
values (the scaled target at horizons 1..H for direct forecasts, or the next input row for
recursive ones). The output has shape ``(samples, members, outputs)``.

Dropout after the recurrent layer stays active at prediction time when asked
(``model(x, training=True)``): Monte-Carlo dropout, a second source of spread besides the
ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras
from keras import ops


@dataclass(frozen=True)
class NetworkConfig:
    """The recurrent ensemble: cell, size, dropout, L2 and the number of members.

    Raises:
        ValueError: ``units``, ``layers`` or ``members`` < 1; ``dropout`` or ``input_dropout`` outside [0, 1).
    """

    cell: Literal["lstm", "gru"] = "gru"
    units: int = 16
    layers: int = 1
    #: dropout on the recurrent layer's inputs, and on its output (the Monte-Carlo dropout)
    input_dropout: float = 0.0
    dropout: float = 0.1
    l2: float = 1e-4
    members: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.units < 1 or self.layers < 1 or self.members < 1:
            raise ValueError("units, layers and members must be at least 1")
        if not (0 <= self.dropout < 1 and 0 <= self.input_dropout < 1):
            raise ValueError("dropout rates must lie in [0, 1)")


@keras.saving.register_keras_serializable(package="climate_forecast")
def masked_mse(y_true, y_pred):
    """Mean squared error over the entries of ``y_true`` that are not NaN, for every member.

    ``y_true``: ``(batch, outputs)`` with NaN where a target is unknown (after the training
    cut-off, or held out for validation); ``y_pred``: ``(batch, members, outputs)``.
    """
    y_true = ops.expand_dims(ops.cast(y_true, y_pred.dtype), 1)
    mask = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(mask, y_pred - ops.where(mask, y_true, 0.0), 0.0)
    weight = ops.cast(mask, y_pred.dtype) * ops.ones_like(y_pred)
    return ops.sum(ops.square(diff), axis=(1, 2)) / ops.maximum(ops.sum(weight, axis=(1, 2)), 1.0)


def _member(cfg: NetworkConfig, x, outputs: int, k: int):
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cfg.cell]
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
    seed = cfg.seed * 1000 + k * 10
    h = x
    for layer in range(cfg.layers):
        h = rnn(cfg.units, return_sequences=layer < cfg.layers - 1, dropout=cfg.input_dropout,
                kernel_regularizer=reg, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + layer),
                recurrent_initializer=keras.initializers.Orthogonal(seed=seed + layer), seed=seed + layer,
                name=f"m{k}_{cfg.cell}{layer}")(h)
    if cfg.dropout:
        h = keras.layers.Dropout(cfg.dropout, seed=seed + 7, name=f"m{k}_mc_dropout")(h)
    out = keras.layers.Dense(outputs, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 9),
                             name=f"m{k}_head")(h)
    return keras.layers.Reshape((1, outputs), name=f"m{k}_member")(out)


def build_model(cfg: NetworkConfig, *, window: int, features: int, outputs: int, learning_rate: float = 3e-3,
                name: str | None = None, jit_compile: bool = False) -> keras.Model:
    """A compiled ensemble of ``cfg.members`` recurrent networks (pure factory); ``jit_compile``: XLA."""
    x = keras.Input((window, features), name="window")
    members = [_member(cfg, x, outputs, k) for k in range(cfg.members)]
    y = members[0] if len(members) == 1 else keras.layers.Concatenate(axis=1, name="ensemble")(members)
    model = keras.Model(x, y, name=name or f"{cfg.cell}_ensemble")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss=masked_mse,
                  jit_compile=jit_compile)
    return model
