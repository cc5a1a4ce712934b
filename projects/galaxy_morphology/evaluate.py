"""Stage ``evaluate``: the CNN beside the statmorph baselines on every evaluation split, and the targets.

For every evaluation split (``test``; ``shifted`` and ``harsher`` when the source has them):

* accuracy, macro-F1, per-class F1 and the confusion matrix of the CNN, the logistic
  regression and the random forest (statmorph features of the ``baseline`` stage, measured on
  a subset of each split: the CNN is also scored on exactly those images, and the **headline**
  compares it there with the baseline that was better on validation, with an exact McNemar test);
* for chirality pairs (``data.source.chirality_pairs``): each pair's F1 and confusion, with
  label-aware TTA (mirrored views vote for the mirrored class);
* the robustness curve: accuracy of the CNN and of both baselines on the ``curve_*`` splits
  (a sweep of seeing and one of sky brightness, rendered by the simulator), beside the named splits;
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

from projects.galaxy_morphology.augment import eval_arrays, mirror_permutation
from projects.galaxy_morphology.calibration import expected_calibration_error, nll, reliability
from projects.galaxy_morphology.dataset import load_split, read_manifest
from projects.galaxy_morphology.model import load_trained, mc_dropout, predict_logits, predict_tta, softmax
from shared.config import load_section
from shared.io import DataError, load_npz, read_json, write_csv
from shared.metrics import headline, timeit, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

BASELINES = ("logistic_regression", "random_forest")


@dataclass(frozen=True)
class EvaluateConfig:
    target_accuracy: float = 0.97
    target_macro_f1: float = 0.97
    target_ece: float = 0.02
    #: accuracy points the CNN must gain over the best baseline (chosen on val), on the same test images
    target_margin_points: float = 5.0
    target_shifted_accuracy: float = 0.90
    #: the harsher split (worse seeing, brighter sky, smaller and fainter galaxies than shifted)
    target_harsher_accuracy: float = 0.85
    #: F1 of each class of every chirality pair (test split), when the source declares pairs
    target_chirality_f1: float = 0.75
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


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test of two classifiers on the same images (boolean (N,) correctness vectors).

    Returns ``{"test", "statistic" (images only A got right), "b_only", "p_value"}``: the two-sided
    binomial p-value of the discordant pairs (McNemar 1947; scipy's ``binomtest``).
    """
    from scipy.stats import binomtest

    a_only = int(np.sum(correct_a & ~correct_b))
    b_only = int(np.sum(~correct_a & correct_b))
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"test": "McNemar (exact)", "statistic": a_only, "b_only": b_only, "p_value": float(p)}


def chirality_table(y: np.ndarray, preds: dict[str, np.ndarray], classes: Sequence[str],
                    pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Per chirality pair and model: F1 of each class of the pair and the pair's confusion (counts)."""
    from sklearn.metrics import f1_score

    out: dict[str, Any] = {}
    for a, b in pairs:
        ia, ib = classes.index(a), classes.index(b)
        entry: dict[str, Any] = {}
        for name, pred in preds.items():
            f1 = f1_score(y, pred, labels=[ia, ib], average=None, zero_division=0)
            entry[name] = {f"f1_{a}": float(f1[0]), f"f1_{b}": float(f1[1]),
                           f"{a}_as_{b}": int(np.sum((y == ia) & (pred == ib))),
                           f"{b}_as_{a}": int(np.sum((y == ib) & (pred == ia))),
                           f"{a}_right": int(np.sum((y == ia) & (pred == ia))),
                           f"{b}_right": int(np.sum((y == ib) & (pred == ib))), "images": int(np.sum(
                               (y == ia) | (y == ib)))}
        out[f"{a}|{b}"] = entry
    return out


def evaluate(cfg: EvaluateConfig, prepared: Path, model_dir: Path, baseline_dir: Path, out: Path) -> dict:
    """Every evaluation split of ``prepared``: the CNN against both baselines; writes the results to ``out``.

    Raises:
        DataError: the model was trained on other classes than the prepared data has, or the manifest, a split,
            the trained model folder or the baseline's ``predictions.npz``/``baseline.json`` is missing or broken.
    """
    from sklearn.metrics import f1_score

    manifest = read_manifest(prepared)
    classes = manifest["classes"]
    n = len(classes)
    model, info, calib = load_trained(model_dir)
    if info["classes"] != classes:
        raise DataError(f"the model in {model_dir} was trained on classes {info['classes']}, the data has {classes}")
    temperature = float(calib["temperature"])
    stretch, soft = info["preprocess"]["stretch"], info["preprocess"]["asinh_softening"]
    pairs = manifest.get("chirality_pairs", [])
    mirror = mirror_permutation(classes, pairs)
    base = load_npz(baseline_dir / "predictions.npz")
    base_info = read_json(baseline_dir / "baseline.json")
    # the baseline: the classifier with the better accuracy on the validation subset (never test)
    best_baseline = max(BASELINES, key=lambda b: base_info["accuracy"][b]["val"])
    conditions = manifest.get("conditions", {})
    splits = [s for s in manifest["counts"] if s not in ("train", "val")]
    main_splits = [s for s in splits if not s.startswith("curve_")]
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    per_class: dict[str, dict[str, float]] = {}
    paired: dict[str, dict[str, Any]] = {}
    chirality: dict[str, Any] = {}
    rows, rel_rows, conf_rows, errors, curve_rows = [], [], [], [], []
    tta_info: dict[str, Any] = {}

    for split in splits:
        x, y, ids = load_split(prepared, split)
        xs = eval_arrays(x, stretch, soft)
        start = time.perf_counter()
        logits = predict_logits(model, xs)
        t_plain = time.perf_counter() - start
        raw, scaled = softmax(logits), softmax(logits, temperature)
        pred = scaled.argmax(1)
        idx = base[f"index__{split}"]
        base_probs = {name: base[f"{name}__{split}"] for name in BASELINES}
        if split.startswith("curve_"):  # robustness curve: accuracy only
            cond = conditions.get(split, {})
            for name, correct in (("cnn", pred == y), *((b, base_probs[b].argmax(1) == y[idx]) for b in BASELINES)):
                curve_rows.append({"split": split, "sweep": split.split("_")[1], **cond, "model": name,
                                   "accuracy": float(np.mean(correct)), "images": int(correct.size)})
            continue
        start = time.perf_counter()
        tta = predict_tta(model, xs, temperature, mirror=mirror)
        t_tta = time.perf_counter() - start
        mc_mean, entropy = mc_dropout(model, xs, cfg.mc_samples, temperature, seed=0)
        table: dict[str, dict[str, Any]] = {}
        cnn = scores(scaled, y, n, cfg.ece_bins)
        cnn.update(ece_uncalibrated=scores(raw, y, n, cfg.ece_bins)["ece"], nll=nll(logits, y, temperature),
                   nll_uncalibrated=nll(logits, y))
        table["cnn"] = cnn
        table["cnn_tta8"] = scores(tta, y, n, cfg.ece_bins)
        table["cnn_mc_dropout"] = scores(mc_mean, y, n, cfg.ece_bins)
        # the baselines measured on their statmorph subset, and the CNN on exactly those images
        table["cnn_on_baseline_images"] = scores(scaled[idx], y[idx], n, cfg.ece_bins)
        for name in BASELINES:
            table[name] = scores(base_probs[name], y[idx], n, cfg.ece_bins)
        for name in table:
            table[name]["images"] = int(idx.size if name in (*BASELINES, "cnn_on_baseline_images") else y.size)
        tables[split] = table
        base_pred = base_probs[best_baseline].argmax(1)
        paired[split] = {"images": int(idx.size), "cnn": table["cnn_on_baseline_images"]["accuracy"],
                         "baseline": table[best_baseline]["accuracy"],
                         **mcnemar(pred[idx] == y[idx], base_pred == y[idx])}
        tta_info[split] = {"accuracy_gain_points": 100 * (table["cnn_tta8"]["accuracy"] - cnn["accuracy"]),
                           "time_ratio": t_tta / max(t_plain, 1e-9)}
        curve_rows += [{"split": split, "sweep": "named", **conditions.get(split, {}), "model": name,
                        "accuracy": table[key]["accuracy"], "images": table[key]["images"]}
                       for name, key in (("cnn", "cnn"), *((b, b) for b in BASELINES))]
        wrong = pred != y
        table["cnn"]["entropy_error_auroc"] = error_auroc(entropy, wrong)
        if pairs:
            chirality[split] = chirality_table(y, {"cnn": pred, "cnn_tta8": tta.argmax(1)}, classes, pairs)
            chirality[split].update({f"{k}|{best_baseline}": v[best_baseline] for k, v in chirality_table(
                y[idx], {best_baseline: base_pred}, classes, pairs).items()})
        f1 = f1_score(y, pred, average=None, labels=range(n), zero_division=0)
        b_f1 = f1_score(y[idx], base_pred, average=None, labels=range(n), zero_division=0)
        for k, name in enumerate(classes):
            per_class.setdefault(name, {})[f"{split}_f1"] = float(f1[k])
            per_class[name][f"{split}_baseline_f1"] = float(b_f1[k])
        for model_name, truth, model_pred in (("cnn", y, pred), (best_baseline, y[idx], base_pred)):
            cm = confusion(truth, model_pred, n)
            conf_rows += [{"split": split, "model": model_name, "actual": classes[i], "predicted": classes[j],
                           "count": int(cm[i, j])} for i in range(n) for j in range(n)]
        for kind, probs in (("before", raw), ("after", scaled)):
            rel = reliability(probs, y, cfg.ece_bins)
            rel_rows += [{"split": split, "scaling": kind, "bin": b, "low": rel["low"][b], "high": rel["high"][b],
                          "confidence": rel["confidence"][b], "accuracy": rel["accuracy"][b],
                          "count": int(rel["count"][b])} for b in range(cfg.ece_bins)]
        base_full = np.full(len(y), "", dtype=object)
        base_full[idx] = [classes[k] for k in base_pred]
        for i in range(len(y)):
            rows.append({"split": split, "id": str(ids[i]), "label": classes[y[i]], "predicted": classes[pred[i]],
                         "probability": float(scaled[i, pred[i]]), "entropy": float(entropy[i]),
                         "correct": bool(not wrong[i]), "tta_predicted": classes[int(tta[i].argmax())],
                         "baseline_predicted": base_full[i]})
        worst = np.argsort(-scaled.max(1) * wrong)[: cfg.confident_errors]
        errors += [{"split": split, "id": str(ids[i]), "label": classes[y[i]], "predicted": classes[pred[i]],
                    "probability": float(scaled[i, pred[i]]), "entropy": float(entropy[i])} for i in worst if wrong[i]]
        log.info("%s: CNN accuracy %.4f (TTA %.4f); on the %d baseline images CNN %.4f, %s %.4f (McNemar p=%.2g)",
                 split, cnn["accuracy"], table["cnn_tta8"]["accuracy"], idx.size, paired[split]["cnn"],
                 best_baseline, paired[split]["baseline"], paired[split]["p_value"])
    x_test, _, _ = load_split(prepared, "test")
    speed = throughput(model, eval_arrays(x_test[: cfg.throughput_images], stretch, soft), cfg.throughput_images)
    log.info("throughput: %.0f images/s", speed["images_per_s"])

    test = tables["test"]
    margin_best = 100 * (paired["test"]["cnn"] - paired["test"]["baseline"])
    targets: dict[str, dict[str, Any]] = {}

    def target(key: str, value: float | None, limit: float, higher: bool = True) -> None:
        met = value is not None and (value >= limit if higher else value <= limit)
        targets[key] = {"value": value, "target": limit, "met": bool(met)}

    target("test_accuracy", test["cnn"]["accuracy"], cfg.target_accuracy)
    target("test_macro_f1", test["cnn"]["macro_f1"], cfg.target_macro_f1)
    target("test_ece_scaled", test["cnn"]["ece"], cfg.target_ece, higher=False)
    target("margin_over_best_baseline_points", margin_best, cfg.target_margin_points)
    if "shifted" in tables:
        target("shifted_accuracy", tables["shifted"]["cnn"]["accuracy"], cfg.target_shifted_accuracy)
    if "harsher" in tables:
        target("harsher_accuracy", tables["harsher"]["cnn"]["accuracy"], cfg.target_harsher_accuracy)
    if pairs:  # the worst F1 over the classes of every pair, with TTA as the CLI and README report it
        worst_f1 = min(v for pair in chirality["test"].values() if isinstance(pair, dict) and "cnn" in pair
                       for k, v in pair["cnn"].items() if k.startswith("f1_"))
        target("chirality_pair_min_f1", worst_f1, cfg.target_chirality_f1)
    target("throughput_images_per_s", speed["images_per_s"], cfg.target_throughput)
    train_info = {"parameters": info["parameters"], "train_images": info["train_images"],
                  "epochs": info["epochs_run"], "wall_time_s": info["wall_time_s"], "temperature": temperature,
                  "best_baseline": best_baseline, "baseline_val_accuracy": {
                      b: base_info["accuracy"][b]["val"] for b in BASELINES},
                  "baseline_images": base_info.get("images", {}),
                  "chirality_pairs": pairs, "margin_over_best_baseline_points": margin_best}
    source = manifest.get("source", {})
    data_name = ("GalSim simulation" if source.get("path", "").endswith("raw/simulated")
                 else f"{source.get('kind', '?')} source {source.get('path', '')}".strip())

    def block(split: str, what: str, also: Sequence[dict] = ()) -> dict[str, Any]:
        p = paired[split]
        return headline(metric=f"{n}-class accuracy", unit="fraction", data=f"{data_name}, {what} "
                        f"({p['images']} images that statmorph measured)", model="CNN (temperature-scaled)",
                        model_value=p["cnn"], baseline=f"statmorph + {best_baseline.replace('_', ' ')}",
                        baseline_value=p["baseline"], higher_is_better=True,
                        baseline_rule="better validation accuracy of logistic regression and random forest "
                                      "on statmorph/photutils features",
                        significance={"test": p["test"], "statistic": p["statistic"], "p_value": p["p_value"]},
                        also=also)

    labels = {"shifted": "shifted split (worse seeing, brighter sky)",
              "harsher": "harsher split (never trained on; its conditions lie inside the widened training ranges)"}
    also = [block(s, labels.get(s, f"{s} split")) for s in main_splits if s != "test"]
    metrics = {"headline": block("test", "test split", also), "targets": targets,
               **{split: table for split, table in tables.items()}, "paired": paired, "per_class": per_class,
               "chirality": chirality, "robustness_curve": curve_rows, "tta": tta_info, "throughput": speed,
               "training": train_info}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "predictions.csv", pd.DataFrame(rows))
    write_csv(out / "confident_errors.csv", pd.DataFrame(errors, columns=["split", "id", "label", "predicted",
                                                                         "probability", "entropy"]))
    plots = out / "plots"
    write_csv(plots / "confusion.csv", pd.DataFrame(conf_rows))
    write_csv(plots / "reliability.csv", pd.DataFrame(rel_rows))
    write_csv(plots / "robustness.csv", pd.DataFrame(curve_rows))
    history = read_json(model_dir / "history.json")
    columns = {k: v for k, v in history.items() if len(v) == len(history["epoch"])}
    write_csv(plots / "history.csv", pd.DataFrame(columns))
    for key, t in targets.items():
        log.info("target %-34s %s (%s %g): %s", key, "–" if t["value"] is None else f"{t['value']:.4g}",
                 "≤" if key == "test_ece_scaled" else "≥", t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evaluate`` stage.

    Raises:
        ConfigError: the ``evaluate`` section of ``--params`` is missing or invalid.
        DataError: ``--baseline`` holds no ``predictions.npz`` (the baseline stage has not run), or an input is
            missing or broken (see :func:`evaluate`).
    """
    args = stage_parser(__doc__, inputs=("data", "model", "baseline"), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    baseline = Path(args.baseline)
    if not (baseline / "predictions.npz").exists():
        raise DataError(f"{baseline} holds no predictions.npz; run the baseline stage first")
    evaluate(cfg, Path(args.data), Path(args.model), baseline, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
