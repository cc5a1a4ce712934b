"""Real sections and shape parameters: the UIUC database, airfoil families, Kulfan (CST) weights.

* :func:`aerosandbox_database`: the folder of the UIUC coordinate database that the installed
  ``aerosandbox`` package ships (2,174 files in aerosandbox 4.2).
* :func:`family_of`: the family of a section from its file name (the letter prefix: ``e`` Eppler,
  ``s``/``sd`` Selig, ``fx`` Wortmann, ``goe`` Göttingen, ``mh`` Hepperle, ``naca`` …), the unit
  that the evaluation holds out.
* :func:`kulfan_parameters`: a shape parameterisation that exists for any section, so that the
  parameter baselines (POD-RBF, the C_L MLP) take NACA and UIUC sections alike: the Kulfan
  class-shape transformation (CST) fitted by ``aerosandbox`` (``get_kulfan_parameters``: upper
  and lower Bernstein weights, leading-edge weight, trailing-edge thickness).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path

import numpy as np

from shared.io import DataError

log = logging.getLogger(__name__)


def aerosandbox_database() -> Path | None:
    """The UIUC coordinate database folder inside an installed aerosandbox (found without importing it).

    Returns:
        The folder of ``*.dat`` files, or ``None`` when aerosandbox is not installed.
    """
    spec = importlib.util.find_spec("aerosandbox")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "geometry" / "airfoil" / "airfoil_database"
    return folder if folder.is_dir() else None


def family_of(name: str) -> str:
    """The family of a section from its file stem: its leading letters, lower case (``"sd7037"`` → ``"sd"``).

    Args:
        name: a file stem such as ``e387``, ``goe398``, ``AV-1.7-8``.

    Returns:
        The family label (``"other"`` when the name starts with no letter).
    """
    match = re.match(r"[a-z]+", name.strip().lower())
    return match.group(0) if match else "other"


def kulfan_parameters(coords: np.ndarray, n_weights: int = 6) -> np.ndarray:
    """Kulfan (CST) parameters of a section, fitted by aerosandbox.

    Args:
        coords: (K, 2) contour in chords, counter-clockwise from the trailing edge (Selig order).
        n_weights: Bernstein weights per surface.

    Returns:
        ``(2 · n_weights + 2,)``: upper weights, lower weights, leading-edge weight, trailing-edge
        thickness (chords).

    Raises:
        DataError: aerosandbox is not installed.
    """
    try:
        from aerosandbox.geometry.airfoil.airfoil_families import get_kulfan_parameters
    except ImportError as exc:
        raise DataError("the shape parameters of the baselines need aerosandbox (pip install aerosandbox)") from exc
    k = get_kulfan_parameters(np.asarray(coords, dtype=float), n_weights_per_side=n_weights)
    return np.concatenate([k["upper_weights"], k["lower_weights"], [k["leading_edge_weight"], k["TE_thickness"]]])


def split_families(families: np.ndarray, val_fraction: float, test_fraction: float,
                   seed: int) -> tuple[list[str], list[str], list[str]]:
    """Assign whole families to train, validation and test (seeded).

    Families are shuffled and taken into test until ``test_fraction`` of the sections is
    reached, then into validation until ``val_fraction``; the rest train. Each part gets at
    least one family when there are three or more.

    Args:
        families: (N,) family label of each section.
        val_fraction, test_fraction: target shares of the sections.
        seed: seed of the shuffle.

    Returns:
        ``(train, val, test)`` lists of family labels.

    Raises:
        DataError: fewer than three families.
    """
    labels, counts = np.unique(families, return_counts=True)
    if len(labels) < 3:
        raise DataError(f"holding out by family needs at least 3 families, got {list(labels)}")
    order = np.random.default_rng(seed).permutation(len(labels))
    total = counts.sum()
    test, val, train = [], [], []
    n_test = n_val = 0
    for i in order:
        if (not test or n_test < test_fraction * total) and len(labels) - len(test) - len(val) > 2:
            test.append(labels[i])
            n_test += counts[i]
        elif (not val or n_val < val_fraction * total) and len(labels) - len(test) - len(val) > 1:
            val.append(labels[i])
            n_val += counts[i]
        else:
            train.append(labels[i])
    return sorted(train), sorted(val), sorted(test)
