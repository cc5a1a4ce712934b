"""MATLAB-compatible ``imresize`` in NumPy: the degradation and the classical baselines.

The super-resolution literature builds its low-resolution inputs with MATLAB's
``imresize(HR, 1/s, 'bicubic')`` (antialiasing on when downscaling) and compares against
``imresize(LR, s, method)``. Published PSNRs are only reproducible with the same resampler,
so this module re-implements its algorithm (not its code):

* output pixel ``i`` (0-based) samples the input at ``u = (i + 0.5) / s - 0.5``;
* the kernel is stretched by ``1/s`` when downscaling with antialiasing (``h(x) = s·k(s·x)``),
  the weights of each output pixel are normalised to sum to one;
* indices beyond the border are mirrored with the edge pixel repeated (``symmetric``);
* the result of an integer image is rounded and clipped to its dtype.

Each axis is a sparse matrix ``W`` (``out × in``), so a resize is ``W_h · X · W_wᵀ`` and
works for any image size in bounded memory.

    lr = imresize(hr, 1 / 4)                     # the standard ×4 degradation
    up = imresize(lr, 4, method="lanczos3")      # a baseline
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

METHODS = ("nearest", "bilinear", "bicubic", "lanczos2", "lanczos3")


def _box(x: np.ndarray) -> np.ndarray:
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's and PIL's bicubic)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def _lanczos(a: int) -> Callable[[np.ndarray], np.ndarray]:
    def kernel(x: np.ndarray) -> np.ndarray:
        eps = np.finfo(np.float64).eps
        return ((np.sin(np.pi * x) * np.sin(np.pi * x / a) + eps) / (np.pi**2 * x**2 / a + eps)) * (np.abs(x) < a)

    return kernel


#: method → (kernel, support width in input pixels at scale 1)
KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "nearest": (_box, 1.0),
    "bilinear": (_triangle, 2.0),
    "bicubic": (cubic, 4.0),
    "lanczos2": (_lanczos(2), 4.0),
    "lanczos3": (_lanczos(3), 6.0),
}


def contributions(in_len: int, out_len: int, scale: float, method: str = "bicubic",
                  antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Weights and (mirrored, 0-based) input indices of every output pixel along one axis.

    Raises:
        ValueError: ``method`` is not one of :data:`METHODS`.
    """
    if method not in KERNELS:
        raise ValueError(f"unknown resize method {method!r}; use one of {', '.join(METHODS)}")
    kernel, width = KERNELS[method]
    if scale < 1 and antialias and method != "nearest":
        h = lambda x: scale * kernel(scale * x)
        width = width / scale
    else:
        h = kernel
    u = (np.arange(out_len, dtype=np.float64) + 0.5) / scale - 0.5
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # symmetric mirroring with the edge pixel repeated: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
    period = 2 * in_len
    mod = np.mod(indices, period).astype(np.int64)
    indices = np.where(mod < in_len, mod, period - 1 - mod)
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


@lru_cache(maxsize=64)
def resize_matrix(in_len: int, out_len: int, scale: float, method: str = "bicubic", antialias: bool = True):
    """The ``out_len × in_len`` sparse matrix that resizes one axis (CSR, float64)."""
    from scipy import sparse

    weights, indices = contributions(in_len, out_len, scale, method, antialias)
    rows = np.repeat(np.arange(out_len), weights.shape[1])
    return sparse.csr_matrix((weights.ravel(), (rows, indices.ravel())), shape=(out_len, in_len))


def output_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """MATLAB's output size: ``ceil(scale · size)``."""
    return tuple(int(math.ceil(scale * n - 1e-9)) for n in shape)  # type: ignore[return-value]


def imresize(image: np.ndarray, scale: float, method: str = "bicubic", *, antialias: bool = True,
             out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Resize an ``(H, W)`` or ``(H, W, C)`` image like MATLAB's ``imresize(image, scale, method)``.

    Args:
        image: ``(H, W)`` or ``(H, W, C)``, any integer or float dtype (pixel values in its own units).
        scale: the factor (``1/4`` downscales by 4, with antialiasing unless ``antialias=False``).
        method: ``nearest``, ``bilinear``, ``bicubic`` (Keys a = -0.5, as MATLAB) or ``lanczos3``.
        out_shape: ``(h, w)`` of the output instead of ``ceil(scale · (H, W))``.

    Returns:
        ``(h, w)`` or ``(h, w, C)``. Integer images come back rounded and clipped to their dtype;
        float images stay float (unclipped, as in MATLAB).

    Raises:
        ValueError: not a 2-D or 3-D array, a scale that is not positive, or an unknown method.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"imresize expects an (H, W) or (H, W, C) image, got shape {image.shape}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    h, w = image.shape[:2]
    oh, ow = out_shape or output_shape((h, w), scale)
    data = image.astype(np.float64, copy=False)
    flat = data.reshape(h, -1)
    out = resize_matrix(h, oh, float(scale), method, antialias) @ flat            # rows first, as MATLAB
    out = out.reshape(oh, w, -1).transpose(1, 0, 2).reshape(w, -1)
    out = resize_matrix(w, ow, float(scale), method, antialias) @ out             # then columns
    out = out.reshape(ow, oh, -1).transpose(1, 0, 2).reshape((oh, ow) + image.shape[2:])
    if image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        return np.clip(np.round(out), info.min, info.max).astype(image.dtype)
    return out.astype(image.dtype if image.dtype.kind == "f" else np.float64, copy=False)


def upsample_kernel(scale: int) -> np.ndarray:
    """Per-phase bicubic weights of an integer upscale: ``(scale, 5)``, taps at offsets -2 … 2.

    Output pixel ``s·k + p`` is ``Σ_j w[p, j] · x[k + j - 2]`` (with ``symmetric`` padding by 2),
    which is exactly :func:`imresize` with ``scale`` and ``bicubic`` away from and at the borders.

    Raises:
        ValueError: ``scale`` is not an integer ≥ 1.
    """
    if int(scale) != scale or scale < 1:
        raise ValueError(f"upsample_kernel needs an integer scale ≥ 1, got {scale}")
    offsets = (np.arange(scale) + 0.5) / scale - 0.5
    weights = cubic(offsets[:, None] - np.arange(-2, 3)[None, :])
    return weights / weights.sum(axis=1, keepdims=True)
