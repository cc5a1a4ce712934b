"""Stage ``evaluate``: the model, GrabCut and random walker through one click simulator, and the targets.

Every method is a :class:`~projects.clothing_segmentation.clicks.ClickSegmenter` driven by
:func:`~projects.clothing_segmentation.clicks.run_protocol` on the same instances with the same simulated clicks (at
most ``max_clicks`` = 20; a run stops once its IoU reaches ``stop_iou`` after at least ``min_clicks`` clicks, and that
IoU is carried forward in the curve). Instances come from the prepared val/test splits (split by image), at the
evaluation resolution (``eval_images``/``eval_masks`` where the data stage stored them), a fixed seeded subset of each.

* **Baseline choice on val:** GrabCut and random walker run on the val subset; the one with the lower NoC@90 (then
  NoC@85) is the headline's baseline. The test split is never used to choose anything.
* **Test:** NoC@85, NoC@90, NoF@90, mIoU after 1/3/5 clicks, seconds per click, per method; a paired Wilcoxon
  signed-rank test of the model's per-instance NoC@90 against the chosen baseline's.
* **Real photos:** when the prepared data are not CCP (the default: generated figures) and a CCP folder lies in
  ``real_ccp`` (``data/clothing_segmentation/external/``), every method is also scored on CCP's test split (split
  by image exactly as the ``ccp`` profile's data stage splits it), at ``real_eval_size``; the result is an ``also``
  block of the headline (baseline: the one chosen on val). That folder is not a DVC dependency: re-run evaluate
  (``dvc repro -f -s evaluate``) after placing CCP there.
* **Class head:** the model's predicted garment class after the last click, against the instance's class: accuracy
  and the confusion matrix (when the segmenter exposes ``class_probabilities``).

Writes ``metrics.json`` (``headline`` and ``targets`` first), ``instances.csv`` (one row per method and instance),
``plots/miou_vs_clicks.csv`` (+ ``.png``), ``plots/confusion.csv``.

    python -m projects.clothing_segmentation.evaluate --params projects/clothing_segmentation/params.yaml \
        --data data/clothing_segmentation/prepared --model data/clothing_segmentation/model \
        --out projects/clothing_segmentation/results
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from projects.clothing_segmentation.baselines import GrabCutSegmenter, RandomWalkerSegmenter
from projects.clothing_segmentation.clicks import ClickSegmenter, run_protocol, summarize_runs
from shared.config import load_section
from shared.io import DataError, load_npz, read_json, write_csv
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

BASELINES = ("grabcut", "random_walker")
NAMES = {"model": "click U-Net (RITM-style, zoom-in)", "grabcut": "GrabCut (OpenCV)",
         "random_walker": "random walker (scikit-image, bf)"}


@dataclass(frozen=True)
class EvaluateConfig:
    max_clicks: int = 20
    #: test instances scored (a seeded subset when the split has more)
    max_instances: int = 30
    #: val instances on which the baseline is chosen
    max_val_instances: int = 12
    #: a run stops when its IoU reaches this after ``min_clicks`` clicks (1.0: never)
    stop_iou: float = 0.95
    min_clicks: int = 5
    seed: int = 0
    grabcut_iterations: int = 3
    grabcut_click_radius: float = 3.0
    grabcut_init_fraction: float = 0.08
    grabcut_margin_fraction: float = 0.25
    random_walker_beta: float = 130.0
    random_walker_click_radius: float = 3.0
    #: also score on real CCP photos (an ``also`` headline) when a CCP folder lies here and the prepared source is
    #: not CCP: the test split of CCP as the ccp profile would split it; "" never
    real_ccp: str = "data/clothing_segmentation/external"
    real_max_instances: int = 30
    real_eval_size: int = 192
    target_noc90: float = 5.0
    target_click_reduction: float = 0.30
    target_miou_1: float = 0.70
    target_seconds_per_click: float = 0.3

    def __post_init__(self) -> None:
        if self.max_clicks < 5:
            raise ValueError(f"max_clicks must be at least 5 (mIoU after 5 clicks), got {self.max_clicks}")
        if self.max_instances < 1 or self.max_val_instances < 1:
            raise ValueError("max_instances and max_val_instances must be at least 1")


@dataclass
class Instances:
    """The instances of one split at the evaluation resolution."""

    images: np.ndarray
    masks: np.ndarray
    image_index: np.ndarray
    labels: np.ndarray
    rows: np.ndarray  # which instances of the split these are

    def __len__(self) -> int:
        return int(self.rows.size)


def load_instances(path: Path, limit: int, seed: int) -> Instances:
    """A seeded subset of at most ``limit`` instances of a prepared split (``eval_*`` arrays where present).

    Raises:
        DataError: the file is missing, corrupt, lacks arrays, or its arrays disagree in length or size.
    """
    data = load_npz(path, required=("images", "masks", "image_index", "labels"))
    images = data.get("eval_images", data["images"])
    masks = data.get("eval_masks", data["masks"])
    index, labels = data["image_index"].astype(np.int64), data["labels"].astype(np.int64)
    if not (len(masks) == len(index) == len(labels)):
        raise DataError(f"{path}: masks ({len(masks)}), image_index ({len(index)}) and labels ({len(labels)}) "
                        f"differ in length")
    if len(masks) == 0:
        raise DataError(f"{path} holds no instance")
    if images.shape[1:3] != masks.shape[1:3]:
        raise DataError(f"{path}: images {images.shape[1:3]} and masks {masks.shape[1:3]} differ in size")
    if index.min() < 0 or index.max() >= len(images):
        raise DataError(f"{path}: image_index points outside the {len(images)} images")
    order = np.random.default_rng(seed).permutation(len(masks))
    rows = np.sort(order[: min(limit, len(masks))])
    return Instances(images, masks, index, labels, rows)


def real_instances(cfg: EvaluateConfig, meta: Mapping[str, Any]) -> tuple[Instances, str] | None:
    """CCP's test split (by image, as the data stage splits it) at ``real_eval_size``, or ``None`` when there is none.

    Raises:
        DataError: a CCP file is corrupt or inconsistent.
    """
    from projects.clothing_segmentation.loaders import (
        ccp_ids,
        find_ccp_root,
        garment_instances,
        iter_ccp,
        letterbox,
    )
    from shared.data import split_indices
    from shared.paths import repo_root

    prep = meta.get("config") or {}
    if not cfg.real_ccp or meta.get("source") == "ccp" or not prep:
        return None
    folder = Path(cfg.real_ccp) if Path(cfg.real_ccp).is_absolute() else repo_root() / cfg.real_ccp
    root = find_ccp_root(folder) if folder.is_dir() else None
    if root is None:
        log.info("no CCP folder in %s: real photos not scored", folder)
        return None
    ids = ccp_ids(root)
    test = split_indices(len(ids), prep["split_fractions"], prep["split_seed"])[2]
    classes = list(prep["classes"])
    garment = {k for k, name in enumerate(classes) if name not in prep["non_garment"]}
    size = cfg.real_eval_size
    images, masks, index, labels = [], [], [], []
    for picture in iter_ccp(root, prep["merge"], classes, [ids[i] for i in test]):
        found, _ = garment_instances(picture, prep["min_area_fraction"], garment)
        for cls, mask in found:
            small = letterbox(mask, size, mask=True)
            if small.any():
                masks.append(small)
                index.append(len(images))
                labels.append(cls)
        images.append(letterbox(picture.image, size))
    if not masks:
        return None
    order = np.random.default_rng(cfg.seed + 2).permutation(len(masks))
    rows = np.sort(order[: min(cfg.real_max_instances, len(masks))])
    data = Instances(np.stack(images), np.stack(masks), np.asarray(index), np.asarray(labels), rows)
    return data, f"Clothing Co-Parsing photos ({root.name}), test split ({len(rows)} garment instances, {size}px " \
                 f"letterbox; the model never saw CCP)"


def run_method(segmenter: ClickSegmenter, data: Instances, cfg: EvaluateConfig,
               split: str, classes: Sequence[str]) -> tuple[list[dict], list[dict]]:
    """Run the protocol of ``segmenter`` on every instance; returns (protocol runs, per-instance rows)."""
    runs, rows = [], []
    start = time.perf_counter()
    for row in data.rows:
        gt = data.masks[row].astype(bool)
        result = run_protocol(segmenter, data.images[data.image_index[row]], gt, cfg.max_clicks,
                              stop_iou=cfg.stop_iou, min_clicks=cfg.min_clicks)
        runs.append(result)
        label = int(data.labels[row])
        record = {"method": segmenter.name, "split": split, "instance": int(row),
                  "image": int(data.image_index[row]), "label": classes[label] if label < len(classes) else label,
                  "area": int(gt.sum()), "clicks": len(result["clicks"]), "noc85": result["noc85"],
                  "noc90": result["noc90"], "failed90": result["failed90"],
                  **{f"iou_{k}": result["ious"][k - 1] for k in (1, 3, 5)},
                  "iou_final": result["ious"][-1], "seconds_per_click": result["seconds_per_click"]}
        probs = getattr(segmenter, "class_probabilities", None)
        if probs is not None:
            k = int(np.argmax(probs))
            record["predicted_class"] = classes[k] if k < len(classes) else str(k)
        rows.append(record)
    log.info("%s on %s: %d instances in %.1f s", segmenter.name, split, len(runs), time.perf_counter() - start)
    return runs, rows


def baselines(cfg: EvaluateConfig) -> dict[str, ClickSegmenter]:
    return {"grabcut": GrabCutSegmenter(cfg.grabcut_iterations, cfg.grabcut_click_radius, cfg.grabcut_init_fraction,
                                        cfg.grabcut_margin_fraction),
            "random_walker": RandomWalkerSegmenter(cfg.random_walker_beta, cfg.random_walker_click_radius)}


def wilcoxon(model: Sequence[float], baseline: Sequence[float]) -> dict[str, Any]:
    """Paired Wilcoxon signed-rank test (two-sided; zero differences dropped, as Wilcoxon's original test)."""
    from scipy.stats import wilcoxon as test

    diff = np.asarray(model, float) - np.asarray(baseline, float)
    if np.count_nonzero(diff) == 0:
        return {"test": "Wilcoxon signed-rank (paired NoC@90)", "p_value": 1.0, "statistic": 0.0, "pairs": diff.size}
    result = test(diff, zero_method="wilcox")
    return {"test": "Wilcoxon signed-rank (paired NoC@90)", "p_value": float(result.pvalue),
            "statistic": float(result.statistic), "pairs": int(diff.size)}


def confusion(rows: Sequence[Mapping[str, Any]], classes: Sequence[str]) -> tuple[dict, list[dict]]:
    """Accuracy and the confusion table of the class head (rows with a ``predicted_class``)."""
    pairs = [(r["label"], r["predicted_class"]) for r in rows if "predicted_class" in r]
    if not pairs:
        return {}, []
    used = [c for c in classes if any(c in p for p in pairs)]
    table = [{"actual": a, "predicted": p, "count": sum(1 for x in pairs if x == (a, p))} for a in used for p in used]
    accuracy = float(np.mean([a == p for a, p in pairs]))
    return {"accuracy": accuracy, "instances": len(pairs), "classes": used}, table


def evaluate(cfg: EvaluateConfig, prepared: Path, segmenters: Mapping[str, ClickSegmenter],
             out: Path, model_info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Score ``segmenters`` (``model`` plus the baselines) and write the results to ``out``; returns the metrics.

    Raises:
        DataError: the prepared data are missing or inconsistent, or ``segmenters`` lacks ``model`` or a baseline.
    """
    import pandas as pd

    missing = [m for m in ("model", *BASELINES) if m not in segmenters]
    if missing:
        raise DataError(f"evaluate needs the segmenters {missing}")
    meta = read_json(prepared / "meta.json")
    classes = list(meta.get("classes", []))
    val = load_instances(prepared / "val.npz", cfg.max_val_instances, cfg.seed)
    test = load_instances(prepared / "test.npz", cfg.max_instances, cfg.seed + 1)
    val_summary, rows = {}, []
    for name in BASELINES:
        runs, val_rows = run_method(segmenters[name], val, cfg, "val", classes)
        val_summary[name] = summarize_runs(runs, cfg.max_clicks)
        rows += val_rows
    best = min(BASELINES, key=lambda b: (val_summary[b]["noc90"], val_summary[b]["noc85"]))
    log.info("baseline chosen on val: %s (NoC@90 %s)", best,
             {b: round(val_summary[b]["noc90"], 3) for b in BASELINES})
    summary, per_instance = {}, {}
    for name in ("model", *BASELINES):
        runs, test_rows = run_method(segmenters[name], test, cfg, "test", classes)
        summary[name] = summarize_runs(runs, cfg.max_clicks)
        per_instance[name] = [r["noc90"] for r in runs]
        rows += test_rows
        s = summary[name]
        log.info("%-14s NoC@85 %.2f NoC@90 %.2f NoF@90 %d mIoU@1/3/5 %.3f/%.3f/%.3f %.3f s/click", name, s["noc85"],
                 s["noc90"], s["nof90"], s["miou_1"], s["miou_3"], s["miou_5"], s["seconds_per_click"])
    class_info, conf_rows = confusion([r for r in rows if r["method"] == "model" and r["split"] == "test"], classes)
    model, grabcut = summary["model"], summary["grabcut"]
    reduction = 1.0 - model["noc90"] / grabcut["noc90"] if grabcut["noc90"] > 0 else 0.0
    targets: dict[str, dict[str, Any]] = {}

    def target(key: str, value: float, limit: float, higher: bool) -> None:
        targets[key] = {"value": value, "target": limit, "met": bool(value >= limit if higher else value <= limit)}

    target("noc90", model["noc90"], cfg.target_noc90, higher=False)
    target("click_reduction_vs_grabcut", reduction, cfg.target_click_reduction, higher=True)
    target("miou_1", model["miou_1"], cfg.target_miou_1, higher=True)
    target("seconds_per_click", model["seconds_per_click"], cfg.target_seconds_per_click, higher=False)
    source = meta.get("source", "?")
    data_name = {"generated": "generated dressed figures", "ccp": "Clothing Co-Parsing photos"}.get(source, source)
    size = meta.get("eval_size", meta.get("size"))
    also, real_summary = [], {}
    real = real_instances(cfg, meta)
    if real is not None:
        real_data, real_name = real
        real_noc = {}
        for name in ("model", *BASELINES):
            runs, real_rows = run_method(segmenters[name], real_data, cfg, "real_test", classes)
            real_summary[name] = summarize_runs(runs, cfg.max_clicks)
            real_noc[name] = [r["noc90"] for r in runs]
            rows += real_rows
            log.info("real %-14s NoC@85 %.2f NoC@90 %.2f mIoU@1 %.3f", name, real_summary[name]["noc85"],
                     real_summary[name]["noc90"], real_summary[name]["miou_1"])
        also.append(headline(metric="NoC@90 (clicks to IoU 0.90, at most 20)", unit="clicks", data=real_name,
                             model=NAMES["model"], model_value=real_summary["model"]["noc90"], baseline=NAMES[best],
                             baseline_value=real_summary[best]["noc90"], higher_is_better=False,
                             baseline_rule=f"lower validation NoC@90 of GrabCut and random walker ({len(val)} val "
                                           f"instances of the prepared data)",
                             significance=wilcoxon(real_noc["model"], real_noc[best])))
    block = headline(metric="NoC@90 (clicks to IoU 0.90, at most 20)", unit="clicks",
                     data=f"{data_name}, test split ({len(test)} garment instances, {size}px letterbox)",
                     model=NAMES["model"], model_value=model["noc90"], baseline=NAMES[best],
                     baseline_value=summary[best]["noc90"], higher_is_better=False,
                     baseline_rule=f"lower validation NoC@90 of GrabCut and random walker ({len(val)} val instances)",
                     significance=wilcoxon(per_instance["model"], per_instance[best]), also=also)
    metrics = {"headline": block, "targets": targets,
               "test": {name: {k: v for k, v in s.items() if k != "curve"} for name, s in summary.items()},
               "val": {name: {k: v for k, v in s.items() if k != "curve"} for name, s in val_summary.items()},
               "best_baseline": best, "click_reduction_vs_grabcut": reduction,
               "classification": class_info,
               "protocol": {"max_clicks": cfg.max_clicks, "stop_iou": cfg.stop_iou, "min_clicks": cfg.min_clicks,
                            "resolution": size, "source": source, "test_instances": len(test),
                            "val_instances": len(val)},
               "real_test": {name: {k: v for k, v in r.items() if k != "curve"} for name, r in real_summary.items()},
               "classification_real_test": confusion([r for r in rows if r["method"] == "model"
                                                      and r["split"] == "real_test"], classes)[0],
               "model": dict(model_info or {})}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "instances.csv", pd.DataFrame(rows), float_format="%.6g")
    curve = pd.DataFrame({"clicks": np.arange(1, cfg.max_clicks + 1),
                          **{name: summary[name]["curve"] for name in ("model", *BASELINES)}})
    write_csv(out / "plots" / "miou_vs_clicks.csv", curve, float_format="%.6g")
    write_csv(out / "plots" / "confusion.csv",
              pd.DataFrame(conf_rows, columns=["actual", "predicted", "count"]))
    plot_curves(curve, out / "plots" / "miou_vs_clicks.png", f"{data_name}, test")
    for key, t in targets.items():
        higher = key in ("miou_1", "click_reduction_vs_grabcut")
        log.info("target %-28s %.4g (%s %g): %s", key, t["value"], "≥" if higher else "≤", t["target"],
                 "met" if t["met"] else "MISSED")
    return metrics


def plot_curves(curve, path: Path, title: str) -> None:
    """mIoU against the number of clicks, one line per method."""
    from shared.plots import savefig, use_agg

    use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in [c for c in curve.columns if c != "clicks"]:
        ax.plot(curve["clicks"], curve[name], marker="o", ms=3, label=NAMES.get(name, name))
    for level in (0.85, 0.90):
        ax.axhline(level, color="grey", lw=0.6, ls=":")
    ax.set(xlabel="clicks", ylabel="mIoU", title=title, ylim=(0, 1), xticks=range(0, len(curve) + 1, 5))
    ax.legend(fontsize=8, loc="lower right")
    savefig(fig, path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    if not (Path(args.model) / "model.keras").is_file():  # before TensorFlow is imported
        raise DataError(f"{args.model} holds no model.keras; run the train stage first")
    from projects.clothing_segmentation.predictor import load_segmenter

    model = load_segmenter(args.model)
    info_path = Path(args.model) / "train.json"
    info = read_json(info_path) if info_path.is_file() else {}
    evaluate(cfg, Path(args.data), {"model": model, **baselines(cfg)}, Path(args.out),
             {k: v for k, v in info.items() if isinstance(v, (int, float, str))})
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
