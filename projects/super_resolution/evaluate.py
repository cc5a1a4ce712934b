"""Stage ``evaluate``: every trained run beside nearest, bilinear, bicubic and Lanczos, per image.

For each scale and each held-out test image (and each benchmark folder of ``data.benchmarks``):
mod-crop the HR image, degrade it as in training (MATLAB bicubic by default), upscale the
low-resolution image with every baseline and every run of that scale, and score the outputs on
the field's protocol (``quality.py``: PSNR-Y and SSIM-Y with ``scale`` px shaved; RGB PSNR apart).

Reported per scale and method: mean PSNR-Y, SSIM-Y and RGB PSNR, the median and mean gain over
bicubic, the win rate over Lanczos (share of images with a higher PSNR-Y) and the number of
images whose SSIM-Y falls below bicubic's. Near-constant test images (flagged by the data stage)
are reported apart. With cross-fitting (``data.crossfit``) the test set is every train and test photo of
fold 1: fold 1's test photos are scored by the runs trained on fold 1, its train photos by the same runs
trained on fold 2 (``<model>/fold2``), so no photo is scored by a model that saw it; the ``fold`` column of
``per_image.csv`` says which. Benchmarks, example crops and timings use fold 1's runs. Cost: parameters
and CPU milliseconds per output megapixel (median of ``timing_repeats`` runs, whole-image inference of a
``timing_size``² low-resolution luma crop).
The targets of the project are checked here.

Writes ``metrics.json``, ``per_image.csv``, plot data (``plots/frontier.csv``,
``plots/history.csv``, ``plots/gain.csv``) and the report's example crops (``--crops``).

    python -m projects.super_resolution.evaluate --params projects/super_resolution/params.yaml \
        --data data/super_resolution/prepared --model data/super_resolution/model \
        --out projects/super_resolution/results --crops data/super_resolution/evaluation/crops.npz
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from projects.super_resolution.dataset import load_manifest, load_split
from projects.super_resolution.inference import Upscaler
from projects.super_resolution.patches import Degradation, degrade, luma_unit
from projects.super_resolution.quality import PUBLISHED_BICUBIC, luma, modcrop, score
from projects.super_resolution.resize import METHODS, imresize
from shared.config import from_mapping, load_section
from shared.io import DataError, read_json, save_npz, write_csv
from shared.metrics import headline, timeit, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class EvaluateConfig:
    """The ``evaluate`` section: baselines, targets, timing and the example crops.

    Raises:
        ValueError: a ``target_gain_db`` key is not ``x2``, ``x3`` or ``x4``; a baseline is not a resize method;
            ``baselines`` lacks ``bicubic``.
    """

    baselines: tuple[str, ...] = ("nearest", "bilinear", "bicubic", "lanczos3")
    #: the model whose targets are checked, and the mean PSNR-Y gain over bicubic (dB) it must reach
    #: at each scale (keys ``x<scale>``), on the test photos and on every benchmark folder
    fast_model: str = "fast"
    target_gain_db: dict[str, float] = field(default_factory=lambda: {"x2": 1.5, "x4": 1.0})
    #: share of images on which the fast model beats Lanczos (1.0: every image)
    target_lanczos_win_rate: float = 1.0
    target_fast_parameters: int = 100_000
    target_fast_ms_per_mp: float = 700.0
    target_train_minutes: float = 10.0
    timing_size: int = 256
    timing_repeats: int = 5
    crops: int = 3
    crop_size: int = 96

    #: paired bootstrap over images of the headline's difference: resamples and confidence level
    bootstrap_resamples: int = 9999
    confidence: float = 0.95

    def __post_init__(self) -> None:
        bad = [k for k in self.target_gain_db if not (k.startswith("x") and k[1:] in ("2", "3", "4"))]
        if bad:
            raise ValueError(f"target_gain_db keys must be x2, x3 or x4, got {bad}")
        unknown = sorted(set(self.baselines) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown baseline(s) {unknown}; use {', '.join(METHODS)}")
        if "bicubic" not in self.baselines:
            raise ValueError("baselines must include bicubic (gains are measured against it)")


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def detail_crop(hr: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size``² window with the most gradient energy (chosen on HR only)."""
    y = luma(hr)
    g = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1, :]
    h, w = g.shape
    if h < size or w < size:
        return 0, 0
    integral = np.pad(g.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size]
    top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return int(top), int(left)


def evaluate_images(images: dict[str, np.ndarray], scale: int, upscalers: dict[str, Upscaler],
                    baselines: Sequence[str], degradation: Degradation, group: str,
                    flat: set[str] = frozenset(), fold: int = 1
                    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Score every method on every image; returns rows and the HR-size outputs (for crops).

    Rows: ``set`` (``group``, or ``test_flat`` for the names in ``flat``), ``image``, ``scale``, ``method``,
    ``fold`` (the fold whose runs scored the image) and the scores of :func:`quality.score`.
    """
    rows, outputs = [], {}
    for name, image in images.items():
        hr = modcrop(image, scale)
        lr = degrade(hr, scale, degradation, seed=_seed(name))
        results = {method: imresize(lr, scale, method) for method in baselines}
        for run_name, up in upscalers.items():
            results[run_name] = up.upscale(lr)
        for method, sr in results.items():
            rows.append({"set": "test_flat" if name in flat else group, "image": name, "scale": scale,
                         "method": method, "fold": fold, **score(sr, hr, scale)})
        outputs[name] = {"hr": hr, "lr": lr, **results}
    return rows, outputs


def summarize_scale(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """One row per method: means, gain over bicubic, win rate over Lanczos, SSIM losses to bicubic."""
    bicubic = frame[frame["method"] == "bicubic"].set_index("image")
    lanczos = frame[frame["method"] == "lanczos3"].set_index("image") if "lanczos3" in set(frame["method"]) else None
    table = {}
    for method, g in frame.groupby("method", sort=False):
        g = g.set_index("image")
        gain = g["psnr_y"] - bicubic.loc[g.index, "psnr_y"]
        row = {"psnr_y": g["psnr_y"].mean(), "ssim_y": g["ssim_y"].mean(),
               "psnr_rgb": g["psnr_rgb"].mean() if "psnr_rgb" in g and g["psnr_rgb"].notna().any() else None,
               "gain_db_median": float(gain.median()), "gain_db_mean": float(gain.mean()),
               "win_rate_vs_lanczos": None if lanczos is None else
               float(np.mean(g["psnr_y"] > lanczos.loc[g.index, "psnr_y"])),
               "min_margin_vs_lanczos_db": None if lanczos is None else
               float(np.min(g["psnr_y"] - lanczos.loc[g.index, "psnr_y"])),
               "ssim_below_bicubic": int(np.sum(g["ssim_y"] < bicubic.loc[g.index, "ssim_y"] - 1e-6)),
               "images": int(len(g))}
        table[str(method)] = row
    return table


def choose_baseline(images: dict[str, np.ndarray], scale: int, baselines: Sequence[str],
                    degradation: Degradation, on: str = "val") -> dict[str, Any]:
    """The strongest classical upscaler: the highest mean PSNR-Y on the validation images.

    Returns:
        ``{"chosen": name, "on": on, "psnr_y": {baseline: mean PSNR-Y (dB)}}``. With no
        validation images (``on="none"``) the rule falls back to Lanczos-3, the field's usual one.
    """
    if on == "none":
        name = "lanczos3" if "lanczos3" in baselines else "bicubic"
        return {"chosen": name, "on": "none (no validation images): Lanczos-3 by rule", "psnr_y": {}}
    rows, _ = evaluate_images(images, scale, {}, baselines, degradation, "val")
    means = pd.DataFrame(rows).groupby("method")["psnr_y"].mean()
    return {"chosen": str(means.idxmax()), "on": on, "psnr_y": {k: float(v) for k, v in means.items()}}


def paired_bootstrap(diff: np.ndarray, resamples: int, confidence: float, seed: int = 0) -> dict[str, Any]:
    """Percentile-BCa bootstrap interval of the mean of per-image differences (``scipy.stats.bootstrap``).

    Args:
        diff: per-image differences model − baseline (dB), paired on the same images.

    Returns:
        ``{"test": "paired bootstrap", "low", "high", "confidence", "resamples", "images"}``.
    """
    from scipy.stats import bootstrap

    diff = np.asarray(diff, np.float64)
    if diff.size < 2 or np.allclose(diff, diff[0]):
        low = high = float(diff.mean()) if diff.size else float("nan")
    else:
        res = bootstrap((diff,), np.mean, confidence_level=confidence, n_resamples=resamples, method="BCa",
                        random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"test": "paired bootstrap", "low": low, "high": high, "confidence": confidence,
            "resamples": resamples, "images": int(diff.size)}


def make_headline(cfg: EvaluateConfig, frame: pd.DataFrame, choice: dict[int, dict[str, Any]],
                  runs: dict[str, dict[str, Any]], source: str, crossfit: bool = False) -> dict[str, Any] | None:
    """The headline: the fast model against the strongest classical upscaler (chosen on validation).

    Main block at ×2 on the test photos (with ``crossfit``, fold 1's train and test photos, each scored by
    the fold that did not train on it); ``also``: ×4, ×3, the other networks at ×2 and every benchmark
    folder, each with a paired bootstrap interval over images.
    """
    blocks = []
    order = [(cfg.fast_model, 2, "test"), (cfg.fast_model, 4, "test"), (cfg.fast_model, 3, "test")]
    order += [(r["model"], 2, "test") for r in runs.values() if r["scale"] == 2 and r["model"] != cfg.fast_model]
    order += [(cfg.fast_model, s, g) for g in sorted(set(frame["set"]) - {"test", "test_flat"}) for s in (2, 4)]
    for model, scale, group in order:
        name = f"{model}_x{scale}"
        if name not in runs or scale not in choice:
            continue
        base = choice[scale]["chosen"]
        g = frame[(frame["set"] == group) & (frame["scale"] == scale)].pivot(index="image", columns="method",
                                                                              values="psnr_y")
        if name not in g or base not in g or g.empty:
            continue
        g = g[[name, base]].dropna()
        sig = paired_bootstrap(g[name] - g[base], cfg.bootstrap_resamples, cfg.confidence)
        images = list(g.index)
        if group != "test":
            what = f"the {group} benchmark ({len(images)} images)"
        elif crossfit:
            what = (f"{len(images)} real photographs, each scored by the run of the fold that did not train on it "
                    f"(2-fold cross-fitting by image; {source}: {', '.join(images)})")
        else:
            what = f"{len(images)} real photographs held out by image ({source}: {', '.join(images)})"
        blocks.append(headline(
            metric=f"PSNR-Y at ×{scale} (dB)", unit="dB",
            data=f"{what}; LR by MATLAB-bicubic ×1/{scale}; mean over images",
            model=f"{name} ({runs[name]['parameters']:,} parameters)", model_value=float(g[name].mean()),
            baseline=base, baseline_value=float(g[base].mean()), higher_is_better=True,
            baseline_rule=f"highest mean PSNR-Y at ×{scale} on the {choice[scale]['on']} images among "
                          f"{', '.join(cfg.baselines)}",
            significance=sig))
    if not blocks:
        return None
    return {**blocks[0], "also": blocks[1:]}


def timing(upscaler: Upscaler, y: np.ndarray, repeats: int) -> float:
    """CPU milliseconds per output megapixel, median of ``repeats`` whole-image runs."""
    t = timeit(upscaler.luma, y, repeats=repeats, warmup=2)
    return 1000.0 * t["median_s"] / (y.size * upscaler.scale**2 / 1e6)


def evaluate(cfg: EvaluateConfig, prepared: Path, model_dir: Path, out: Path, crops_path: Path | None) -> dict:
    """Score every trained run and the baselines on the test split and benchmark folders; write ``out``.

    Raises:
        DataError: ``summary.json`` or a run's files are missing or broken, or the prepared images are (see
            :func:`load_split`).
        ConfigError: the ``degradation`` recorded in ``summary.json`` is invalid.
    """
    summary = read_json(model_dir / "summary.json")
    runs = {r["run"]: r for r in summary["runs"]}
    train_cfg = summary["config"]
    degradation = from_mapping(Degradation, train_cfg.get("degradation", {}), where="train.degradation")
    manifest = load_manifest(prepared)
    flat = set(manifest.get("flat_test_images", []))
    test = load_split(prepared, "test")
    val = load_split(prepared, "val")
    crossfit = bool(manifest.get("crossfit"))
    if crossfit and not (model_dir / "fold2" / "summary.json").exists():
        raise DataError(f"the prepared data has a cross-fitting fold but {model_dir / 'fold2'} holds no trained "
                        "runs: rerun the train stage on this data")
    test2 = load_split(prepared, "test", fold=2) if crossfit else {}
    runs2 = {r["run"]: r for r in read_json(model_dir / "fold2" / "summary.json")["runs"]} if crossfit else {}
    benchmarks = {b: load_split(prepared, b) for b in manifest.get("benchmarks", {})}
    scales = sorted({r["scale"] for r in runs.values()})
    rows, crops = [], {}
    upscalers: dict[str, Upscaler] = {}
    choice: dict[int, dict[str, Any]] = {}
    for scale in scales:
        choice[scale] = choose_baseline(val or test, scale, cfg.baselines, degradation, on="val" if val else "none")
        ups = {name: Upscaler.load(model_dir, r["model"], scale) for name, r in runs.items() if r["scale"] == scale}
        upscalers.update(ups)
        scale_rows, outputs = evaluate_images(test, scale, ups, cfg.baselines, degradation, "test", flat)
        rows += scale_rows
        if crossfit:   # fold 1's train photos, scored by the runs trained on fold 2
            ups2 = {name: Upscaler.load(model_dir / "fold2", r["model"], scale) for name, r in runs2.items()
                    if r["scale"] == scale}
            rows += evaluate_images(test2, scale, ups2, cfg.baselines, degradation, "test", flat, fold=2)[0]
        for bench, images in benchmarks.items():
            rows += evaluate_images(images, scale, ups, cfg.baselines, degradation, bench)[0]
        chosen = [n for n in test if n not in flat][: cfg.crops]
        for name in chosen:
            o = outputs[name]
            top, left = detail_crop(o["hr"], cfg.crop_size)
            top, left = top - top % scale, left - left % scale
            sl = (slice(top, top + cfg.crop_size), slice(left, left + cfg.crop_size))
            lr_sl = (slice(top // scale, (top + cfg.crop_size) // scale),
                     slice(left // scale, (left + cfg.crop_size) // scale))
            for method, img in o.items():
                crops[f"x{scale}__{name}__{method}"] = img[lr_sl] if method == "lr" else img[sl]
        log.info("×%d: %d test images, %d runs", scale, len(test) + len(test2), len(ups))
    frame = pd.DataFrame(rows)

    metrics: dict[str, Any] = {}
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for (group, scale), g in frame.groupby(["set", "scale"], sort=False):
        key = f"x{scale}" if group == "test" else f"{group}_x{scale}"
        tables[key] = summarize_scale(g)

    # cost: parameters and CPU time per output megapixel
    reference = luma_unit(next(iter(test.values())))
    cost = {}
    for name, up in upscalers.items():
        n = cfg.timing_size
        y = np.pad(reference, ((0, max(0, n - reference.shape[0])), (0, max(0, n - reference.shape[1]))),
                   mode="reflect")[:n, :n]
        ms = timing(up, y, cfg.timing_repeats)
        r = runs[name]
        cost[name] = {"scale": r["scale"], "parameters": r["parameters"], "ms_per_mp": ms,
                      "psnr_y": tables[f"x{r['scale']}"][name]["psnr_y"],
                      "gain_db_median": tables[f"x{r['scale']}"][name]["gain_db_median"],
                      "train_s": r["wall_time_s"]}
        log.info("%-12s %8d parameters, %7.0f ms per output MP", name, r["parameters"], ms)
    y = reference[: cfg.timing_size, : cfg.timing_size].astype(np.float64)
    bicubic_ms = 1000 * timeit(imresize, y, 2, repeats=cfg.timing_repeats)["median_s"] / (y.size * 4 / 1e6)

    groups = ["test", *benchmarks]
    targets: dict[str, dict[str, Any]] = {}
    for key, goal in cfg.target_gain_db.items():
        name = f"{cfg.fast_model}_{key}"
        rows_by_group = {g: tables.get(key if g == "test" else f"{g}_{key}", {}).get(name) for g in groups}
        rows_by_group = {g: r for g, r in rows_by_group.items() if r is not None}
        if not rows_by_group:
            continue
        # the worst case over the test photos and every benchmark folder
        worst = min(rows_by_group, key=lambda g: rows_by_group[g]["gain_db_mean"])
        value = rows_by_group[worst]["gain_db_mean"]
        targets[f"gain_{key}_db"] = {"value": value, "target": goal, "met": value >= goal, "worst_set": worst}
        win = min(r["win_rate_vs_lanczos"] for r in rows_by_group.values() if r["win_rate_vs_lanczos"] is not None)
        margin = min(r["min_margin_vs_lanczos_db"] for r in rows_by_group.values())
        targets[f"lanczos_win_rate_{key}"] = {"value": win, "target": cfg.target_lanczos_win_rate,
                                              "met": win >= cfg.target_lanczos_win_rate,
                                              "worst_image_margin_db": margin}
        below = sum(r["ssim_below_bicubic"] for r in rows_by_group.values())
        targets[f"ssim_below_bicubic_{key}"] = {"value": below, "target": 0, "met": below == 0}
    fast2 = cost.get(f"{cfg.fast_model}_x2")
    if fast2 is not None:
        targets["fast_parameters"] = {"value": fast2["parameters"], "target": cfg.target_fast_parameters,
                                      "met": fast2["parameters"] <= cfg.target_fast_parameters}
        targets["fast_ms_per_mp_x2"] = {"value": fast2["ms_per_mp"], "target": cfg.target_fast_ms_per_mp,
                                        "met": fast2["ms_per_mp"] <= cfg.target_fast_ms_per_mp}
    # the cost of training the published runs once (fold 1); fold 2's training is reported beside it
    train_minutes = sum(r["wall_time_s"] for r in runs.values()) / 60
    targets["train_minutes"] = {"value": train_minutes, "target": cfg.target_train_minutes,
                                "met": train_minutes <= cfg.target_train_minutes,
                                **({"fold2_minutes": sum(r["wall_time_s"] for r in runs2.values()) / 60}
                                   if crossfit else {})}

    protocol = {}
    for bench in benchmarks:
        for scale in scales:
            row = tables.get(f"{bench}_x{scale}", {}).get("bicubic")
            published = PUBLISHED_BICUBIC.get(bench, {}).get(scale)
            if row is not None:
                protocol[f"{bench}_x{scale}"] = {"bicubic_psnr_y": row["psnr_y"], "published": published,
                                                 "difference_db": None if published is None
                                                 else row["psnr_y"] - published}
    head = make_headline(cfg, frame, choice, runs, manifest.get("source", "?"), crossfit)
    baseline_choice = {f"x{k}": {"chosen": v["chosen"], "on": v["on"], **{f"val_psnr_y_{m}": x for m, x in
                                                                        v["psnr_y"].items()}}
                       for k, v in choice.items()}
    folds = {"crossfit": crossfit, "fold1_test": len(test), "fold2_test": len(test2)}
    metrics = {**({"headline": head} if head else {}), "targets": targets, "folds": folds, **tables,
               "baseline_choice": baseline_choice, "cost": cost, **({"protocol": protocol} if protocol else {}),
               "bicubic_ms_per_mp": bicubic_ms}
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "per_image.csv", frame)
    write_csv(out / "plots" / "frontier.csv", pd.DataFrame([{"run": k, **v} for k, v in cost.items()]))
    test_rows = frame[frame["set"] == "test"]
    gain = test_rows.merge(test_rows[test_rows["method"] == "bicubic"][["image", "scale", "psnr_y"]],
                           on=["image", "scale"], suffixes=("", "_bicubic"))
    gain["gain_db"] = gain["psnr_y"] - gain["psnr_y_bicubic"]
    write_csv(out / "plots" / "gain.csv", gain[["image", "scale", "method", "gain_db"]])
    history = []
    for name in runs:
        h = read_json(model_dir / name / "run.json")["history"]
        for i, epoch in enumerate(h["epoch"]):
            history.append({"run": name, "epoch": epoch + 1, **{k: v[i] for k, v in h.items() if k != "epoch"}})
    write_csv(out / "plots" / "history.csv", pd.DataFrame(history))
    if crops_path is not None:
        save_npz(crops_path, **crops)
    for key, t in targets.items():
        log.info("target %-24s %10.4g (target %g): %s", key, t["value"], t["target"], "met" if t["met"] else "MISSED")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """The ``evaluate`` stage.

    Raises:
        ConfigError: the ``evaluate`` section of ``--params`` is missing or invalid.
        DataError: ``--model`` holds no ``summary.json`` (the train stage has not run), or a trained run or a
            prepared image is missing or broken.
    """
    parser = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",))
    parser.add_argument("--crops", default=None, help="npz of example crops for the report")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    model = Path(args.model)
    if not (model / "summary.json").exists():
        raise DataError(f"{model} holds no trained runs (summary.json missing); run the train stage first")
    evaluate(cfg, Path(args.data), model, Path(args.out), Path(args.crops) if args.crops else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
