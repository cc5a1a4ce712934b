"""Classical baselines on the same data as the networks.

* :class:`PODRegression`: proper orthogonal decomposition of the training fields (the
  disturbance of the freestream, u − cos α, v − sin α, Cp), with the POD coefficients
  interpolated over the shape and flow parameters by thin-plate-spline radial basis functions
  (a standard reduced-order model, "POD-RBF"). The shape parameters are the Kulfan (CST)
  parameters of each section (:func:`shapes.kulfan_parameters`, fitted by aerosandbox), which
  exist for NACA and UIUC sections alike; (m, p, t) exist only for the NACA family.
* :func:`freestream`: u = cos α, v = sin α, Cp = 0: the error of predicting nothing.
* C_L baselines: thin-airfoil theory (:func:`lift.thin_airfoil_cl`) and the MLP on the same
  parameters (:func:`model.build_cl_mlp`, features :func:`parameters`).

A POD-RBF fit is also the first stage of the ``pod_residual`` U-Net (:mod:`model`), which learns POD's error:
:func:`out_of_fold` gives that network POD fields of its training cases from fits that never saw them, and
:meth:`PODRegression.save` / :meth:`PODRegression.load` keep the fit beside the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.airfoil_flow.dataset import FieldData
from shared.io import DataError, load_npz, save_npz

#: the POD-RBF fit beside a pod_residual network in a model folder (:meth:`PODRegression.save`)
POD_FILE = "pod.npz"


def _disturbance(fields: FieldData, idx) -> np.ndarray:
    a = np.radians(fields.meta["alpha"][idx])[:, None, None]
    fluid = ~fields.mask[idx]
    du = np.where(fluid, fields.u[idx] - np.cos(a), 0.0)
    dv = np.where(fluid, fields.v[idx] - np.sin(a), 0.0)
    return np.stack([du, dv, fields.cp[idx]], axis=-1).reshape(len(du), -1)


def parameters(fields: FieldData, idx) -> np.ndarray:
    """``(n, P + 1)`` float64: the Kulfan parameters of each sample's section and α (deg)."""
    return np.column_stack([fields.meta["shape_params"][idx], fields.meta["alpha"][idx]]).astype(float)


def freestream(fields: FieldData, idx) -> np.ndarray:
    """``(n, H, W, 3)`` freestream prediction, zero inside the body."""
    return _freestream(fields.meta["alpha"][idx], fields.mask[idx])


def _freestream(alpha_deg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a = np.radians(np.asarray(alpha_deg, float))[:, None, None]
    fluid = ~np.asarray(mask, bool)
    ones = np.ones(mask.shape, "float32")
    return np.stack([ones * np.cos(a) * fluid, ones * np.sin(a) * fluid, 0 * ones], axis=-1).astype("float32")


@dataclass
class PODRegression:
    """POD-RBF: POD modes of the training disturbances, their coefficients interpolated over the Kulfan
    parameters and α by a thin-plate-spline RBF (scipy ``RBFInterpolator``, degree-1 polynomial)."""

    modes: int = 32
    smoothing: float = 1e-4

    def fit(self, fields: FieldData, idx) -> PODRegression:
        """Fit the modes and the interpolator on the samples ``idx``.

        Raises:
            DataError: fewer samples than the RBF's linear polynomial needs (parameters + 2).
        """
        n_params = fields.meta["shape_params"].shape[1] + 1
        if len(np.atleast_1d(idx)) < n_params + 2:
            raise DataError(f"POD-RBF needs at least {n_params + 2} training cases ({n_params} parameters: Kulfan "
                            f"and α), got {len(np.atleast_1d(idx))}")
        snapshots = _disturbance(fields, idx)
        self.mean_ = snapshots.mean(axis=0)
        _, s, vt = np.linalg.svd(snapshots - self.mean_, full_matrices=False)
        k = min(self.modes, len(s))
        self.basis_ = vt[:k]
        self.energy_ = float((s[:k] ** 2).sum() / (s**2).sum())
        self.coeffs_ = (snapshots - self.mean_) @ self.basis_.T
        x = parameters(fields, idx)
        self.lo_, self.span_ = x.min(axis=0), np.ptp(x, axis=0) + 1e-12
        self.x_ = (x - self.lo_) / self.span_
        self.shape_ = tuple(fields.u.shape[1:])
        return self._interpolate()

    def _interpolate(self) -> PODRegression:
        from scipy.interpolate import RBFInterpolator

        self.rbf_ = RBFInterpolator(self.x_, self.coeffs_, kernel="thin_plate_spline", smoothing=self.smoothing,
                                    degree=1)
        return self

    def predict(self, fields: FieldData, idx) -> np.ndarray:
        """``(n, H, W, 3)`` = u, v, Cp, zero inside the body."""
        return self.predict_params(parameters(fields, idx), fields.mask[idx])

    def predict_params(self, params: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``(n, H, W, 3)`` float32 = u, v (units of U∞), Cp, zero inside the body, from ``params`` ``(n, P + 1)``
        (Kulfan parameters and α in degrees, :func:`parameters`) and the body ``mask`` ``(n, H, W)`` bool.

        Raises:
            ValueError: ``params`` has another number of columns than the fit, or ``mask`` another grid.
        """
        params = np.atleast_2d(np.asarray(params, float))
        if params.shape[1] != len(self.lo_) or tuple(mask.shape[1:]) != self.shape_:
            raise ValueError(f"POD-RBF fitted on {len(self.lo_)} parameters and a {self.shape_} grid, "
                             f"got {params.shape[1]} and {tuple(mask.shape[1:])}")
        recon = (self.rbf_((params - self.lo_) / self.span_) @ self.basis_ + self.mean_)
        recon = recon.reshape(len(params), *self.shape_, 3)
        return (recon + _freestream(params[:, -1], mask)).astype("float32") * (~np.asarray(mask, bool))[..., None]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit to ``path`` (``.npz``, atomically); :meth:`load` rebuilds the same interpolator."""
        return save_npz(path, modes=np.int64(self.modes), smoothing=np.float64(self.smoothing), mean=self.mean_,
                        basis=self.basis_, energy=np.float64(self.energy_), coeffs=self.coeffs_, x=self.x_,
                        lo=self.lo_, span=self.span_, shape=np.asarray(self.shape_, np.int64))

    @classmethod
    def load(cls, path: str | os.PathLike) -> PODRegression:
        """A fit written by :meth:`save`.

        Raises:
            DataError: the file is missing, not an ``.npz``, lacks an array of the fit, its arrays do not fit
                together, or it holds NaN or inf.
        """
        keys = ("modes", "smoothing", "mean", "basis", "energy", "coeffs", "x", "lo", "span", "shape")
        arrays = load_npz(path, keys)
        pod = cls(int(arrays["modes"]), float(arrays["smoothing"]))
        pod.mean_, pod.basis_, pod.coeffs_, pod.x_ = arrays["mean"], arrays["basis"], arrays["coeffs"], arrays["x"]
        pod.lo_, pod.span_, pod.energy_ = arrays["lo"], arrays["span"], float(arrays["energy"])
        pod.shape_ = tuple(int(n) for n in arrays["shape"])
        if pod.basis_.shape[1] != 3 * int(np.prod(pod.shape_)) or len(pod.coeffs_) != len(pod.x_):
            raise DataError(f"{path}: the POD-RBF arrays do not fit together (a truncated or foreign file?)")
        if not all(np.all(np.isfinite(arrays[k])) for k in ("mean", "basis", "coeffs", "x", "lo", "span")):
            raise DataError(f"{path}: the POD-RBF fit holds NaN or inf values")
        return pod._interpolate()


def out_of_fold(fields: FieldData, idx, modes: int, smoothing: float, folds: int = 5, seed: int = 0) -> np.ndarray:
    """POD-RBF fields of the cases ``idx``, each predicted by a fit on the other folds of ``idx``.

    The ``pod_residual`` U-Net learns POD's error; on its own training cases a POD-RBF fitted on them would
    interpolate them almost exactly, so the network would learn to correct nothing. Cross-fitting gives it the
    error POD makes on cases it never saw, as at test time.

    Returns:
        ``(len(idx), H, W, 3)`` float32 = u, v, Cp, in the order of ``idx``.

    Raises:
        ValueError: ``folds`` < 2 or more folds than cases.
    """
    idx = np.asarray(idx)
    if folds < 2 or folds > len(idx):
        raise ValueError(f"folds must lie in 2 … {len(idx)} (the cases), got {folds}")
    out = np.empty((len(idx), *fields.u.shape[1:], 3), "float32")
    for part in np.array_split(np.random.default_rng(seed).permutation(len(idx)), folds):
        rest = np.setdiff1d(np.arange(len(idx)), part)
        out[part] = PODRegression(modes, smoothing).fit(fields, idx[rest]).predict(fields, idx[part])
    return out
