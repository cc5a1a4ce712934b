"""Stage ``calibrate``: per-label temperature or Platt scaling and F1-maximising thresholds on validation.

With ``method: auto`` (the default) the method is the one of lower held-out NLL in a cross-validation over the
validation frames (:func:`projects.cartoon_characters.calibration.choose_method`), then fitted on all of them.

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

from projects.cartoon_characters.calibration import METHODS, choose_method, fit, save
from shared.config import load_section
from shared.io import DataError, atomic_dir, check_array, load_npz, read_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrateConfig:
    #: temperature | platt | none, or auto: the one of temperature and platt with the lower held-out NLL in a
    #: ``folds``-fold cross-validation over the validation frames
    method: str = "auto"
    bounds: tuple[float, float] = (0.05, 20.0)
    threshold_grid: int = 199
    bins: int = 15
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in (*METHODS, "auto"):
            raise ValueError(f"method must be one of auto, {', '.join(METHODS)}, got {self.method!r}")
        if self.folds < 2:
            raise ValueError(f"folds must be ≥ 2, got {self.folds}")
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
    method, scores = cfg.method, None
    if method == "auto":
        method, scores = choose_method(logits, labels, characters, ("temperature", "platt"), cfg.bounds, cfg.folds,
                                       cfg.seed)
    cal = fit(logits, labels, characters, method, cfg.bounds, cfg.threshold_grid, cfg.bins)
    if scores is not None:
        cal.validation["method_choice"] = {"rule": f"lowest {cfg.folds}-fold held-out NLL on validation",
                                           "held_out_nll": scores, "chosen": method}
    with atomic_dir(args.out) as tmp:
        save(cal, Path(tmp) / "calibration.json")
    log.info("wrote %s/calibration.json: %s per label %s, thresholds %s", args.out, method,
             [round(float(t), 3) for t in cal.scale], [round(float(t), 3) for t in cal.thresholds])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
