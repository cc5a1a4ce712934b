"""Figures shared by the notebook and the CLI: galaxy grids, confusion matrices, reliability, Grad-CAM."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from projects.galaxy_morphology.preprocess import display_rgb


def sample_grid(x: np.ndarray, y: np.ndarray, classes: Sequence[str], per_class: int = 5, seed: int = 0):
    """``per_class`` random images of every class, one column per class (asinh, z/r/g as RGB)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    rows = max(1, min(per_class, int(np.bincount(y, minlength=len(classes)).max(initial=0))))
    fig, axes = plt.subplots(rows, len(classes), figsize=(1.15 * len(classes), 1.15 * rows), squeeze=False)
    for j, name in enumerate(classes):
        members = np.flatnonzero(y == j)
        chosen = rng.choice(members, size=min(rows, members.size), replace=False) if members.size else []
        for i in range(rows):
            ax = axes[i, j]
            ax.axis("off")
            if i < len(chosen):
                ax.imshow(display_rgb(x[chosen[i]]), origin="lower")
        axes[0, j].set_title(name.replace("_", " "), fontsize=7)
    fig.tight_layout()
    return fig


def confusion_axes(ax, matrix: np.ndarray, classes: Sequence[str], title: str) -> None:
    """Row-normalised confusion matrix with counts."""
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    labels = [c.replace("_", " ") for c in classes]
    ax.set_xticks(range(len(classes)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    ax.grid(False)


def gradcam_figure(image: np.ndarray, cam: np.ndarray, title: str = ""):
    """The galaxy and its Grad-CAM heat map side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(4, 2.2))
    rgb = display_rgb(image)
    axes[0].imshow(rgb, origin="lower")
    axes[1].imshow(rgb.mean(axis=-1), origin="lower", cmap="gray")
    axes[1].imshow(cam, origin="lower", cmap="jet", alpha=0.45, vmin=0, vmax=1)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    return fig
