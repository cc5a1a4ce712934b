"""A label volume in another tool's values (e.g. 0/1/5, or −1/0/1) mapped to 0 vesicle, 1 glass, 2 crystal.

Used by the data stage (a labelled real scan, ``data.scan.label_map``) and by ``capstone rock_ct measure
--label-map``: one mapping, so both read a user's labels the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shared.io import DataError


def map_labels(array: Any, mapping: Mapping[int, int], source: str = "labels", option: str = "the label map",
               slab: int = 32) -> np.ndarray:
    """``array`` (Z, Y, X) integer labels (any values, negative too) → uint8 classes, read slab by slab.

    Args:
        array: (Z, Y, X) array-like with numpy slicing.
        mapping: the user's value → class (0 vesicle, 1 glass, 2 crystal).
        source, option: the file and the setting named in the error.

    Raises:
        DataError: a value present that ``mapping`` does not map.
    """
    out = np.empty(tuple(array.shape), np.uint8)
    for z0 in range(0, out.shape[0], slab):
        block = np.asarray(array[z0:z0 + slab])
        present = np.unique(block)
        missing = sorted(int(v) for v in present if int(v) not in mapping)
        if missing:
            raise DataError(f"{source} holds label value(s) {missing[:10]} that {option} {dict(mapping)} does not "
                            f"map to 0 vesicle, 1 glass or 2 crystal")
        classes = np.array([mapping[int(v)] for v in present], np.uint8)
        out[z0:z0 + slab] = classes[np.searchsorted(present, block)]
    return out
