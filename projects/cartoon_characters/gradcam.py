"""Grad-CAM per character (Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep networks via
gradient-based localization") on the last convolutional map of the CNN.

For a frame and a character c with logit y_c, and the last convolutional map A (H', W', K) (layer ``features``):
the weight of channel k is the spatial mean of ∂y_c / ∂A_k, the map is ``ReLU(Σ_k α_k A_k)``, upsampled
bilinearly to the frame and scaled to [0, 1] by its maximum (all zero when the map is zero). Each (frame,
character) pair gets its own map, so a frame with three characters has three maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from projects.cartoon_characters.model import FEATURES, HEAD


def grad_cam(model, images: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Grad-CAM maps (n, S, S) in [0, 1]: map i for character ``classes[i]`` of frame ``images[i]``.

    Args:
        model: a network of :func:`projects.cartoon_characters.model.build_model` (layers ``features``, ``head``).
        images: uint8 frames (n, S, S, 3).
        classes: one character index per frame (repeat a frame to explain several characters).

    Raises:
        ValueError: ``classes`` does not have one entry per frame, or an index is out of range.
    """
    import keras
    import tensorflow as tf

    images = np.asarray(images)
    classes = np.asarray(classes, dtype=np.int32).reshape(-1)
    head = model.get_layer(HEAD)
    if len(classes) != len(images):
        raise ValueError(f"one class per frame: {len(images)} frames, {len(classes)} classes")
    if len(classes) and (classes.min() < 0 or classes.max() >= head.n_classes):
        raise ValueError(f"class indices must be in 0..{head.n_classes - 1}, got {classes.tolist()}")
    if not len(images):
        return np.zeros((0, *images.shape[1:3]), np.float32)
    # the backbone runs outside the tape: only the head is differentiated with respect to the map
    backbone = keras.Model(model.input, model.get_layer(FEATURES).output)
    features = tf.convert_to_tensor(backbone(images, training=False))
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(features)
        logits = head(features, training=False)
        score = tf.gather(logits, tf.convert_to_tensor(classes), axis=1, batch_dims=1)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    cam = tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0).astype(np.float32)


def grad_cam_sets(model, images: np.ndarray, predicted: np.ndarray) -> list[dict[int, np.ndarray]]:
    """Grad-CAM of every predicted character of every frame.

    Args:
        predicted: boolean (n, C), the predicted set of each frame.

    Returns:
        per frame, ``{character index: map (S, S)}`` (empty for a frame with no predicted character).
    """
    predicted = np.asarray(predicted, dtype=bool)
    frames, classes = np.nonzero(predicted)
    maps = grad_cam(model, np.asarray(images)[frames], classes) if len(frames) else []
    out: list[dict[int, np.ndarray]] = [{} for _ in range(len(predicted))]
    for frame, c, cam in zip(frames, classes, maps):
        out[int(frame)][int(c)] = cam
    return out


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The frame (S, S, 3) uint8 with the map blended in as a jet heat map; uint8 (S, S, 3)."""
    from matplotlib import colormaps

    heat = colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
    blended = (1 - alpha) * np.asarray(image, np.float64) / 255.0 + alpha * heat
    return np.clip(np.rint(blended * 255), 0, 255).astype(np.uint8)
