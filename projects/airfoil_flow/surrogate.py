"""A trained field surrogate as the evaluate stage and the CLI use it.

A model folder of the train stage (``<model>/<experiment>/<design>/``) holds ``model.keras``; the
``pod_residual`` design also holds ``pod.npz``, the POD-RBF fit whose field the network corrects
(``baselines.PODRegression.save``). :class:`Surrogate` builds the network's input from either the
prepared fields or airfoil contours, so every caller feeds the design what it was trained on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from projects.airfoil_flow.baselines import POD_FILE, PODRegression, parameters
from projects.airfoil_flow.dataset import FieldData
from projects.airfoil_flow.geometry import Airfoil
from projects.airfoil_flow.panel import Grid, check_alpha, surrogate_inputs
from shared.io import DataError


@dataclass
class Surrogate:
    """A Keras field U-Net and, for the ``pod_residual`` design, its POD-RBF fit."""

    model: Any
    pod: PODRegression | None = None

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the grid the network was built for."""
        return tuple(int(n) for n in self.model.inputs[0].shape[1:3])

    def inputs(self, fields: FieldData, idx) -> np.ndarray:
        """``(n, H, W, C)`` float32 network input of the prepared samples ``idx``."""
        x = fields.inputs(idx)
        if self.pod is None:
            return x
        return np.concatenate([x, self.pod.predict_params(parameters(fields, idx), fields.mask[idx])], axis=-1)

    def inputs_for(self, foils: Airfoil | Sequence[Airfoil], alphas: float | Sequence[float],
                   grid: Grid) -> np.ndarray:
        """``(n, H, W, C)`` float32 network input of airfoil contours at ``alphas`` (deg): SDF and mask on
        ``grid`` and, for ``pod_residual``, the Kulfan fit of each contour and POD-RBF's field. One airfoil
        and one angle give ``n = 1``.

        Raises:
            ValueError: ``foils`` and ``alphas`` differ in length.
            DataError: an angle is not finite or beyond ±30°, or aerosandbox (the Kulfan fit) is missing.
        """
        from projects.airfoil_flow.shapes import kulfan_parameters

        foils = [foils] if isinstance(foils, Airfoil) else list(foils)
        alphas = np.atleast_1d(check_alpha(alphas))
        x = surrogate_inputs(foils, alphas, grid)
        if self.pod is None:
            return x
        n_weights = (len(self.pod.lo_) - 3) // 2  # upper + lower weights, leading-edge weight, TE thickness, α
        params = np.array([[*kulfan_parameters(f.coords, n_weights), a] for f, a in zip(foils, alphas)])
        return np.concatenate([x, self.pod.predict_params(params, x[..., 1].astype(bool))], axis=-1)

    def predict(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """``(n, H, W, 3)`` = u, v (units of U∞), Cp, zero inside the body, from an input of :meth:`inputs`."""
        out = [self.model.predict(x[i:i + batch_size], verbose=0) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, *self.grid_shape, 3), "float32")


def load_keras(path: str | os.PathLike):
    """A Keras model of the train stage (this project's custom layers registered), not compiled.

    Raises:
        DataError: ``path`` is missing or not a loadable Keras model.
    """
    import keras

    import projects.airfoil_flow.model  # noqa: F401  (registers the custom layers)

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no trained model at {path}; run the train stage first")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise DataError(f"{path} is not a loadable Keras model (corrupt or truncated?): {exc}") from exc


def load_surrogate(folder: str | os.PathLike) -> Surrogate:
    """The surrogate saved in ``folder`` (``model.keras``, and ``pod.npz`` for ``pod_residual``).

    Raises:
        DataError: ``model.keras`` is missing or not loadable, or a network that reads POD-RBF's field has no
            readable ``pod.npz`` beside it, or one fitted on another grid.
    """
    from projects.airfoil_flow.model import INPUT_CHANNELS

    folder = Path(folder)
    path = folder / "model.keras"
    model = load_keras(path)
    pod = None
    if model.inputs[0].shape[-1] > len(INPUT_CHANNELS):
        if not (folder / POD_FILE).is_file():
            raise DataError(f"{path} corrects POD-RBF's field but {folder / POD_FILE} is missing")
        pod = PODRegression.load(folder / POD_FILE)
        grid = tuple(int(n) for n in model.inputs[0].shape[1:3])
        if pod.shape_ != grid or len(pod.lo_) < 5 or len(pod.lo_) % 2 == 0:
            raise DataError(f"{folder / POD_FILE} does not belong to {path}: a fit on a {pod.shape_} grid with "
                            f"{len(pod.lo_)} parameters, for a network on a {grid} grid (Kulfan weights and α: "
                            "an odd count of at least 5)")
    return Surrogate(model, pod)
