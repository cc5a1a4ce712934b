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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from projects.airfoil_flow.dataset import FieldData


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
    a = np.radians(fields.meta["alpha"][idx])[:, None, None]
    fluid = ~fields.mask[idx]
    ones = np.ones_like(fields.u[idx])
    return np.stack([ones * np.cos(a) * fluid, ones * np.sin(a) * fluid, 0 * ones], axis=-1).astype("float32")


@dataclass
class PODRegression:
    modes: int = 32
    smoothing: float = 1e-4

    def fit(self, fields: FieldData, idx) -> PODRegression:
        from scipy.interpolate import RBFInterpolator

        snapshots = _disturbance(fields, idx)
        self.mean_ = snapshots.mean(axis=0)
        _, s, vt = np.linalg.svd(snapshots - self.mean_, full_matrices=False)
        k = min(self.modes, len(s))
        self.basis_ = vt[:k]
        self.energy_ = float((s[:k] ** 2).sum() / (s**2).sum())
        coeffs = (snapshots - self.mean_) @ self.basis_.T
        x = parameters(fields, idx)
        self.lo_, self.span_ = x.min(axis=0), np.ptp(x, axis=0) + 1e-12
        self.rbf_ = RBFInterpolator((x - self.lo_) / self.span_, coeffs, kernel="thin_plate_spline",
                                    smoothing=self.smoothing, degree=1)
        self.shape_ = fields.u.shape[1:]
        return self

    def predict(self, fields: FieldData, idx) -> np.ndarray:
        """``(n, H, W, 3)`` = u, v, Cp, zero inside the body."""
        x = (parameters(fields, idx) - self.lo_) / self.span_
        recon = (self.rbf_(x) @ self.basis_ + self.mean_).reshape(len(x), *self.shape_, 3)
        return (recon + freestream(fields, idx)).astype("float32") * (~fields.mask[idx])[..., None]
