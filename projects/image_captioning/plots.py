"""Figures of image_captioning shared by the report and the CLI: attention over the image, word by word."""

from __future__ import annotations

import numpy as np


def upsample(attention: np.ndarray, size: int) -> np.ndarray:
    """An ``(h, w)`` attention grid → ``(size, size)`` by bilinear interpolation, scaled to [0, 1]."""
    from skimage.transform import resize

    grid = np.asarray(attention, np.float64)
    up = resize(grid, (size, size), order=1, mode="edge", anti_aliasing=False)
    lo, hi = up.min(), up.max()
    return (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)


def attention_figure(image: np.ndarray, decoded, *, max_words: int = 16, columns: int = 6,
                     title: str | None = None):
    """The image, then one panel per generated word with its attention map over the image.

    Args:
        image: uint8 ``(S, S, 3)``.
        decoded: a :class:`projects.image_captioning.decoding.Decoded` (``text``, ``attention (n, h, w)``; the
            last map belongs to ``[end]`` when the caption ended).
        max_words: panels after this many words are left out.
        columns: panels per row.
        title: figure title (default: the caption).

    Returns:
        a Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    words = decoded.text.split()
    maps = np.asarray(decoded.attention)
    labels = words + ["[end]"] * max(0, len(maps) - len(words))
    labels, maps = labels[:max_words], maps[:max_words]
    panels = 1 + len(maps)
    rows = int(np.ceil(panels / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.7 * columns, 1.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("image", fontsize=8)
    size = image.shape[0]
    for k, (label, grid) in enumerate(zip(labels, maps), 1):
        ax = axes.ravel()[k]
        ax.imshow(image)
        ax.imshow(upsample(grid, size), cmap="inferno", alpha=0.55, vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
    fig.suptitle(title if title is not None else decoded.text, fontsize=9)
    fig.tight_layout()
    return fig
