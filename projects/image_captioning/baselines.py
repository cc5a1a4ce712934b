"""Retrieval baselines of image_captioning: the most frequent training caption, and the nearest-neighbour
consensus caption.

**Nearest neighbour** (Devlin et al. 2015, "Exploring Nearest Neighbor Approaches for Image Captioning",
arXiv:1505.04467): for a query image, take the k training images nearest in a simple feature space, pool their
reference captions, and return the *consensus* caption: the pooled caption with the highest mean sentence BLEU-4
against the other pooled captions. k is chosen on the validation split (CIDEr-D), never on test.

Features (``colour_hog``), each block L2-normalised so that they weigh the same, Euclidean distance:

- a joint RGB colour histogram, 4 levels per channel (64 bins, square-rooted frequencies: the Hellinger map);
- the mean colour of each cell of a 4 × 4 grid (48 values: where the colours are, which relations need);
- HOG (Dalal & Triggs 2005; ``skimage.feature.hog``: 9 orientations, 8 × 8-pixel cells, 2 × 2-cell blocks, L2-Hys)
  of the grey image resized to 64 × 64.

Consensus BLEU: sentence BLEU-4 of one caption against another (single reference), clipped n-gram precisions with
add-one smoothing for n ≥ 2 (Lin & Och 2004, Chen & Cherry 2014 method 2) and the brevity penalty; computed for
all pairs at once with NumPy. Ties go to the caption of the nearer image.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["frequent_caption", "image_features", "consensus_bleu", "NearestNeighbourCaptioner"]


def frequent_caption(captions: Sequence[Sequence[str]]) -> str:
    """The most frequent caption among the training references (ties: the alphabetically first).

    Args:
        captions: per training image, its (normalised) reference captions.

    Raises:
        ValueError: there is no caption.
    """
    counts = Counter(c for refs in captions for c in refs)
    if not counts:
        raise ValueError("no training caption")
    best = max(counts.values())
    return min(c for c, n in counts.items() if n == best)


def image_features(images: np.ndarray, kind: str = "colour_hog") -> np.ndarray:
    """Features of uint8 RGB images (N, S, S, 3) for the nearest-neighbour search: float32 (N, D).

    Raises:
        ValueError: ``kind`` is unknown or the images are not (N, H, W, 3).
    """
    from skimage.feature import hog
    from skimage.transform import resize

    if kind != "colour_hog":
        raise ValueError(f"unknown feature kind {kind!r} (known: colour_hog)")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
    n, h, w, _ = images.shape
    levels = (images // 64).astype(np.int64)
    codes = levels[..., 0] * 16 + levels[..., 1] * 4 + levels[..., 2]
    hist = np.stack([np.bincount(c.ravel(), minlength=64) for c in codes]).astype(np.float64)
    hist = np.sqrt(hist / hist.sum(1, keepdims=True))
    grid = images[:, : h // 4 * 4, : w // 4 * 4].astype(np.float64) / 255.0
    grid = grid.reshape(n, 4, h // 4, 4, w // 4, 3).mean(axis=(2, 4)).reshape(n, -1)
    grey = images.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    hogs = []
    for g in grey:
        if g.shape != (64, 64):
            g = resize(g, (64, 64), anti_aliasing=True)
        hogs.append(hog(g, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys"))
    blocks = [hist, grid, np.asarray(hogs)]
    blocks = [b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12) for b in blocks]
    return np.concatenate(blocks, axis=1).astype(np.float32)


def _ngram_counts(tokens: Sequence[Sequence[str]], n: int) -> np.ndarray:
    """Count matrix (M, V) of the n-grams of M token lists over their joint n-gram vocabulary."""
    grams = [Counter(tuple(t[i:i + n]) for i in range(len(t) - n + 1)) for t in tokens]
    vocab = {g: j for j, g in enumerate(sorted({g for c in grams for g in c}))}
    out = np.zeros((len(tokens), max(1, len(vocab))), np.float32)
    for i, c in enumerate(grams):
        for g, k in c.items():
            out[i, vocab[g]] = k
    return out


def consensus_bleu(captions: Sequence[str]) -> np.ndarray:
    """Pairwise sentence BLEU-4: ``B[i, j]`` = BLEU-4 of caption ``i`` with caption ``j`` as its only reference.

    Clipped n-gram precisions, add-one smoothing for n ≥ 2, brevity penalty exp(min(0, 1 − |j| / |i|)); an empty
    caption scores 0. Values in [0, 1]; the diagonal is 1 for non-empty captions.
    """
    tokens = [c.split() for c in captions]
    lengths = np.array([len(t) for t in tokens], np.float64)
    m = len(tokens)
    log_p = np.zeros((m, m))
    for n in range(1, 5):
        counts = _ngram_counts(tokens, n)
        matches = np.minimum(counts[:, None, :], counts[None, :, :]).sum(-1).astype(np.float64)
        totals = np.maximum(lengths - n + 1, 0)[:, None]
        smooth = 0.0 if n == 1 else 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (matches + smooth) / (totals + smooth)
        log_p += np.log(np.where(p > 0, p, 1e-300)) / 4
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.minimum(0.0, 1.0 - lengths[None, :] / lengths[:, None])
    bleu = np.exp(log_p + np.nan_to_num(bp, nan=-np.inf, neginf=-np.inf))
    bleu[lengths == 0, :] = 0.0
    return np.clip(bleu, 0.0, 1.0)


@dataclass
class NearestNeighbourCaptioner:
    """Nearest-neighbour consensus captioning over a training set.

    Args:
        features: float (N_train, D) training image features (:func:`image_features`).
        captions: per training image, its normalised reference captions.
    """

    features: np.ndarray
    captions: Sequence[Sequence[str]]

    def __post_init__(self) -> None:
        if len(self.features) != len(self.captions) or len(self.features) == 0:
            raise ValueError(f"{len(self.features)} feature rows for {len(self.captions)} caption lists")
        self.features = np.asarray(self.features, np.float64)
        self._sq = np.einsum("ij,ij->i", self.features, self.features)

    def neighbours(self, features: np.ndarray, k: int) -> np.ndarray:
        """Indices (Q, k) of the k nearest training images of each query, nearest first (Euclidean; ties: lower
        index)."""
        q = np.asarray(features, np.float64)
        dist = self._sq[None, :] - 2.0 * q @ self.features.T + np.einsum("ij,ij->i", q, q)[:, None]
        k = min(k, len(self.features))
        part = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else np.tile(np.arange(k), (len(q), 1))
        order = np.lexsort((part, np.take_along_axis(dist, part, 1)), axis=1)
        return np.take_along_axis(part, order, 1)

    def caption_all(self, features: np.ndarray, ks: Sequence[int]) -> dict[int, list[str]]:
        """Consensus captions of each query for every k in ``ks``: ``{k: [caption per query]}``.

        One pairwise BLEU matrix per query (for the largest k) serves every smaller k.

        Raises:
            ValueError: a k is below 1.
        """
        if not ks or min(ks) < 1:
            raise ValueError(f"k must be >= 1, got {list(ks)}")
        k_max = min(max(ks), len(self.features))
        idx = self.neighbours(features, k_max)
        out: dict[int, list[str]] = {k: [] for k in ks}
        for row in idx:
            pool, owner = [], []
            for rank, j in enumerate(row):
                pool.extend(self.captions[j])
                owner.extend([rank] * len(self.captions[j]))
            owner = np.asarray(owner)
            bleu = consensus_bleu(pool)
            for k in ks:
                m = int(np.sum(owner < min(k, k_max)))
                if m == 1:
                    out[k].append(pool[0])
                    continue
                sub = bleu[:m, :m]
                mean = (sub.sum(1) - np.diag(sub)) / (m - 1)
                out[k].append(pool[int(np.argmax(mean))])
        return out
