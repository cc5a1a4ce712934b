"""Stage ``data`` (root DVC stage ``image_captioning_data``): captioned pictures → one square image array and
caption lists split by image.

Sources (``data.source``):

- ``scenes`` (default, offline): the embedded procedural scene set of :mod:`projects.image_captioning.scenes`,
  split by image with ``data.split_fractions``/``split_seed``;
- ``flickr8k``: a Flickr8k folder at ``data.path`` in the Kaggle or the original layout, with the official split
  lists, Karpathy's split or a seeded split by photo (see :mod:`projects.image_captioning.readers`);
- ``coco``: TFDS ``coco_captions`` prepared in ``data.path`` (Karpathy's split).

Photos are resized to ``data.size``² by letterboxing (the whole photo, black bars; default) or a centre crop
(``data.resize``). Every caption is normalised with :func:`projects.image_captioning.text.normalize` (the one
normalisation training and scoring share); empty captions after normalisation are dropped.

Output ``<out>/``: ``images.npy`` uint8 (N, S, S, 3); ``train.json``, ``val.json``, ``test.json``, each a list of
``{"index": row of images.npy, "image": file name, "captions": [normalised caption, ...]}`` (scenes add
``"layout"``: ``single``, ``count``, ``list`` or ``relation:<name>``); ``meta.json`` (source, size, counts, split
rule, the config).

    python -m projects.image_captioning.data --params projects/image_captioning/params.yaml \
        --out data/image_captioning/prepared
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from projects.image_captioning import readers, scenes
from projects.image_captioning.dataset import SPLITS
from projects.image_captioning.text import normalize
from shared.config import load_section, to_dict
from shared.data import split_indices
from shared.io import DataError, atomic_dir, atomic_path, write_json
from shared.paths import repo_root
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ScenesConfig:
    count: int = 3000
    seed: int = 14
    max_objects: int = 4
    captions_per_image: int = 5


@dataclass(frozen=True)
class DataConfig:
    source: Literal["scenes", "flickr8k", "coco"] = "scenes"
    #: flickr8k: the folder (Kaggle or original layout); coco: the TFDS data_dir
    path: str = "data/image_captioning/external/flickr8k"
    size: int = 64
    resize: Literal["letterbox", "crop"] = "letterbox"
    #: 0: all; else at most this many images in total (each split keeps its share)
    max_images: int = 0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    workers: int = 2
    scenes: ScenesConfig = field(default_factory=ScenesConfig)

    def __post_init__(self) -> None:
        if not np.isclose(sum(self.split_fractions), 1.0) or min(self.split_fractions) < 0:
            raise ValueError(f"split_fractions must be non-negative and sum to 1, got {self.split_fractions}")
        if self.size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {self.size}")
        if self.max_images < 0:
            raise ValueError(f"max_images must be 0 (all) or positive, got {self.max_images}")


def _cap(names_by_split: dict[str, list], limit: int) -> dict[str, list]:
    """Keep at most ``limit`` items in total, each split its share (at least one)."""
    total = sum(len(v) for v in names_by_split.values())
    if not limit or total <= limit:
        return names_by_split
    return {k: v[: max(1, math.floor(len(v) * limit / total))] for k, v in names_by_split.items()}


def _entries(names: Sequence[str], captions: Sequence[Sequence[str]], start: int,
             extra: Sequence[dict] | None = None) -> list[dict]:
    out = []
    for i, (name, caps) in enumerate(zip(names, captions)):
        clean = [c for c in (normalize(t) for t in caps) if c]
        if not clean:
            raise DataError(f"image {name} has no caption left after normalisation: {list(caps)!r}")
        entry = {"index": start + i, "image": name, "captions": clean}
        if extra is not None:
            entry.update(extra[i])
        out.append(entry)
    return out


def _layout(scene: scenes.Scene) -> str:
    return f"relation:{scene.relation}" if scene.layout == "relation" else scene.layout


def build_scenes(cfg: DataConfig) -> tuple[np.ndarray, dict[str, list[dict]], str]:
    s = cfg.scenes
    images, texts, descr = scenes.generate(s.count, cfg.size, s.seed, s.max_objects, s.captions_per_image)
    parts = dict(zip(SPLITS, split_indices(len(images), cfg.split_fractions, cfg.split_seed)))
    parts = _cap({k: list(v) for k, v in parts.items()}, cfg.max_images)
    order = np.concatenate([np.asarray(parts[k], int) for k in SPLITS])
    splits, start = {}, 0
    for name in SPLITS:
        idx = parts[name]
        splits[name] = _entries([f"scene_{i:05d}.png" for i in idx], [texts[i] for i in idx], start,
                                [{"layout": _layout(descr[i])} for i in idx])
        start += len(idx)
    rule = f"seeded split by image (fractions {list(cfg.split_fractions)}, seed {cfg.split_seed})"
    return images[order], splits, rule


def build_flickr8k(cfg: DataConfig) -> tuple[np.ndarray, dict[str, list[dict]], str]:
    folder = Path(cfg.path) if Path(cfg.path).is_absolute() else repo_root() / cfg.path
    data = readers.read_flickr8k(folder)
    names = sorted(data.captions)
    if data.splits is not None:
        parts = {k: [n for n in names if data.splits[n] == k] for k in SPLITS}
        rule = data.split_rule
    else:
        cut = split_indices(len(names), cfg.split_fractions, cfg.split_seed)
        parts = {k: [names[i] for i in idx] for k, idx in zip(SPLITS, cut)}
        rule = f"{data.split_rule} (fractions {list(cfg.split_fractions)}, seed {cfg.split_seed})"
    parts = _cap(parts, cfg.max_images)
    ordered = [n for k in SPLITS for n in parts[k]]
    log.info("Flickr8k %s: reading %d photos from %s", data.layout, len(ordered), data.images)
    images = readers.load_photos([data.images / n for n in ordered], cfg.size, cfg.resize, cfg.workers)
    splits, start = {}, 0
    for k in SPLITS:
        splits[k] = _entries(parts[k], [data.captions[n] for n in parts[k]], start)
        start += len(parts[k])
    return images, splits, f"{rule}; {data.layout}"


def build_coco(cfg: DataConfig) -> tuple[np.ndarray, dict[str, list[dict]], str]:
    folder = Path(cfg.path) if Path(cfg.path).is_absolute() else repo_root() / cfg.path
    images, splits, start = [], {}, 0
    for k in SPLITS:
        limit = max(1, round(cfg.max_images * cfg.split_fractions[SPLITS.index(k)])) if cfg.max_images else 0
        names, caps = [], []
        for name, img, texts in readers.iter_coco(folder, k, cfg.size, cfg.resize, limit):
            names.append(name)
            caps.append(texts)
            images.append(img)
        splits[k] = _entries(names, caps, start)
        start += len(names)
    return np.stack(images), splits, "Karpathy's COCO split (TFDS coco_captions: train+restval / val / test)"


def build(cfg: DataConfig, out: Path) -> dict:
    """Read the source, split by image, normalise captions; write ``out``; returns the meta.

    Raises:
        DataError: the source is missing or malformed (see :mod:`projects.image_captioning.readers`), or a split
            ends up empty.
    """
    builder = {"scenes": build_scenes, "flickr8k": build_flickr8k, "coco": build_coco}[cfg.source]
    images, splits, rule = builder(cfg)
    for name in SPLITS:
        if not splits[name]:
            raise DataError(f"split {name!r} of source {cfg.source} is empty; give more images or change "
                            f"data.split_fractions / data.max_images")
    with atomic_path(out / "images.npy") as tmp:
        np.save(tmp, np.ascontiguousarray(images, dtype=np.uint8))
    for name in SPLITS:
        write_json(out / f"{name}.json", splits[name])
    counts = {k: {"images": len(v), "captions": sum(len(e["captions"]) for e in v)} for k, v in splits.items()}
    meta = {"source": cfg.source, "size": cfg.size, "resize": cfg.resize, "split_rule": rule, "counts": counts,
            "normalisation": "projects.image_captioning.text.normalize (NFKC, lower case, punctuation -> space, "
                             "apostrophes dropped, single spaces)",
            "config": to_dict(cfg)}
    write_json(out / "meta.json", meta)
    for k, c in counts.items():
        log.info("%s: %d images, %d captions", k, c["images"], c["captions"])
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    with atomic_dir(args.out) as tmp:
        build(cfg, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
