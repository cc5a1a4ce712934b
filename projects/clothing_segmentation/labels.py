"""The garment classes and the merge of Clothing Co-Parsing's 59 labels into them.

CCP (Yang et al. 2014) labels every pixel with one of 59 values (``label_list.mat``: 0 ``null``,
1 ``accessories``, ..., 58 ``wedges``). The project merges them into about twelve classes; the table lives in
``params.yaml`` (``data.merge``: class → list of CCP names) and is checked here: every CCP name must appear
exactly once, and every class must be declared in ``data.classes``.

The default table (documented in the README):

============  ===========================================================================================
class         CCP labels
============  ===========================================================================================
background    null
skin_hair     skin, hair (non-garment)
top           blouse, bodysuit, bra, hoodie, intimate, jumper, shirt, sweater, sweatshirt, swimwear,
              t-shirt, top, vest
outerwear     blazer, cape, cardigan, coat, jacket, suit
dress         dress, romper
skirt         skirt
trousers      jeans, leggings, pants
shorts        shorts, panties
shoes         boots, clogs, flats, heels, loafers, pumps, sandals, shoes, sneakers, wedges
bag           bag, purse, wallet
hat           hat
accessory     accessories, belt, bracelet, earrings, glasses, gloves, necklace, ring, scarf, socks,
              stockings, sunglasses, tie, tights, watch
============  ===========================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shared.io import DataError

#: CCP's label list (``label_list.mat``), value → name; the loader checks a found file against it
CCP_LABELS: tuple[str, ...] = (
    "null", "accessories", "bag", "belt", "blazer", "blouse", "bodysuit", "boots", "bra", "bracelet", "cape",
    "cardigan", "clogs", "coat", "dress", "earrings", "flats", "glasses", "gloves", "hair", "hat", "heels", "hoodie",
    "intimate", "jacket", "jeans", "jumper", "leggings", "loafers", "necklace", "panties", "pants", "pumps", "purse",
    "ring", "romper", "sandals", "scarf", "shirt", "shoes", "shorts", "skin", "skirt", "sneakers", "socks",
    "stockings", "suit", "sunglasses", "sweater", "sweatshirt", "swimwear", "t-shirt", "tie", "tights", "top", "vest",
    "wallet", "watch", "wedges",
)

#: the default merged classes (``data.classes``); 0 is background
CLASSES: tuple[str, ...] = ("background", "skin_hair", "top", "outerwear", "dress", "skirt", "trousers", "shorts",
                            "shoes", "bag", "hat", "accessory")


def merge_lut(merge: Mapping[str, Sequence[str]], classes: Sequence[str],
              source_labels: Sequence[str] = CCP_LABELS) -> np.ndarray:
    """A lookup table ``source value → class id`` (uint8, one entry per source label).

    Args:
        merge: class name → the source label names it takes (``data.merge``).
        classes: the class names in id order (``data.classes``).
        source_labels: the source's label names in value order (CCP's ``label_list``).

    Raises:
        DataError: a class of ``merge`` is not in ``classes``, a source label is missing from the table, appears
            twice, or is not a label of the source.
    """
    index = {name: k for k, name in enumerate(classes)}
    unknown_classes = sorted(set(merge) - set(index))
    if unknown_classes:
        raise DataError(f"data.merge names class(es) {unknown_classes} that data.classes lacks "
                        f"({', '.join(classes)})")
    owner: dict[str, str] = {}
    for cls, names in merge.items():
        for name in names:
            name = str(name)
            if name in owner:
                raise DataError(f"data.merge: label {name!r} is listed under both {owner[name]!r} and {cls!r}")
            owner[name] = cls
    strangers = sorted(set(owner) - set(source_labels))
    if strangers:
        raise DataError(f"data.merge lists {strangers}, not labels of the source (its labels: "
                        f"{', '.join(source_labels)})")
    missing = [name for name in source_labels if name not in owner]
    if missing:
        raise DataError(f"data.merge does not place the source label(s) {missing}; add each to one class")
    if len(classes) > 255:
        raise DataError(f"at most 255 classes, got {len(classes)}")
    return np.array([index[owner[name]] for name in source_labels], dtype=np.uint8)


def apply_lut(label_map: np.ndarray, lut: np.ndarray, where: str = "label map") -> np.ndarray:
    """Map a source label image through ``lut``.

    Raises:
        DataError: ``label_map`` holds a value without an entry in ``lut`` (an unknown label value), naming it.
    """
    label_map = np.asarray(label_map)
    if label_map.size and (label_map.min() < 0 or label_map.max() >= lut.size):
        bad = sorted({int(v) for v in np.unique(label_map) if v < 0 or v >= lut.size})
        raise DataError(f"{where} holds unknown label value(s) {bad[:10]}; the label list has values 0-{lut.size - 1}")
    return lut[label_map.astype(np.int64)]
