"""Stage ``cartoon_characters_data`` (root dvc.yaml): cartoon frames with multi-hot character labels.

``data.source`` chooses the frames: ``embedded`` (the default: :mod:`projects.cartoon_characters.compositor`, ten
characters, Zipf frequencies, exact labels, plus the ``shifted`` evaluation set) or ``folder`` (real labelled
frames, :mod:`projects.cartoon_characters.readers`: a labels CSV or one folder per character; profile ``folder``).

Writes ``<out>/{train,val,test}.npz`` (and ``shifted.npz`` for the embedded source), each with

* ``images``: uint8 (n, S, S, 3), S = ``data.size`` (real frames letterboxed: longer side scaled to S, centred,
  padded with black);
* ``labels``: uint8 (n, C) multi-hot, columns in the order of ``meta.json``'s ``characters``;
* ``names``: str (n,): the file name (real frames) or a generated id ``<split>-<index>``;

and ``meta.json``: ``characters``, ``source``, ``size``, ``counts`` (frames per split), ``frequencies`` (share of
train frames showing each character), ``label_counts`` (per split and character), ``split_rule``, ``seconds``.

    python -m projects.cartoon_characters.data --params projects/cartoon_characters/params.yaml \\
        --out data/cartoon_characters/prepared
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from projects.cartoon_characters.compositor import CHARACTERS, CompositorConfig, generate
from projects.cartoon_characters.readers import FolderConfig, load_frames, read_folder, stratified_split
from shared.config import load_section, to_dict
from shared.io import atomic_dir, save_npz, write_json
from shared.paths import repo_root
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

EMBEDDED_SPLITS = ("train", "val", "test", "shifted")


@dataclass(frozen=True)
class DataConfig:
    source: str = "embedded"
    size: int = 64
    seed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"train": 4000, "val": 1000, "test": 1000,
                                                           "shifted": 1000})
    compositor: CompositorConfig = CompositorConfig()
    folder: FolderConfig = FolderConfig()

    def __post_init__(self) -> None:
        if self.source not in ("embedded", "folder"):
            raise ValueError(f"source must be embedded or folder, got {self.source!r}")
        if self.size < 16:
            raise ValueError(f"size must be ≥ 16, got {self.size}")
        if set(self.counts) != set(EMBEDDED_SPLITS) or min(self.counts.values()) < 1:
            raise ValueError(f"counts must give a positive count for each of {', '.join(EMBEDDED_SPLITS)}, "
                             f"got {self.counts}")


def embedded_splits(cfg: DataConfig) -> dict[str, dict[str, np.ndarray]]:
    """The compositor's frames of every split; split ``k`` of :data:`EMBEDDED_SPLITS` from seed ``(seed, k)``."""
    out = {}
    for k, split in enumerate(EMBEDDED_SPLITS):
        start = time.perf_counter()
        n = cfg.counts[split]
        images, labels = generate(cfg.compositor, cfg.size, n, (cfg.seed, k), shifted=split == "shifted")
        out[split] = {"images": images, "labels": labels,
                      "names": np.array([f"{split}-{i:05d}" for i in range(n)])}
        log.info("%s: %d frames in %.1f s (%.0f frames/s), %.2f characters per frame", split, n,
                 time.perf_counter() - start, n / max(time.perf_counter() - start, 1e-9), labels.sum(1).mean())
    return out


def folder_splits(cfg: DataConfig, root: Path | None = None) -> tuple[dict[str, dict[str, np.ndarray]], tuple]:
    """Real frames of ``cfg.folder``, split by iterative stratification; returns (splits, characters).

    Raises:
        DataError: see :func:`projects.cartoon_characters.readers.read_folder` and ``stratified_split``.
    """
    found = read_folder(cfg.folder, base=root or repo_root())
    parts = stratified_split(found.labels, cfg.folder.split, cfg.seed, found.characters)
    out = {}
    for split, idx in zip(("train", "val", "test"), parts):
        out[split] = {"images": load_frames([found.paths[i] for i in idx], cfg.size), "labels": found.labels[idx],
                      "names": np.array([found.names[i] for i in idx])}
        log.info("%s: %d frames", split, len(idx))
    return out, found.characters


def main(argv=None) -> int:
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    start = time.perf_counter()
    if cfg.source == "embedded":
        splits, characters = embedded_splits(cfg), CHARACTERS
        rule = (f"embedded compositor: independent frames from seed ({cfg.seed}, split index); shifted: new scales, "
                f"heavier occlusion, new backgrounds (evaluation only)")
    else:
        splits, characters = folder_splits(cfg)
        rule = (f"iterative stratification (iterative-stratification) of the frames in {cfg.folder.root}, fractions "
                f"{list(cfg.folder.split)}, seed {cfg.seed}: every character in every split")
    with atomic_dir(args.out) as tmp:
        for split, arrays in splits.items():
            save_npz(Path(tmp) / f"{split}.npz", **arrays)
        train = splits["train"]["labels"]
        write_json(Path(tmp) / "meta.json", {
            "characters": list(characters), "source": cfg.source, "size": cfg.size,
            "counts": {s: int(len(a["labels"])) for s, a in splits.items()},
            "frequencies": {c: float(f) for c, f in zip(characters, train.mean(axis=0))},
            "label_counts": {s: {c: int(n) for c, n in zip(characters, a["labels"].sum(axis=0))}
                             for s, a in splits.items()},
            "split_rule": rule,
            "config": to_dict(cfg.compositor) if cfg.source == "embedded" else to_dict(cfg.folder),
            "seconds": round(time.perf_counter() - start, 1)})
    log.info("wrote %s in %.1f s; train frequencies %s", args.out, time.perf_counter() - start,
             {c: round(float(f), 3) for c, f in zip(characters, train.mean(axis=0))})
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
