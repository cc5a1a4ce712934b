"""Stage ``data`` (root DVC stage ``clothing_segmentation_data``): labelled photos → garment instances,
letterboxed and split by image.

Sources (``data.source``): ``generated`` (the ``generate`` stage's COCO output, the default), ``ccp`` (Clothing
Co-Parsing, official or sample layout, from ``data.path``, ``data/clothing_segmentation/external/`` or the
network) and ``coco`` (any COCO instance file, categories mapped by ``data.coco_categories``).

An instance is one connected region (8-connectivity) of one garment class: CCP's label maps are merged into the
classes by the ``data.merge`` table, every COCO annotation is split into its connected parts; regions under
``min_area_fraction`` of the photo are dropped, and so are the non-garment classes (background, skin/hair).
Photos are split into train/val/test **by image** (never by instance), then letterboxed to ``size``².

Output ``<out>/{train,val,test}.npz``: ``images`` uint8 (N, S, S, 3), ``masks`` uint8 (M, S, S) in {0, 1},
``image_index`` int32 (M,) (row of ``images``), ``labels`` int32 (M,) (class ids), ``ids`` (N,) source ids,
``boxes`` int32 (N, 4) (y0, x0, h, w of the photo inside the letterbox); val and test also hold ``eval_images``
(N, E, E, 3) and ``eval_masks`` (M, E, E), the same photos and instances letterboxed to ``eval_size`` (the click
protocol's resolution; a garment of a few dozen pixels cannot reach IoU 0.9) when it differs from ``size``;
and ``meta.json`` (classes, garment
classes, source, size, counts).

    python -m projects.clothing_segmentation.data --params projects/clothing_segmentation/params.yaml \
        --out data/clothing_segmentation/prepared
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.clothing_segmentation.labels import CLASSES, merge_lut
from projects.clothing_segmentation.loaders import (
    CCP_URL,
    Picture,
    ccp_ids,
    ccp_root,
    coco_image_ids,
    garment_instances,
    iter_ccp,
    iter_coco,
    letterbox,
    letterbox_box,
)
from shared.config import load_section, to_dict
from shared.data import split_indices
from shared.io import DataError, atomic_dir, save_npz, write_json
from shared.paths import repo_root
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")

DEFAULT_MERGE: dict[str, tuple[str, ...]] = {
    "background": ("null",), "skin_hair": ("skin", "hair"),
    "top": ("blouse", "bodysuit", "bra", "hoodie", "intimate", "jumper", "shirt", "sweater", "sweatshirt", "swimwear",
            "t-shirt", "top", "vest"),
    "outerwear": ("blazer", "cape", "cardigan", "coat", "jacket", "suit"), "dress": ("dress", "romper"),
    "skirt": ("skirt",), "trousers": ("jeans", "leggings", "pants"), "shorts": ("shorts", "panties"),
    "shoes": ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "wedges"),
    "bag": ("bag", "purse", "wallet"), "hat": ("hat",),
    "accessory": ("accessories", "belt", "bracelet", "earrings", "glasses", "gloves", "necklace", "ring", "scarf",
                  "socks", "stockings", "sunglasses", "tie", "tights", "watch"),
}


@dataclass(frozen=True)
class DataConfig:
    source: Literal["generated", "ccp", "coco"] = "generated"
    #: generated/coco: the folder of the COCO file and images; ccp: the CCP folder or archive ("" : external/ or fetch)
    path: str = "data/clothing_segmentation/generated"
    annotations: str = "annotations.json"
    #: the CCP archive, fetched when nothing was placed by hand
    url: str = CCP_URL
    size: int = 128
    #: val/test also stored at this letterbox side (``eval_images``, ``eval_masks``) for the click protocol; 0: size
    eval_size: int = 0
    min_area_fraction: float = 0.003
    max_images: int = 0
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    split_seed: int = 0
    classes: tuple[str, ...] = CLASSES
    non_garment: tuple[str, ...] = ("background", "skin_hair")
    merge: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_MERGE))
    coco_categories: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not np.isclose(sum(self.split_fractions), 1.0) or min(self.split_fractions) < 0:
            raise ValueError(f"split_fractions must be non-negative and sum to 1, got {self.split_fractions}")
        if self.eval_size and self.eval_size < self.size:
            raise ValueError(f"eval_size must be 0 or at least size ({self.size}), got {self.eval_size}")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        if not 0 <= self.min_area_fraction < 1:
            raise ValueError(f"min_area_fraction must be in [0, 1), got {self.min_area_fraction}")
        unknown = sorted(set(self.non_garment) - set(self.classes))
        if unknown:
            raise ValueError(f"non_garment names {unknown}, not in classes")


def open_source(cfg: DataConfig) -> tuple[list, Callable[[list], Iterator[Picture]]]:
    """``(ids, read)``: the source's picture ids and ``read(ids) -> Iterator[Picture]``."""
    root = repo_root()
    if cfg.source == "ccp":
        folder = ccp_root(cfg.path, cfg.url)
        merge_lut(cfg.merge, cfg.classes)  # a bad table fails before any photo is read
        return ccp_ids(folder), lambda ids: iter_ccp(folder, cfg.merge, cfg.classes, ids)
    folder = Path(cfg.path) if Path(cfg.path).is_absolute() else root / cfg.path
    if not folder.is_dir():
        raise DataError(f"data.path {folder} is not a folder"
                        + (" (run the generate stage first: dvc repro clothing_segmentation_generate)"
                           if cfg.source == "generated" else ""))
    mapping = {} if cfg.source == "generated" else cfg.coco_categories
    return (coco_image_ids(folder, cfg.annotations),
            lambda ids: iter_coco(folder, cfg.annotations, cfg.classes, mapping, ids))


def build_split(pictures: Iterator[Picture], cfg: DataConfig, garment: set[int],
                eval_size: int = 0) -> tuple[dict, dict]:
    images, masks, index, labels, ids, boxes = [], [], [], [], [], []
    eval_images, eval_masks = [], []
    dropped = vanished = 0
    for picture in pictures:
        found, small = garment_instances(picture, cfg.min_area_fraction, garment)
        dropped += small
        row = len(images)
        images.append(letterbox(picture.image, cfg.size))
        if eval_size:
            eval_images.append(letterbox(picture.image, eval_size))
        ids.append(picture.id)
        boxes.append(letterbox_box(*picture.image.shape[:2], cfg.size))
        for cls, mask in found:
            small_mask = letterbox(mask, cfg.size, mask=True)
            eval_mask = letterbox(mask, eval_size, mask=True) if eval_size else None
            if not small_mask.any() or (eval_mask is not None and not eval_mask.any()):
                vanished += 1
                continue
            masks.append(small_mask)
            if eval_mask is not None:
                eval_masks.append(eval_mask)
            index.append(row)
            labels.append(cls)
    s = cfg.size
    arrays = {"images": np.stack(images) if images else np.zeros((0, s, s, 3), np.uint8),
              "masks": np.stack(masks).astype(np.uint8) if masks else np.zeros((0, s, s), np.uint8),
              "image_index": np.asarray(index, dtype=np.int32), "labels": np.asarray(labels, dtype=np.int32),
              "ids": np.asarray(ids, dtype=str), "boxes": np.asarray(boxes, dtype=np.int32).reshape(-1, 4)}
    if eval_size:
        e = eval_size
        arrays["eval_images"] = np.stack(eval_images) if eval_images else np.zeros((0, e, e, 3), np.uint8)
        arrays["eval_masks"] = np.stack(eval_masks).astype(np.uint8) if eval_masks else np.zeros((0, e, e), np.uint8)
    counts = {"images": len(images), "instances": len(masks), "dropped_small": dropped,
              "vanished_at_size": vanished,
              "per_class": {cfg.classes[k]: int(np.sum(arrays["labels"] == k)) for k in sorted(garment)}}
    return arrays, counts


def build(cfg: DataConfig, out: Path) -> dict:
    """Read, split by image, extract instances, letterbox; write ``out``; returns the meta."""
    ids, read = open_source(cfg)
    if cfg.max_images:
        ids = ids[: cfg.max_images]
    if len(ids) < 3:
        raise DataError(f"the source holds {len(ids)} labelled photo(s); at least 3 are needed for three splits")
    garment = {k for k, name in enumerate(cfg.classes) if name not in cfg.non_garment}
    meta = {"classes": list(cfg.classes), "garment_classes": [cfg.classes[k] for k in sorted(garment)],
            "source": cfg.source, "path": cfg.path, "size": cfg.size,
            "eval_size": cfg.eval_size if cfg.eval_size not in (0, cfg.size) else cfg.size,
            "min_area_fraction": cfg.min_area_fraction,
            "config": to_dict(cfg), "counts": {}}
    for name, idx in zip(SPLITS, split_indices(len(ids), cfg.split_fractions, cfg.split_seed)):
        eval_size = cfg.eval_size if name != "train" and cfg.eval_size not in (0, cfg.size) else 0
        arrays, counts = build_split(read([ids[i] for i in idx]), cfg, garment, eval_size)
        if counts["instances"] == 0:
            raise DataError(f"split {name!r} has no garment instance; give more photos, change split_fractions or "
                            f"lower min_area_fraction")
        save_npz(out / f"{name}.npz", **arrays)
        meta["counts"][name] = counts
        log.info("%s: %d images, %d instances (%d small regions dropped)", name, counts["images"],
                 counts["instances"], counts["dropped_small"])
    write_json(out / "meta.json", meta)
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        build(cfg, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
