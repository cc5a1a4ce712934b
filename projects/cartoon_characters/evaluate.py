"""Stage ``evaluate``: the CNN (raw and calibrated) against the HOG baseline on test and shifted frames.

Inputs: the prepared frames (``--data``), the train stage's model folder (``--model``: the variant chosen on
validation mAP, every variant, ``variants.json``) and ``calibration.json`` (``--calibration``, the calibrate stage).

Methods, each on val, test and (embedded data) shifted:

* ``model raw @0.5`` / ``model raw @tuned``: σ(logits) of the chosen CNN at 0.5 / at the per-label F1 thresholds
  tuned on validation;
* ``model calibrated @0.5`` / ``model calibrated @tuned``: after the per-label temperature (or Platt) scaling fitted
  on validation;
* ``baseline raw @0.5``, ``baseline calibrated @0.5``, ``baseline calibrated @tuned``: one-vs-rest logistic
  regression on HOG + colour histograms (:mod:`projects.cartoon_characters.baselines`), C chosen on validation mAP,
  calibrated and thresholded on validation exactly as the CNN (like for like).

Metrics (:mod:`projects.cartoon_characters.metrics`): mAP, micro/macro-F1, Hamming loss, subset accuracy, pooled and
macro ECE; per label AP, F1, precision, recall, ECE. The headline (``shared.metrics.headline``) is the test mAP of
the chosen CNN against the baseline, with a paired bootstrap over frames of the mAP difference; the shifted set is
an ``also`` block. The issue-15 targets are under ``targets``. The variants table reports each variant's val mAP
(the choice) and, labelled as such, its test and shifted mAP (never used to choose).

Outputs (``--out``): ``metrics.json``, ``variants.csv``, ``per_label.csv``, ``thresholds.csv``, ``reliability.csv``,
``pr_curves.csv``; (``--predictions``) ``{test,shifted}.npz`` with ``names``, ``labels``, ``images``, ``logits``
(model raw), ``probabilities`` (model calibrated), ``baseline`` (baseline calibrated probabilities), for the report.

    python -m projects.cartoon_characters.evaluate --params projects/cartoon_characters/params.yaml \\
        --data data/cartoon_characters/prepared --model data/cartoon_characters/model \\
        --calibration data/cartoon_characters/calibration --out projects/cartoon_characters/results \\
        --predictions data/cartoon_characters/predictions
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from projects.cartoon_characters import calibration as calib
from projects.cartoon_characters.baselines import BaselineConfig, features, fit_baseline
from projects.cartoon_characters.metrics import bootstrap_map_difference, reliability, summary
from projects.cartoon_characters.predict import load_predictor
from shared.config import load_section
from shared.io import DataError, atomic_dir, check_array, load_npz, read_json, save_npz, write_csv
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "shifted")
BASELINE = "HOG + colour histogram, one-vs-rest logistic regression"
TABLE_KEYS = ("map", "micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "ece_pooled", "ece_macro")


@dataclass(frozen=True)
class EvaluateConfig:
    bins: int = 15
    bootstrap: int = 1000
    seed: int = 0
    batch_size: int = 256
    baseline: BaselineConfig = BaselineConfig()
    #: points of each PR curve written for the report (subsampled)
    pr_points: int = 41
    # issue 15 targets (embedded test set)
    target_map: float = 0.90
    target_margin_points: float = 10.0
    target_macro_f1_tuned: float = 0.85
    target_ece_calibrated: float = 0.05
    target_rarest_ap: float = 0.75

    def __post_init__(self) -> None:
        if self.bins < 1 or self.bootstrap < 10 or self.batch_size < 1 or self.pr_points < 2:
            raise ValueError("bins ≥ 1, bootstrap ≥ 10, batch_size ≥ 1 and pr_points ≥ 2 are required")


def load_splits(data: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """(meta, split → {images, labels, names}) of the prepared folder; ``shifted`` only where it exists.

    Raises:
        DataError: meta.json or a split is missing or corrupt, or a split's arrays disagree with the characters.
    """
    data = Path(data)
    meta = read_json(data / "meta.json")
    characters = meta.get("characters") or []
    if not characters:
        raise DataError(f"{data / 'meta.json'} names no characters")
    splits = {}
    for split in SPLITS:
        path = data / f"{split}.npz"
        if split == "shifted" and not path.exists():
            continue
        arrays = load_npz(path, required=("images", "labels", "names"))
        images = check_array(arrays["images"], "images", ndim=4, dtype="u", source=path)
        labels = check_array(arrays["labels"], "labels", shape=(len(images), len(characters)), dtype="iub",
                             source=path)
        splits[split] = {"images": images, "labels": labels.astype(np.uint8), "names": arrays["names"]}
    return meta, splits


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return calib.sigmoid(z)


def score_methods(labels: np.ndarray, model_logits: np.ndarray, model_cal: calib.Calibration,
                  base_logits: np.ndarray, base_cal: calib.Calibration, names: list[str], bins: int
                  ) -> dict[str, dict[str, Any]]:
    """The metric summary of each method (see the module docstring) on one split; AP on the logits (a method's
    calibrated and raw rows share its ranking, hence its mAP)."""
    raw, cooked = _sigmoid(model_logits), model_cal.probabilities(model_logits)
    b_raw, b_cooked = _sigmoid(base_logits), base_cal.probabilities(base_logits)
    z, bz = model_logits, base_logits
    return {
        "model raw @0.5": summary(labels, raw, 0.5, names, bins, z),
        "model raw @tuned": summary(labels, raw, model_cal.thresholds_raw, names, bins, z),
        "model calibrated @0.5": summary(labels, cooked, 0.5, names, bins, z),
        "model calibrated @tuned": summary(labels, cooked, model_cal.thresholds, names, bins, z),
        "baseline raw @0.5": summary(labels, b_raw, 0.5, names, bins, bz),
        "baseline calibrated @0.5": summary(labels, b_cooked, 0.5, names, bins, bz),
        "baseline calibrated @tuned": summary(labels, b_cooked, base_cal.thresholds, names, bins, bz),
    }


def _variants(model_dir: Path, splits: dict, characters: list[str], batch_size: int) -> tuple[list[dict], str]:
    """Each trained variant's val mAP (from train) and its test/shifted mAP (computed here, never for choice)."""
    from projects.cartoon_characters.metrics import mean_average_precision

    table = read_json(model_dir / "variants.json")
    chosen = table.get("chosen")
    rows = []
    for v in table.get("variants", []):
        row = {k: v.get(k) for k in ("name", "head", "loss", "imbalance", "params", "steps", "seconds", "val_map")}
        row["chosen"] = v.get("name") == chosen
        try:
            predictor = load_predictor(model_dir, v["name"])
        except DataError as exc:
            log.warning("variant %s: %s", v.get("name"), exc)
            rows.append(row)
            continue
        for split in ("test", "shifted"):
            if split in splits:
                logits = predictor.logits(splits[split]["images"], batch_size=batch_size)
                row[f"{split}_map"] = mean_average_precision(splits[split]["labels"], logits, characters)["map"]
        rows.append(row)
        log.info("variant %-28s val mAP %.4f  test mAP %.4f%s", row["name"], row["val_map"] or float("nan"),
                 row.get("test_map", float("nan")), "  (chosen)" if row["chosen"] else "")
    return rows, chosen


def targets(cfg: EvaluateConfig, test: dict, shifted: dict | None, rarest: str) -> dict[str, dict[str, Any]]:
    """Each issue-15 target on the test split: value, target, ``met``; shifted mAP and drop are reported only."""
    def entry(value, target, higher=True):
        met = None if value is None or target is None else bool(value >= target if higher else value <= target)
        return {"value": value, "target": target, "met": met}

    model, tuned, base = test["model raw @0.5"], test["model calibrated @tuned"], test["baseline calibrated @tuned"]
    out = {
        "test_map": entry(model["map"], cfg.target_map),
        "test_map_margin_points": entry(100 * (model["map"] - base["map"]), cfg.target_margin_points),
        "test_macro_f1_tuned": entry(tuned["macro_f1"], cfg.target_macro_f1_tuned),
        "test_ece_pooled_calibrated": entry(tuned["ece_pooled"], cfg.target_ece_calibrated, higher=False),
        f"test_rarest_ap ({rarest})": entry(model["per_label"][rarest]["ap"], cfg.target_rarest_ap),
    }
    if shifted is not None:
        out["shifted_map"] = entry(shifted["model raw @0.5"]["map"], None)
        out["shifted_map_drop_points"] = entry(100 * (model["map"] - shifted["model raw @0.5"]["map"]), None)
    return out


def _pr_rows(split: str, method: str, labels: np.ndarray, probs: np.ndarray, names: list[str], points: int):
    from sklearn.metrics import precision_recall_curve

    rows = []
    for j, name in enumerate(names):
        if labels[:, j].sum() == 0:
            continue
        precision, recall, thresholds = precision_recall_curve(labels[:, j], probs[:, j])
        keep = np.unique(np.linspace(0, len(precision) - 1, min(points, len(precision))).round().astype(int))
        for k in keep:
            rows.append({"split": split, "method": method, "label": name, "precision": float(precision[k]),
                         "recall": float(recall[k]),
                         "threshold": float(thresholds[k]) if k < len(thresholds) else 1.0})
    return rows


def _reliability_rows(split: str, method: str, labels: np.ndarray, probs: np.ndarray, names: list[str], bins: int):
    rows = []
    for label, y, p in [("pooled", labels, probs)] + [(n, labels[:, j], probs[:, j]) for j, n in enumerate(names)]:
        rel = reliability(y, p, bins)
        for b in range(bins):
            rows.append({"split": split, "method": method, "label": label, "bin": b, "low": rel["low"][b],
                         "high": rel["high"][b], "count": int(rel["count"][b]),
                         "confidence": rel["confidence"][b], "frequency": rel["frequency"][b]})
    return rows


def evaluate(cfg: EvaluateConfig, data: str | Path, model_dir: str | Path, calibration: str | Path
             ) -> dict[str, Any]:
    """Score every method on every split; returns everything the writers need.

    Raises:
        DataError: inputs missing or inconsistent (the model's characters differ from the data's).
    """
    model_dir = Path(model_dir)
    meta, splits = load_splits(data)
    names = list(meta["characters"])
    predictor = load_predictor(model_dir)
    if list(predictor.characters) != names:
        raise DataError(f"the model in {model_dir} predicts {list(predictor.characters)}, the data in {data} has "
                        f"{names}; re-run the train stage")
    cal_path = Path(calibration) / "calibration.json" if Path(calibration).is_dir() else Path(calibration)
    if not cal_path.is_file():
        raise DataError(f"{cal_path} is missing; run the calibrate stage first "
                        f"(dvc repro projects/cartoon_characters/dvc.yaml:calibrate)")
    model_cal = calib.load(cal_path)
    if model_cal.characters != names:
        raise DataError(f"{cal_path} calibrates {model_cal.characters}, the data has {names}; re-run calibrate")
    fit_cfg = model_cal.validation.get("fit", {})
    bounds = tuple(fit_cfg.get("bounds", (0.05, 20.0)))
    grid = int(fit_cfg.get("grid", 199))
    scored = [s for s in ("val", "test", "shifted") if s in splits]

    start = time.perf_counter()
    model_logits = {s: predictor.logits(splits[s]["images"], batch_size=cfg.batch_size).astype(np.float64)
                    for s in scored}
    model_seconds = time.perf_counter() - start
    log.info("model %s: logits of %s in %.1f s", predictor.name, ", ".join(scored), model_seconds)

    start = time.perf_counter()
    feats = {s: features(splits[s]["images"], cfg.baseline) for s in ("train", *scored)}
    log.info("baseline features in %.1f s", time.perf_counter() - start)
    base = fit_baseline(None, splits["train"]["labels"], None, splits["val"]["labels"], cfg.baseline, names,
                        train_feats=feats["train"], val_feats=feats["val"])
    base_logits = {s: base.logits(None, feats[s]) for s in scored}
    base_cal = calib.fit(base_logits["val"], splits["val"]["labels"], names, model_cal.method, bounds, grid, cfg.bins)

    results = {s: score_methods(splits[s]["labels"], model_logits[s], model_cal, base_logits[s], base_cal, names,
                                cfg.bins) for s in scored}
    for s in scored:
        log.info("%-7s mAP model %.4f, baseline %.4f; macro-F1 tuned %.4f; pooled ECE raw %.4f → calibrated %.4f",
                 s, results[s]["model raw @0.5"]["map"], results[s]["baseline raw @0.5"]["map"],
                 results[s]["model calibrated @tuned"]["macro_f1"], results[s]["model raw @0.5"]["ece_pooled"],
                 results[s]["model calibrated @0.5"]["ece_pooled"])
    boot = {s: bootstrap_map_difference(splits[s]["labels"], model_logits[s], base_logits[s], cfg.bootstrap, cfg.seed)
            for s in scored if s != "val"}
    variants, chosen = _variants(model_dir, splits, names, cfg.batch_size)
    final = read_json(model_dir / "variants.json").get("final") if (model_dir / "variants.json").exists() else None
    return {"final": final, "meta": meta, "splits": splits, "names": names, "scored": scored, "results": results,
            "model_logits": model_logits, "base_logits": base_logits, "model_cal": model_cal, "base_cal": base_cal,
            "baseline": base, "bootstrap": boot, "variants": variants, "chosen": chosen or predictor.name,
            "num_params": predictor.num_params, "model_seconds": model_seconds}


def metrics_of(cfg: EvaluateConfig, run_: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.json`` mapping of an :func:`evaluate` run."""
    results, names, meta = run_["results"], run_["names"], run_["meta"]
    freq = meta.get("frequencies") or {}
    train_counts = run_["splits"]["train"]["labels"].sum(axis=0)
    order = sorted(range(len(names)), key=lambda j: (freq.get(names[j], train_counts[j] / max(1, train_counts.sum())),
                                                     j))
    rarest3 = [names[j] for j in order[:3]]
    embedded = meta.get("source") == "embedded"
    n_test = len(run_["splits"]["test"]["labels"])
    data = (f"embedded compositor, test split ({n_test} frames, {len(names)} characters)" if embedded
            else f"real frames ({meta.get('source')}), test split ({n_test} frames, {len(names)} characters)")
    n_var, final = len(run_["variants"]), run_.get("final")
    model_name = f"CNN {run_['chosen']} (best val mAP of {n_var} variants)" if n_var else f"CNN {run_['chosen']}"
    if final:
        model_name = (f"CNN {run_['chosen']} (best val mAP of {n_var} variants screened at "
                      f"{run_['variants'][0].get('steps')} steps, then trained {final['steps']} steps)")
    rule = f"the one classical baseline; C = {run_['baseline'].C:g} chosen on val mAP"

    def sig(s):
        b = run_["bootstrap"][s]
        return {"test": f"paired bootstrap over frames ({b['resamples']} resamples), mAP difference",
                "low": b["low"], "high": b["high"], "p_value": b["p_value"]}

    also = []
    if "shifted" in results:
        also.append(headline(metric="mAP", data=f"shifted set ({len(run_['splits']['shifted']['labels'])} frames: "
                             f"new scales, heavier occlusion, new backgrounds)", model=model_name,
                             model_value=results["shifted"]["model raw @0.5"]["map"], baseline=BASELINE,
                             baseline_value=results["shifted"]["baseline raw @0.5"]["map"], higher_is_better=True,
                             baseline_rule=rule, significance=sig("shifted")))
    head = headline(metric="mAP", data=data, model=model_name, model_value=results["test"]["model raw @0.5"]["map"],
                    baseline=BASELINE, baseline_value=results["test"]["baseline raw @0.5"]["map"],
                    higher_is_better=True, baseline_rule=rule, significance=sig("test"), also=also)
    metrics: dict[str, Any] = {"headline": head,
                               "targets": targets(cfg, results["test"], results.get("shifted"), rarest3[0])}
    for s in ("test", "shifted", "val"):
        if s in results:
            metrics[s] = {m: {k: r[k] for k in TABLE_KEYS} for m, r in results[s].items()}
    metrics["rarest_characters"] = {
        n: {"train_frequency": freq.get(n), **{f"{s}_ap_model": results[s]["model raw @0.5"]["per_label"][n]["ap"]
                                              for s in ("test", "shifted") if s in results},
            **{f"{s}_ap_baseline": results[s]["baseline raw @0.5"]["per_label"][n]["ap"]
               for s in ("test", "shifted") if s in results},
            "test_positives": results["test"]["model raw @0.5"]["per_label"][n]["positives"]}
        for n in rarest3}
    metrics["variants"] = {v["name"]: {k: v.get(k) for k in ("head", "loss", "imbalance", "val_map", "test_map",
                                                               "shifted_map", "params", "seconds", "chosen")}
                           for v in run_["variants"]}
    metrics["bootstrap"] = {f"{s}_{k}": v for s, b in run_["bootstrap"].items() for k, v in b.items()
                            if k in ("difference", "low", "high", "p_value")}
    metrics["calibration"] = {
        "method": run_["model_cal"].method,
        "test_ece_pooled_raw": results["test"]["model raw @0.5"]["ece_pooled"],
        "test_ece_pooled_calibrated": results["test"]["model calibrated @0.5"]["ece_pooled"],
        "test_ece_macro_raw": results["test"]["model raw @0.5"]["ece_macro"],
        "test_ece_macro_calibrated": results["test"]["model calibrated @0.5"]["ece_macro"],
        "baseline_test_ece_pooled_raw": results["test"]["baseline raw @0.5"]["ece_pooled"],
        "baseline_test_ece_pooled_calibrated": results["test"]["baseline calibrated @0.5"]["ece_pooled"],
        "bins": cfg.bins}
    if final:
        metrics["final"] = {"variant": run_["chosen"], "steps": final["steps"], "val_map": final["val_map"],
                            "seconds": final["seconds"], "test_map": results["test"]["model raw @0.5"]["map"]}
    metrics["choice"] = {"model": run_["chosen"], "model_rule": "best val mAP among the trained variants"
                         + ("; then trained again from scratch for the final budget" if final else ""),
                         "model_params": run_["num_params"], "baseline_C": run_["baseline"].C,
                         "baseline_rule": "C of best val mAP of " + ", ".join(f"{c:g}" for c in cfg.baseline.C),
                         "thresholds_rule": "per label, max F1 on val", "rarest_rule": "lowest train frequency"}
    return metrics


def write_outputs(cfg: EvaluateConfig, run_: dict[str, Any], out: Path, predictions: Path | None) -> dict:
    """Write metrics.json and the CSV tables into ``out``, the per-frame predictions into ``predictions``."""
    metrics = metrics_of(cfg, run_)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    names, results, scored = run_["names"], run_["results"], run_["scored"]
    write_csv(out / "variants.csv", [{"name": v.get("name"), **{k: v.get(k) for k in (
        "head", "loss", "imbalance", "chosen", "params", "steps", "seconds", "val_map", "test_map", "shifted_map")}}
        for v in run_["variants"]] or [{"name": run_["chosen"]}], float_format="%.6g")
    mc, bc = run_["model_cal"], run_["base_cal"]
    per_label = []
    for s in scored:
        for method, r in results[s].items():
            thr = {"model raw @tuned": mc.thresholds_raw, "model calibrated @tuned": mc.thresholds,
                   "baseline calibrated @tuned": bc.thresholds}.get(method, np.full(len(names), 0.5))
            for j, n in enumerate(names):
                per_label.append({"split": s, "method": method, "label": n, **r["per_label"][n],
                                  "threshold": float(thr[j])})
    write_csv(out / "per_label.csv", per_label, float_format="%.6g")
    test = results["test"]
    write_csv(out / "thresholds.csv", [{
        "label": n, "model_threshold": mc.thresholds[j], "model_threshold_raw": mc.thresholds_raw[j],
        "model_temperature" if mc.method == "temperature" else "model_scale": mc.scale[j],
        "baseline_threshold": bc.thresholds[j],
        "val_f1_model_tuned": mc.validation.get("f1_at_threshold", {}).get(n),
        "test_f1_model_at_0.5": test["model calibrated @0.5"]["per_label"][n]["f1"],
        "test_f1_model_tuned": test["model calibrated @tuned"]["per_label"][n]["f1"],
        "test_f1_baseline_tuned": test["baseline calibrated @tuned"]["per_label"][n]["f1"]}
        for j, n in enumerate(names)], float_format="%.6g")
    rel_rows, pr_rows = [], []
    for s in [s for s in ("test", "shifted") if s in scored]:
        labels = run_["splits"][s]["labels"]
        probs = {"model raw": calib.sigmoid(run_["model_logits"][s]),
                 "model calibrated": mc.probabilities(run_["model_logits"][s]),
                 "baseline raw": calib.sigmoid(run_["base_logits"][s]),
                 "baseline calibrated": bc.probabilities(run_["base_logits"][s])}
        for method, p in probs.items():
            rel_rows += _reliability_rows(s, method, labels, p, names, cfg.bins)
        for method in ("model calibrated", "baseline calibrated"):
            pr_rows += _pr_rows(s, method, labels, probs[method], names, cfg.pr_points)
        if predictions is not None:
            predictions.mkdir(parents=True, exist_ok=True)
            save_npz(predictions / f"{s}.npz", names=run_["splits"][s]["names"], labels=labels,
                     images=run_["splits"][s]["images"], logits=run_["model_logits"][s].astype(np.float32),
                     probabilities=probs["model calibrated"].astype(np.float32),
                     baseline=probs["baseline calibrated"].astype(np.float32), characters=np.array(names))
    write_csv(out / "reliability.csv", rel_rows, float_format="%.6g")
    write_csv(out / "pr_curves.csv", pr_rows, float_format="%.5g")
    return metrics


def main(argv=None) -> int:
    parser = stage_parser(__doc__, inputs=("data", "model", "calibration"), outputs=("out",))
    parser.add_argument("--predictions", default=None, help="folder for the per-frame predictions (report)")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    start = time.perf_counter()
    run_ = evaluate(cfg, args.data, args.model, args.calibration)
    if args.predictions:
        with atomic_dir(args.predictions) as tmp:
            metrics = write_outputs(cfg, run_, Path(args.out), Path(tmp))
    else:
        metrics = write_outputs(cfg, run_, Path(args.out), None)
    head = metrics["headline"]
    log.info("headline: %s %s = %.4f vs %s = %.4f → %s (%.0f s)", head["metric"], head["model"], head["model_value"],
             head["baseline"], head["baseline_value"], head["verdict"], time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
