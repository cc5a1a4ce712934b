"""Stage ``evaluate``: the CNN beside the feature baselines on test (and shifted), and the targets.

For every evaluation split (``test``, and ``shifted`` when the source has one):

* accuracy, macro-F1, per-class F1 and the confusion matrix of the CNN, the logistic
  regression and the random forest (features of the ``baseline`` stage);
* calibration: NLL and ECE before and after temperature scaling (T fitted on val in ``train``),
  and the reliability curves;
* test-time augmentation over the 8 dihedral views: accuracy and its cost in inference time;
* Monte-Carlo dropout: predictive entropy, its AUROC for telling errors from correct
  predictions, and the most confident errors;
* throughput: images per second of the CNN at inference (batch 256), median of repeated runs.

Writes ``metrics.json`` (targets first), ``predictions.csv`` (one row per evaluated image),
``confident_errors.csv`` and plot data under ``plots/``.

    python -m projects.galaxy_morphology.evaluate --params projects/galaxy_morphology/params.yaml \
        --data data/galaxy_morphology/prepared --model data/galaxy_morphology/model \
        --baseline data/galaxy_morphology/baseline --out projects/galaxy_morphology/results
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.galaxy_morphology.augment import eval_arrays
from projects.galaxy_morphology.calibration import expected_calibration_error, nll, reliability
from projects.galaxy_morphology.data import load_split, read_manifest
from projects.galaxy_morphology.model import mc_dropout, predict_logits, predict_tta, softmax
from projects.galaxy_morphology.train import load_trained
from shared.config import load_section
from shared.io import DataError, load_npz, read_json, write_csv
from shared.metrics import timeit, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

BASELINES = ("logistic_regression", "random_forest")


@dataclass(frozen=True)
class EvaluateConfig:
    target_accuracy: float = 0.97
    target_macro_f1: float = 0.97
    target_ece: float = 0.02
    #: accuracy points the CNN must gain over the CAS + random forest baseline (test split)
    target_margin_points: float = 5.0
    target_shifted_accuracy: float = 0.90
    target_throughput: float = 300.0
    mc_samples: int = 30
    ece_bins: int = 15
    throughput_images: int = 2048
    confident_errors: int = 12


def scores(probs: np.ndarray, labels: np.ndarray, n_classes: int, bins: int) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    pred = probs.argmax(1)
    return {"accuracy": float(np.mean(pred == labels)),
            "macro_f1": float(f1_score(labels, pred, average="macro", labels=range(n_classes), zero_division=0)),
            "ece": expected_calibration_error(probs, labels, bins)}


def confusion(labels: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(labels, pred, labels=range(n_classes))


def error_auroc(entropy: np.ndarray, wrong: np.ndarray) -> float | None:
    """AUROC of the entropy as a detector of wrong predictions (None if all right or all wrong)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(wrong, entropy)) if 0 < wrong.sum() < wrong.size else None


def throughput(model, x: np.ndarray, images: int, batch_size: int = 256) -> dict[str, float]:
    """Inference images per second (median of 5 timed runs after a warm-up)."""
    reps = int(np.ceil(images / max(len(x), 1)))
    batch = np.concatenate([x] * reps)[:images] if reps > 1 else x[:images]
    stats = timeit(lambda: model.predict(batch, batch_size=batch_size, verbose=0), repeats=5, warmup=1)
    return {"images_per_s": len(batch) / stats["median_s"], "images": len(batch), "batch_size": batch_size,
            "median_s": stats["median_s"]}


def evaluate(cfg: EvaluateConfig, prepared: Path, model_dir: Path, baseline_dir: Path, out: Path) -> dict:
    manifest = read_manifest(prepared)
    classes = manifest["classes"]
    n = len(classes)
    model, info, calib = load_trained(model_dir)
    if info["classes"] != classes:
        raise DataError(f"the model in {model_dir} was trained on classes {info['classes']}, the data has {classes}")
    temperature = float(calib["temperature"])
    stretch, soft = info["preprocess"]["stretch"], info["preprocess"]["asinh_softening"]
    base = load_npz(baseline_dir / "predictions.npz")
    splits = [s for s in ("test", "shifted") if s in manifest["counts"]]
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    per_class: dict[str, dict[str, float]] = {}
    rows, rel_rows, conf_rows, errors = [], [], [], []
    tta_info: dict[str, Any] = {}
    from sklearn.metrics import f1_score

    for split in splits:
        x, y, ids = load_split(prepared, split)
        xs = eval_arrays(x, stretch, soft)
        start = time.perf_counter()
        logits = predict_logits(model, xs)
        t_plain = time.perf_counter() - start
        raw, scaled = softmax(logits), softmax(logits, temperature)
        start = time.perf_counter()
        tta = predict_tta(model, xs, temperature)
        t_tta = time.perf_counter() - start
        mc_mean, entropy = mc_dropout(model, xs, cfg.mc_samples, temperature, seed=0)
        table: dict[str, dict[str, Any]] = {}
        cnn = scores(scaled, y, n, cfg.ece_bins)
        cnn.update(ece_uncalibrated=scores(raw, y, n, cfg.ece_bins)["ece"], nll=nll(logits, y, temperature),
                   nll_uncalibrated=nll(logits, y))
        table["cnn"] = cnn
        table["cnn_tta8"] = scores(tta, y, n, cfg.ece_bins)
        table["cnn_mc_dropout"] = scores(mc_mean, y, n, cfg.ece_bins)
        for name in BASELINES:
            table[name] = scores(base[f"{name}__{split}"], y, n, cfg.ece_bins)
        tables[split] = table
        tta_info[split] = {"accuracy_gain_points": 100 * (table["cnn_tta8"]["accuracy"] - cnn["accuracy"]),
                           "time_ratio": t_tta / max(t_plain, 1e-9)}
        pred = scaled.argmax(1)
        wrong = pred != y
        table["cnn"]["entropy_error_auroc"] = error_auroc(entropy, wrong)
        f1 = f1_score(y, pred, average=None, labels=range(n), zero_division=0)
        rf_pred = base[f"random_forest__{split}"].argmax(1)
        rf_f1 = f1_score(y, rf_pred, average=None, labels=range(n), zero_division=0)
        for k, name in enumerate(classes):
            per_class.setdefault(name, {})[f"{split}_f1"] = float(f1[k])
            per_class[name][f"{split}_rf_f1"] = float(rf_f1[k])
        for model_name, probs in (("cnn", scaled), ("random_forest", base[f"random_forest__{split}"])):
            cm = confusion(y, probs.argmax(1), n)
            conf_rows += [{"split": split, "model": model_name, "actual": classes[i], "predicted": classes[j],
                           "count": int(cm[i, j])} for i in range(n) for j in range(n)]
        for kind, probs in (("before", raw), ("after", scaled)):
            rel = reliability(probs, y, cfg.ece_bins)
            rel_rows += [{"split": split, "scaling": kind, "bin": b, "low": rel["low"][b], "high": rel["high"][b],
                          "confidence": rel["confidence"][b], "accuracy": rel["accuracy"][b],
                          "count": int(rel["count"][b])} for b in range(cfg.ece_bins)]
        for i in range(len(y)):
            rows.append({"split": split, "id": str(ids[i]), "label": classes[y[i]], "predicted": classes[pred[i]],
                         "probability": float(scaled[i, pred[i]]), "entropy": float(entropy[i]),
                         "correct": bool(not wrong[i]), "rf_predicted": classes[rf_pred[i]]})
        worst = np.argsort(-scaled.max(1) * wrong)[: cfg.confident_errors]
        errors += [{"split": split, "id": str(ids[i]), "label": classes[y[i]], "predicted": classes[pred[i]],
                    "probability": float(scaled[i, pred[i]]), "entropy": float(entropy[i])} for i in worst if wrong[i]]
        log.info("%s: CNN accuracy %.4f (TTA %.4f), RF %.4f, LR %.4f", split, cnn["accuracy"],
                 table["cnn_tta8"]["accuracy"], table["random_forest"]["accuracy"],
                 table["logistic_regression"]["accuracy"])
    x_test, _, _ = load_split(prepared, "test")
    speed = throughput(model, eval_arrays(x_test[: cfg.throughput_images], stretch, soft), cfg.throughput_images)
    log.info("throughput: %.0f images/s", speed["images_per_s"])

    test = tables["test"]
    best_baseline = max(BASELINES, key=lambda b: test[b]["accuracy"])
    margin_rf = 100 * (test["cnn"]["accuracy"] - test["random_forest"]["accuracy"])
    margin_best = 100 * (test["cnn"]["accuracy"] - test[best_baseline]["accuracy"])
    targets: dict[str, dict[str, Any]] = {}

    def target(key: str, value: float | None, limit: float, higher: bool = True) -> None:
        met = value is not None and (value >= limit if higher else value <= limit)
        targets[key] = {"value": value, "target": limit, "met": bool(met)}

    target("test_accuracy", test["cnn"]["accuracy"], cfg.target_accuracy)
    target("test_macro_f1", test["cnn"]["macro_f1"], cfg.target_macro_f1)
    target("test_ece_scaled", test["cnn"]["ece"], cfg.target_ece, higher=False)
    target("margin_over_random_forest_points", margin_rf, cfg.target_margin_points)
    if "shifted" in tables:
        target("shifted_accuracy", tables["shifted"]["cnn"]["accuracy"], cfg.target_shifted_accuracy)
    target("throughput_images_per_s", speed["images_per_s"], cfg.target_throughput)
    train_info = {"parameters": info["parameters"], "train_images": info["train_images"],
                  "epochs": info["epochs_run"], "wall_time_s": info["wall_time_s"], "temperature": temperature,
                  "best_baseline": best_baseline, "margin_over_best_baseline_points": margin_best}
    metrics = {"targets": targets, **{split: table for split, table in tables.items()}, "per_class": per_class,
               "tta": tta_info, "throughput": speed, "training": train_info}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "predictions.csv", pd.DataFrame(rows))
    write_csv(out / "confident_errors.csv", pd.DataFrame(errors, columns=["split", "id", "label", "predicted",
                                                                         "probability", "entropy"]))
    plots = out / "plots"
    write_csv(plots / "confusion.csv", pd.DataFrame(conf_rows))
    write_csv(plots / "reliability.csv", pd.DataFrame(rel_rows))
    history = read_json(model_dir / "history.json")
    columns = {k: v for k, v in history.items() if len(v) == len(history["epoch"])}
    write_csv(plots / "history.csv", pd.DataFrame(columns))
    for key, t in targets.items():
        log.info("target %-34s %s (%s %g): %s", key, "–" if t["value"] is None else f"{t['value']:.4g}",
                 "≤" if key == "test_ece_scaled" else "≥", t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data", "model", "baseline"), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    baseline = Path(args.baseline)
    if not (baseline / "predictions.npz").exists():
        raise DataError(f"{baseline} holds no predictions.npz; run the baseline stage first")
    evaluate(cfg, Path(args.data), Path(args.model), baseline, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
