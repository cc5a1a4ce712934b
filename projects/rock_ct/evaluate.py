"""Stage ``evaluate``: the 3D U-Net against the classical baselines on the phantom test and shifted volumes.

1. The baselines (:mod:`projects.rock_ct.baselines`) are fitted on the training volumes; the strongest is the one of
   highest mean Dice on the validation volume (never test).
2. Every method segments the validation, test and shifted volumes; the U-Net through the tiled inference of
   :func:`projects.rock_ct.tiled.load_segmenter` (tile and halo from params), timed on the test volume (Mvox/s).
3. :func:`projects.rock_ct.physics.compare` scores each against the exact labels: per-phase Dice and IoU,
   vesicularity and crystal-fraction errors (pp), the KS distance of vesicle equivalent diameters, Euler number and
   connected fraction.
4. The headline: U-Net against the strongest baseline, mean Dice on the test volume, with a paired bootstrap over
   cubic blocks of the volume (the blocks' mean Dice differences) for significance; the shifted volume and the worst
   target beside it.

Outputs (``--out``): ``metrics.json`` (tables ``test``, ``shifted``, ``val``: method → metrics; ``targets``: each
issue-13 target with its value and whether it is met; ``headline``), ``methods.csv`` (one row per split and method),
``sizes.csv`` (vesicle equivalent diameters in µm per split and method, and the truth), ``plots/dice.csv``.
``--predictions``: ``{val,test,shifted}.zarr`` with the labels of the truth, the U-Net, the strongest baseline and
the dense random forest (for the report's slices).

    python -m projects.rock_ct.evaluate --params projects/rock_ct/params.yaml --data data/rock_ct/phantom \
        --model data/rock_ct/model --out projects/rock_ct/results --predictions data/rock_ct/predictions
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.rock_ct.baselines import NAMES, BaselineConfig, features, make_baselines
from projects.rock_ct.physics import CLASSES, compare, confusion, overlap_scores
from projects.rock_ct.volumes import write_arrays
from shared.config import load_section
from shared.io import DataError, atomic_dir, write_csv
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)

MODEL = "unet"
SPLITS = ("val", "test", "shifted")


@dataclass(frozen=True)
class EvaluateConfig:
    tile: int = 120
    halo: int = 8
    baselines: tuple[str, ...] = NAMES
    baseline: BaselineConfig = BaselineConfig()
    #: vesicles smaller than this (voxels) are left out of size distributions, alike for every method and the truth
    min_voxels: int = 8
    #: side of the cubic blocks of the paired bootstrap (voxels) and its resamples
    block: int = 32
    bootstrap: int = 2000
    seed: int = 0
    # issue 13 targets
    target_mean_dice: float = 0.95
    target_crystal_dice: float = 0.92
    target_vesicularity_pp: float = 0.5
    target_crystal_fraction_pp: float = 1.0
    target_ks: float = 0.1
    target_shifted_mean_dice: float = 0.90
    target_shifted_vesicularity_pp: float = 1.5
    target_shifted_margin_points: float = 2.0
    target_mvox_per_s: float = 0.3

    def __post_init__(self) -> None:
        if self.tile < 8 or self.halo < 0 or 2 * self.halo >= self.tile:
            raise ValueError(f"tile must be ≥ 8 and halo in [0, tile/2), got tile {self.tile}, halo {self.halo}")
        if not self.baselines or any(b not in NAMES for b in self.baselines):
            raise ValueError(f"baselines must be a non-empty subset of {NAMES}, got {self.baselines}")
        if self.block < 4 or self.bootstrap < 1:
            raise ValueError("block must be ≥ 4 and bootstrap ≥ 1")


def load_split(data: str | Path, split: str) -> tuple[list[np.ndarray], list[np.ndarray], float | None]:
    """The cubes of ``<data>/<split>.zarr``: images, labels (lists of (Z, Y, X) arrays) and the voxel size (µm).

    Raises:
        DataError: the group is missing, lacks ``image``/``labels``, or they differ in shape.
    """
    import zarr

    path = Path(data) / f"{split}.zarr"
    if not path.exists():
        raise DataError(f"{path} not found; run the rock_ct_data stage first")
    try:
        group = zarr.open_group(str(path), mode="r")
        image, labels = group["image"], group["labels"]
    except Exception as exc:
        raise DataError(f"{path} is not a phantom group with arrays 'image' and 'labels': {exc}") from None
    if tuple(image.shape) != tuple(labels.shape) or image.ndim not in (3, 4):
        raise DataError(f"{path}: image {tuple(image.shape)} and labels {tuple(labels.shape)} must be one (Z, Y, X) "
                        f"or (N, Z, Y, X) shape")
    im, lab = np.asarray(image[...]), np.asarray(labels[...])
    voxel = group.attrs.get("voxel_size_um")
    if im.ndim == 3:
        return [im], [lab], voxel
    return list(im), list(lab), voxel


def load_segmenter(model_dir: str | Path):
    """The U-Net's tiled segmenter (a function here so tests can replace it)."""
    from projects.rock_ct.tiled import load_segmenter as load

    return load(model_dir)


def block_dice(pred: np.ndarray, truth: np.ndarray, block: int) -> np.ndarray:
    """Mean Dice of each cubic block of side ``block`` (float, one per block; partial blocks at the edges kept)."""
    out = []
    for z in range(0, truth.shape[0], block):
        for y in range(0, truth.shape[1], block):
            for x in range(0, truth.shape[2], block):
                sl = (slice(z, z + block), slice(y, y + block), slice(x, x + block))
                dice = overlap_scores(confusion(pred[sl], truth[sl]))["dice"]
                out.append(np.mean([dice[c] for c in CLASSES]))
    return np.asarray(out)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int, seed: int) -> dict:
    """95% bootstrap interval of mean(a − b) over paired blocks."""
    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"test": f"paired bootstrap over {len(diff)} blocks (mean Dice difference)", "low": float(low),
            "high": float(high), "mean": float(diff.mean())}


def _row(m: dict) -> dict:
    return {"mean_dice": m["mean_dice"], **{f"dice_{c}": m["dice"][c] for c in CLASSES},
            **{f"iou_{c}": m["iou"][c] for c in CLASSES}, "accuracy": m["accuracy"],
            "vesicularity": m["vesicularity"], "vesicularity_error_pp": m["vesicularity_error_pp"],
            "crystal_fraction": m["crystal_fraction"], "crystal_fraction_error_pp": m["crystal_fraction_error_pp"],
            "ks": m["ks"], "vesicle_count": m["vesicle_count"], "euler_number": m["euler_number"],
            "connected_fraction": m["connected_fraction"]}


def targets(cfg: EvaluateConfig, test: dict, shifted: dict | None, rf_shifted: dict | None,
            mvox: float | None) -> dict:
    """Each issue-13 target: value, target, ``met`` (the shifted ones only where a shifted volume exists)."""
    def entry(value, target, higher):
        met = None if value is None else bool(value >= target if higher else value <= target)
        return {"value": value, "target": target, "met": met}

    out = {
        "test_mean_dice": entry(test["mean_dice"], cfg.target_mean_dice, True),
        "test_crystal_dice": entry(test["dice"]["crystal"], cfg.target_crystal_dice, True),
        "test_abs_vesicularity_error_pp": entry(abs(test["vesicularity_error_pp"]), cfg.target_vesicularity_pp, False),
        "test_abs_crystal_fraction_error_pp": entry(abs(test["crystal_fraction_error_pp"]),
                                                    cfg.target_crystal_fraction_pp, False),
        "test_ks": entry(test["ks"], cfg.target_ks, False),
    }
    if shifted is not None:
        out["shifted_mean_dice"] = entry(shifted["mean_dice"], cfg.target_shifted_mean_dice, True)
        out["shifted_abs_vesicularity_error_pp"] = entry(abs(shifted["vesicularity_error_pp"]),
                                                         cfg.target_shifted_vesicularity_pp, False)
    if shifted is not None and rf_shifted is not None:
        out["shifted_margin_over_rf_dense_points"] = entry(100 * (shifted["mean_dice"] - rf_shifted["mean_dice"]),
                                                           cfg.target_shifted_margin_points, True)
    out["mvox_per_s"] = entry(mvox, cfg.target_mvox_per_s, True)
    return out


def evaluate(cfg: EvaluateConfig, data: str | Path, model_dir: str | Path) -> dict:
    """Run every method on val/test/shifted; return metrics, per-method rows, sizes and predictions.

    The shifted volume is optional (a real scan has none): the splits scored are those present.
    """
    import zarr

    train_images, train_labels, _ = load_split(data, "train")
    splits = [s for s in SPLITS if s != "shifted" or (Path(data) / f"{s}.zarr").exists()]
    volumes = {s: load_split(data, s) for s in splits}
    source = zarr.open_group(str(Path(data) / "test.zarr"), mode="r").attrs.get("source", "phantom")
    for s, (ims, _, _) in volumes.items():
        if len(ims) != 1:
            raise DataError(f"{s}.zarr must hold one (Z, Y, X) cube, got {len(ims)}")
    methods = make_baselines(cfg.baseline, cfg.baselines)
    forests = [n for n in methods if n.startswith("rf_")]
    results: dict[str, dict[str, dict]] = {s: {} for s in splits}
    preds: dict[str, dict[str, np.ndarray]] = {s: {} for s in splits}
    # the random forests share one feature computation per volume (the dominant cost)
    train_feats = [features(im, cfg.baseline) for im in train_images] if forests else None
    for name, method in methods.items():
        t0 = time.perf_counter()
        if name in forests:
            method.fit(train_images, train_labels, feats=train_feats)
        else:
            method.fit(train_images, train_labels)
        log.info("%s fitted in %.1f s", name, time.perf_counter() - t0)
    del train_feats
    for s in splits:
        (image,), (truth,), voxel = volumes[s]
        feats = features(image, cfg.baseline) if forests else None
        for name, method in methods.items():
            t0 = time.perf_counter()
            preds[s][name] = method.predict(image, feats=feats) if name in forests else method.predict(image)
            results[s][name] = compare(preds[s][name], truth, voxel, cfg.min_voxels)
            log.info("%-11s %-7s mean Dice %.3f (%.1f s)", name, s, results[s][name]["mean_dice"],
                     time.perf_counter() - t0)
    segmenter = load_segmenter(model_dir)
    mvox = None
    for s in splits:
        (image,), (truth,), voxel = volumes[s]
        t0 = time.perf_counter()
        preds[s][MODEL] = segmenter.segment(image, tile=cfg.tile, halo=cfg.halo, progress=False)
        seconds = time.perf_counter() - t0
        if s == "test":
            mvox = image.size / 1e6 / seconds
        results[s][MODEL] = compare(preds[s][MODEL], truth, voxel, cfg.min_voxels)
        log.info("%-11s %-7s mean Dice %.3f (%.1f s)", MODEL, s, results[s][MODEL]["mean_dice"], seconds)
    best = max(cfg.baselines, key=lambda n: results["val"][n]["mean_dice"])
    return {"results": results, "preds": preds, "best": best, "mvox": mvox, "volumes": volumes, "splits": splits,
            "source": source}


def metrics_of(cfg: EvaluateConfig, run_: dict) -> dict:
    """The ``metrics.json`` mapping of an :func:`evaluate` run."""
    results, best, volumes = run_["results"], run_["best"], run_["volumes"]
    splits = run_.get("splits", list(SPLITS))
    scan = run_.get("source") == "scan"
    rule = f"highest validation mean Dice of {len(cfg.baselines)} baselines ({', '.join(cfg.baselines)})"
    blocks = {}
    for s in [s for s in ("test", "shifted") if s in splits]:
        truth = volumes[s][1][0]
        a = block_dice(run_["preds"][s][MODEL], truth, cfg.block)
        b = block_dice(run_["preds"][s][best], truth, cfg.block)
        blocks[s] = paired_bootstrap(a, b, cfg.bootstrap, cfg.seed)
    also = []
    if "shifted" in splits:
        also.append(headline(metric="mean Dice (vesicle, glass, crystal)", data="phantom shifted-acquisition volume",
                             model="3D U-Net (tiled)", model_value=results["shifted"][MODEL]["mean_dice"],
                             baseline=best, baseline_value=results["shifted"][best]["mean_dice"],
                             higher_is_better=True, baseline_rule=rule, significance=blocks["shifted"]))
    head = headline(metric="mean Dice (vesicle, glass, crystal)",
                    data="test slab of the scan" if scan else "phantom test volume (nominal acquisition)",
                    model="3D U-Net (tiled)", model_value=results["test"][MODEL]["mean_dice"], baseline=best,
                    baseline_value=results["test"][best]["mean_dice"], higher_is_better=True, baseline_rule=rule,
                    significance=blocks["test"], also=also)
    shifted = results["shifted"][MODEL] if "shifted" in splits else None
    rf = results["shifted"].get("rf_dense") if "shifted" in splits else None
    metrics = {"headline": head, "targets": targets(cfg, results["test"][MODEL], shifted, rf, run_["mvox"])}
    for s in [s for s in ("test", "shifted", "val") if s in splits]:
        metrics[s] = {name: _row(m) for name, m in results[s].items()}
    metrics["choice"] = {"strongest_baseline": best, "rule": rule}
    metrics["speed"] = {"unet_mvox_per_s_test": run_["mvox"], "tile": cfg.tile, "halo": cfg.halo}
    return metrics


def write_outputs(cfg: EvaluateConfig, run_: dict, out: Path, predictions: Path | None) -> dict:
    metrics = metrics_of(cfg, run_)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    rows, sizes, dice_rows = [], [], []
    splits = run_.get("splits", list(SPLITS))
    for s in splits:
        for name, m in run_["results"][s].items():
            rows.append({"split": s, "method": name, **_row(m)})
            sizes += [{"split": s, "method": name, "diameter_um": d} for d in m["diameters"][0]]
            dice_rows += [{"split": s, "method": name, "phase": c, "dice": m["dice"][c]} for c in CLASSES]
        any_m = next(iter(run_["results"][s].values()))
        sizes += [{"split": s, "method": "truth", "diameter_um": d} for d in any_m["diameters"][1]]
    write_csv(out / "methods.csv", rows, float_format="%.6g")
    write_csv(out / "sizes.csv", sizes, float_format="%.5g")
    write_csv(out / "plots" / "dice.csv", dice_rows, float_format="%.5g")
    if predictions is not None:
        keep = [MODEL, run_["best"]] + (["rf_dense"] if "rf_dense" in run_["results"]["test"] else [])
        with atomic_dir(predictions) as tmp:
            for s in splits:
                (image,), (truth,), voxel = run_["volumes"][s]
                arrays = {"image": image, "truth": truth, **{k: run_["preds"][s][k] for k in dict.fromkeys(keep)}}
                write_arrays(tmp / f"{s}.zarr", arrays, voxel_size_um=voxel or 1.0,
                             attrs={"strongest_baseline": run_["best"]})
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",))
    parser.add_argument("--predictions", default=None, help="folder for the label volumes of the report")
    args = parser.parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    run_ = evaluate(cfg, args.data, args.model)
    metrics = write_outputs(cfg, run_, Path(args.out), Path(args.predictions) if args.predictions else None)
    h = metrics["headline"]
    log.info("U-Net %.4f vs %s %.4f mean Dice on test: %s", h["model_value"], h["baseline"], h["baseline_value"],
             h["verdict"])
    for also in h.get("also", []):
        log.info("%s: U-Net %.4f vs %.4f", also["data"], also["model_value"], also["baseline_value"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
