"""Multi-label losses on logits: binary cross-entropy, focal loss and the asymmetric loss (ASL).

Every loss takes ``y_true`` multi-hot (n, C) and ``y_pred`` logits (n, C), and returns per frame the **mean over the
C labels** of the per-label loss (as ``keras.losses.BinaryCrossentropy`` does), so that the three are on one scale
and reduce to each other exactly. ``pos_weight`` (C,) multiplies the positive term of each label (the class-weight
form of imbalance handling, as ``pos_weight`` of PyTorch's ``BCEWithLogitsLoss``); ``None`` means 1.

With p = σ(logit) and the label y:

* BCE: ``-[w y log p + (1 - y) log(1 - p)]``;
* focal (Lin et al. 2017, "Focal loss for dense object detection"):
  ``-[α w y (1 - p)^γ log p + (1 - α) (1 - y) p^γ log(1 - p)]``, α optional (``None``: no α weighting, the
  factors are 1); γ = 0 without α is BCE;
* ASL (Ridnik et al. 2021, "Asymmetric loss for multi-label classification"): the probability of a negative is
  shifted by the margin m, ``p_m = max(p - m, 0)``, which discards easy negatives entirely, and positives and
  negatives get their own focusing exponents:
  ``-[w y (1 - p)^γ+ log p + (1 - y) p_m^γ- log(1 - p_m)]``; γ+ = γ- = m = 0 is BCE.

All three are registered Keras losses with ``get_config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import keras
from keras import ops

PACKAGE = "cartoon_characters"
LOSSES = ("bce", "focal", "asl")
_EPS = 1e-8


@dataclass(frozen=True)
class LossConfig:
    #: focal loss: focusing exponent γ and the optional positive-class weight α
    focal_gamma: float = 2.0
    focal_alpha: float | None = None
    #: ASL: focusing exponents of positives and negatives, and the probability margin m of negatives
    asl_gamma_pos: float = 0.0
    asl_gamma_neg: float = 4.0
    asl_clip: float = 0.05

    def __post_init__(self) -> None:
        if min(self.focal_gamma, self.asl_gamma_pos, self.asl_gamma_neg) < 0:
            raise ValueError("the focusing exponents must be ≥ 0")
        if not 0 <= self.asl_clip < 1:
            raise ValueError(f"asl_clip must be in [0, 1), got {self.asl_clip}")
        if self.focal_alpha is not None and not 0 < self.focal_alpha < 1:
            raise ValueError(f"focal_alpha must be in (0, 1) or null, got {self.focal_alpha}")


def _focus(x, gamma: float):
    """``x ** gamma`` with a finite gradient everywhere: 1 for γ = 0 (the gradient of ``x ** 0`` at x = 0 is
    0 · ∞ = NaN, and a saturated sigmoid gives x = 0 exactly), and x floored at 1e-8 otherwise."""
    return 1.0 if gamma == 0 else ops.power(ops.maximum(x, _EPS), gamma)


class _MultiLabelLoss(keras.losses.Loss):
    def __init__(self, pos_weight: Sequence[float] | None = None, name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pos_weight = None if pos_weight is None else [float(w) for w in pos_weight]

    def _weight(self, y_true):
        return 1.0 if self.pos_weight is None else ops.convert_to_tensor(self.pos_weight, dtype=y_true.dtype)

    def get_config(self):
        return {**super().get_config(), "pos_weight": self.pos_weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WeightedBCE(_MultiLabelLoss):
    """Binary cross-entropy on logits, mean over labels, with an optional positive weight per label."""

    def __init__(self, pos_weight: Sequence[float] | None = None, name: str = "bce", **kwargs):
        super().__init__(pos_weight, name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        log_p, log_q = ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
        return -ops.mean(self._weight(y_true) * y_true * log_p + (1.0 - y_true) * log_q, axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FocalLoss(_MultiLabelLoss):
    """Focal loss on logits (Lin et al. 2017), mean over labels; γ = 0 without α is BCE."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, pos_weight: Sequence[float] | None = None,
                 name: str = "focal", **kwargs):
        super().__init__(pos_weight, name=name, **kwargs)
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        p = ops.sigmoid(y_pred)
        log_p, log_q = ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
        pos = _focus(1.0 - p, self.gamma) * log_p
        neg = _focus(p, self.gamma) * log_q
        if self.alpha is not None:
            pos, neg = self.alpha * pos, (1.0 - self.alpha) * neg
        return -ops.mean(self._weight(y_true) * y_true * pos + (1.0 - y_true) * neg, axis=-1)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AsymmetricLoss(_MultiLabelLoss):
    """The asymmetric loss (Ridnik et al. 2021) on logits, mean over labels; all parameters 0 is BCE."""

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
                 pos_weight: Sequence[float] | None = None, name: str = "asl", **kwargs):
        super().__init__(pos_weight, name=name, **kwargs)
        self.gamma_pos, self.gamma_neg, self.clip = float(gamma_pos), float(gamma_neg), float(clip)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        p = ops.sigmoid(y_pred)
        pos = _focus(1.0 - p, self.gamma_pos) * ops.log_sigmoid(y_pred)
        if self.clip > 0:
            p_m = ops.maximum(p - self.clip, 0.0)
            log_q = ops.log(ops.maximum(1.0 - p_m, _EPS))
        else:  # the exact log(1 - p) of the logit, so that the loss equals BCE to the last digit
            p_m, log_q = p, ops.log_sigmoid(-y_pred)
        neg = _focus(p_m, self.gamma_neg) * log_q
        return -ops.mean(self._weight(y_true) * y_true * pos + (1.0 - y_true) * neg, axis=-1)

    def get_config(self):
        return {**super().get_config(), "gamma_pos": self.gamma_pos, "gamma_neg": self.gamma_neg, "clip": self.clip}


def make_loss(kind: Literal["bce", "focal", "asl"], cfg: LossConfig,
              pos_weight: Sequence[float] | None = None) -> keras.losses.Loss:
    """The loss ``kind`` with the parameters of ``cfg`` and an optional positive weight per label.

    Raises:
        ValueError: ``kind`` is none of bce, focal, asl.
    """
    if kind == "bce":
        return WeightedBCE(pos_weight)
    if kind == "focal":
        return FocalLoss(cfg.focal_gamma, cfg.focal_alpha, pos_weight)
    if kind == "asl":
        return AsymmetricLoss(cfg.asl_gamma_pos, cfg.asl_gamma_neg, cfg.asl_clip, pos_weight)
    raise ValueError(f"unknown loss {kind!r}; losses: {', '.join(LOSSES)}")
