"""Stage ``calibrate``: per-label temperature (or Platt) scaling and F1-maximising thresholds on validation.

Reads the validation logits that the train stage wrote for the chosen model (``<model>/predictions/val.npz``:
``logits`` float32 (n, C), ``labels`` uint8 (n, C)) and the character names (``<model>/train.json``), fits
:func:`projects.cartoon_characters.calibration.fit` and writes ``<out>/calibration.json`` (read by the evaluate
stage and ``capstone cartoon_characters detect``). Test frames are never read here.

    python -m projects.cartoon_characters.calibrate --params projects/cartoon_characters/params.yaml \\
        --model data/cartoon_characters/model --out data/cartoon_characters/calibration
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from projects.cartoon_characters.calibration import METHODS, fit, save
from shared.config import load_section
from shared.io import DataError, atomic_dir, check_array, load_npz, read_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrateConfig:
    method: str = "temperature"
    bounds: tuple[float, float] = (0.05, 20.0)
    threshold_grid: int = 199
    bins: int = 15

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0 < self.bounds[0] < self.bounds[1]:
            raise ValueError(f"bounds must satisfy 0 < low < high, got {self.bounds}")
        if self.threshold_grid < 1 or self.bins < 1:
            raise ValueError("threshold_grid and bins must be ≥ 1")


def read_val_predictions(model_dir: str | Path) -> tuple[list[str], object, object]:
    """(characters, logits (n, C), labels (n, C)) of the model's validation predictions.

    Raises:
        DataError: a file is missing or corrupt, or the shapes disagree with the character list.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "train.json").is_file() or not (model_dir / "predictions" / "val.npz").is_file():
        raise DataError(f"{model_dir} holds no trained model with validation predictions (train.json, "
                        f"predictions/val.npz); run the train stage first "
                        f"(dvc repro projects/cartoon_characters/dvc.yaml:train)")
    info = read_json(model_dir / "train.json")
    characters = [str(c) for c in info.get("characters", [])]
    arrays = load_npz(model_dir / "predictions" / "val.npz", required=("logits", "labels"))
    path = model_dir / "predictions" / "val.npz"
    logits = check_array(arrays["logits"], "logits", ndim=2, shape=(None, len(characters)), dtype="f", source=path)
    labels = check_array(arrays["labels"], "labels", shape=logits.shape, dtype="iub", source=path)
    if not len(logits):
        raise DataError(f"{path} holds no validation frames")
    return characters, logits, labels


def main(argv=None) -> int:
    args = stage_parser(__doc__, inputs=("model",), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "calibrate", CalibrateConfig)
    characters, logits, labels = read_val_predictions(args.model)
    cal = fit(logits, labels, characters, cfg.method, cfg.bounds, cfg.threshold_grid, cfg.bins)
    with atomic_dir(args.out) as tmp:
        save(cal, Path(tmp) / "calibration.json")
    log.info("wrote %s/calibration.json: %s per label %s, thresholds %s", args.out, cfg.method,
             [round(float(t), 3) for t in cal.scale], [round(float(t), 3) for t in cal.thresholds])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
