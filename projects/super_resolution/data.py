"""Stage ``super_resolution_data``: high-resolution images, split by image into train/val/test.

Sources (``data.source`` in params.yaml, see ``dataset.py``): ``photos`` (default, offline: the
33 real photographs that installed wheels ship, cross-fitted in two folds with ``data.crossfit``),
``folder`` (your images in ``data/super_resolution/external/<data.folder>/``) or ``div2k``; ``data.benchmarks`` adds
test-only folders (Set5, Set14, ...). Writes the HR images and ``manifest.json``.

    python -m projects.super_resolution.data --params projects/super_resolution/params.yaml \
        --out data/super_resolution/prepared
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from projects.super_resolution.dataset import SOURCES, DataConfig, prepare
from shared.config import ConfigError, load_section
from shared.stage import run, stage_parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``data`` stage: prepare the HR images of the configured source into ``--out``.

    Raises:
        ConfigError: the ``data`` section is missing or invalid, or names an unknown source.
        DataError: the source's images are missing or unreadable (see :func:`prepare`).
    """
    args = stage_parser(__doc__, outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "data", DataConfig)
    if cfg.source not in SOURCES:  # pragma: no cover - Literal already checks it
        raise ConfigError(f"unknown data.source {cfg.source!r}")
    prepare(cfg, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
