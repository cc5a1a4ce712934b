"""The classifier: a pure ``build_model(cfg, input_shape, n_classes)`` factory, and inference helpers.

``resnet`` (default): a compact residual network trained from scratch: a stride-2 stem, one
stage of residual blocks per width (each later stage halves the resolution), global average
pooling, dropout and a linear layer that outputs logits. BatchNorm uses momentum 0.9: with
Keras' default 0.99 the running statistics had not settled after a few hundred steps and the
inference-mode accuracy collapsed (the prototype measured 0.17).

``efficientnet_b0``: ``keras.applications.EfficientNetB0`` as backbone, for users who have
ImageNet weights (``pretrained_weights``: a local ``.h5`` file; nothing is downloaded).

Inference helpers: :func:`dihedral_views` and :func:`predict_tta` (average over the 8
rotations and flips), :func:`mc_dropout` (Monte-Carlo dropout over the head: the backbone runs
once, the dropout masks T times), and :func:`grad_cam`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
from keras import layers

FEATURES, POOL, LOGITS = "features", "pool", "logits"


@dataclass(frozen=True)
class ModelConfig:
    """The classifier: a small ResNet or EfficientNet-B0 backbone, pooling, dropout and a logits layer.

    Raises:
        ValueError: ``widths`` is empty or has a width < 1, ``blocks_per_stage`` < 1, ``stem_stride`` not 1 or 2;
            ``dropout`` outside [0, 1) or ``bn_momentum`` outside (0, 1).
    """

    backbone: Literal["resnet", "efficientnet_b0"] = "resnet"
    #: channels of the stages; every stage after the first halves the resolution
    widths: tuple[int, ...] = (16, 32, 64, 128)
    blocks_per_stage: int = 1
    stem_stride: int = 2
    dropout: float = 0.2
    bn_momentum: float = 0.9
    #: efficientnet_b0 only: a local ImageNet weights file (optional)
    pretrained_weights: str | None = None

    def __post_init__(self) -> None:
        if not self.widths or min(self.widths) < 1 or self.blocks_per_stage < 1 or self.stem_stride not in (1, 2):
            raise ValueError("widths must be positive, blocks_per_stage ≥ 1 and stem_stride 1 or 2")
        if not 0 <= self.dropout < 1 or not 0 < self.bn_momentum < 1:
            raise ValueError("0 ≤ dropout < 1 and 0 < bn_momentum < 1 are required")


def _bn(cfg: ModelConfig, name: str) -> layers.Layer:
    return layers.BatchNormalization(momentum=cfg.bn_momentum, name=name)


def _residual_block(x, filters: int, stride: int, cfg: ModelConfig, name: str):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.ReLU(name=f"{name}_relu1")(_bn(cfg, f"{name}_bn1")(y))
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = _bn(cfg, f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = _bn(cfg, f"{name}_proj_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_model(cfg: ModelConfig, input_shape: tuple[int, int, int], n_classes: int) -> keras.Model:
    """Logits model; the layer named ``features`` is the last feature map (Grad-CAM)."""
    inputs = keras.Input(shape=input_shape, name="image")
    if cfg.backbone == "efficientnet_b0":
        base = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=input_shape)
        if cfg.pretrained_weights:
            base.load_weights(cfg.pretrained_weights, skip_mismatch=True)
        x = layers.Activation("linear", name=FEATURES)(base(inputs))
    else:
        x = layers.Conv2D(cfg.widths[0], 3, strides=cfg.stem_stride, padding="same", use_bias=False,
                          name="stem_conv")(inputs)
        x = layers.ReLU(name="stem_relu")(_bn(cfg, "stem_bn")(x))
        for s, width in enumerate(cfg.widths):
            for b in range(cfg.blocks_per_stage):
                stride = 2 if (s > 0 and b == 0) else 1
                x = _residual_block(x, width, stride, cfg, f"stage{s + 1}_block{b + 1}")
        x = layers.Activation("linear", name=FEATURES)(x)
    x = layers.GlobalAveragePooling2D(name=POOL)(x)
    x = layers.Dropout(cfg.dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, name=LOGITS)(x)
    return keras.Model(inputs, outputs, name=f"galaxy_{cfg.backbone}")


# --------------------------------------------------------------------------- inference
def dihedral_views(x: np.ndarray) -> list[np.ndarray]:
    """The 8 images of the dihedral group D4 of x (N, H, W, C): 4 rotations by 90°, then the same 4 of the
    mirror image (the last 4 are mirrored)."""
    views = []
    for flip in (False, True):
        base = x[:, :, ::-1] if flip else x
        views += [np.rot90(base, k, axes=(1, 2)) for k in range(4)]
    return [np.ascontiguousarray(v) for v in views]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities (..., K) float64 of logits (..., K) divided by ``temperature``, along the last axis."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def predict_logits(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits (N, K) of stretched network inputs x (N, S, S, C) (see :func:`.preprocess.network_input`)."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def predict_tta(model: keras.Model, x: np.ndarray, temperature: float = 1.0, batch_size: int = 256,
                mirror: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities (N, K) of images x (N, H, W, C) averaged over the 8 dihedral views.

    The 4 mirrored views see the mirror image of each galaxy: with ``mirror`` (the class → mirrored
    class permutation of :func:`projects.galaxy_morphology.augment.mirror_permutation`) their
    probabilities are mapped back (P(k | x) = P(mirror[k] | mirrored x)) before averaging, so that
    a clockwise spiral's mirrored views vote for clockwise, not anticlockwise.
    """
    views = dihedral_views(x)
    probs = [softmax(predict_logits(model, v, batch_size), temperature) for v in views]
    if mirror is not None:
        perm = np.asarray(mirror)
        probs = probs[:4] + [p[:, perm] for p in probs[4:]]
    return np.mean(probs, axis=0)


def pooled_features(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The pooled features that feed the dropout and the logits layer."""
    head = keras.Model(model.inputs, model.get_layer(POOL).output)
    return np.asarray(head.predict(x, batch_size=batch_size, verbose=0))


def mc_dropout(model: keras.Model, x: np.ndarray, samples: int = 30, temperature: float = 1.0, seed: int = 0,
               batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout: ``(mean probabilities, predictive entropy)`` over ``samples`` dropout masks.

    Dropout sits only between the pooled features and the logits, so the backbone runs once
    and each sample draws a new mask on the features (scaled by 1/(1 - rate), as in training).

    Args:
        x: stretched network inputs (N, S, S, C).

    Returns:
        ``(mean, entropy)``: mean probabilities (N, K) and the entropy of the mean (N,) in nats.
    """
    rate = float(model.get_layer("dropout").rate)
    kernel, bias = (np.asarray(w) for w in model.get_layer(LOGITS).get_weights())
    features = pooled_features(model, x, batch_size)
    rng = np.random.default_rng(seed)
    mean = np.zeros((x.shape[0], kernel.shape[1]))
    for _ in range(samples):
        mask = rng.random(features.shape) >= rate if rate > 0 else np.ones(features.shape, bool)
        mean += softmax((features * mask / (1 - rate)) @ kernel + bias, temperature)
    mean /= samples
    entropy = -np.sum(mean * np.log(np.clip(mean, 1e-12, 1)), axis=-1)
    return mean, entropy


def grad_cam(model: keras.Model, x: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] for ``classes`` (default: the predicted class), at input size."""
    import tensorflow as tf

    # The backbone runs outside the tape: only the head (pooling, logits) is differentiated.
    backbone = keras.Model(model.inputs, model.get_layer(FEATURES).output)
    features = tf.convert_to_tensor(backbone(tf.convert_to_tensor(x, dtype=tf.float32), training=False))
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(features)
        logits = model.get_layer(LOGITS)(model.get_layer(POOL)(features))
        if classes is None:
            classes = tf.argmax(logits, axis=-1)
        score = tf.gather(logits, tf.convert_to_tensor(classes), axis=1, batch_dims=1)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    cam = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0)


def load_trained(model_dir: str | Path) -> tuple[keras.Model, dict, dict]:
    """``(keras model, train.json, calibration.json)`` of a trained model folder (the train stage's output).

    Raises:
        DataError: the folder holds no ``model.keras``, or it cannot be loaded, or a JSON file is missing.
    """
    from shared.io import DataError, read_json

    model_dir = Path(model_dir)
    if not (model_dir / "model.keras").exists():
        raise DataError(f"{model_dir} holds no model.keras; run the train stage first")
    try:
        model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    except Exception as exc:
        raise DataError(f"{model_dir / 'model.keras'} cannot be loaded (corrupt?): {exc}") from exc
    return model, read_json(model_dir / "train.json"), read_json(model_dir / "calibration.json")
