"""Plot helpers shared by the projects' evaluate stages and notebooks."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from shared.io import atomic_path


def use_agg() -> None:
    """Headless rendering (no display here or in CI)."""
    import matplotlib

    matplotlib.use("Agg", force=True)


def savefig(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None, ax=None,
                 logy: bool = True, title: str | None = None):
    """Loss/metric curves from a :func:`shared.training.read_history` dict."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    x = history.get("epoch") or history.get("step") or range(len(next(iter(history.values()))))
    x = [e + 1 for e in x] if "epoch" in history else list(x)
    for key in keys or [k for k in history if k not in ("epoch", "step", "learning_rate")]:
        if key in history:
            ax.plot(x, history[key], label=key)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch" if "epoch" in history else "step")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax
