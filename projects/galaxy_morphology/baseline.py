"""Stage ``baseline``: statmorph morphology on photutils segments → logistic regression and random forest.

The classical way to classify galaxies without a network (Conselice 2003; Lotz et al. 2004), with
the field's standard implementations (:mod:`projects.galaxy_morphology.morphology`): each galaxy
is segmented with photutils on the summed, noise-normalised bands at ``detect_sigma`` and
measured with statmorph (concentration, asymmetry, smoothness, Gini, M20, ellipticity,
elongation, radii, S/N, the Gini-M20 statistics), plus colours and multiplicity.

statmorph costs ~0.2-0.3 s per stamp, so the baseline sees stratified random subsets: at most
``max_train`` training and ``max_val`` validation images, and ``max_eval`` images of every
evaluation split (``max_curve`` of each robustness-curve split). The evaluate stage compares
the CNN with it on exactly these images (their indices are stored).

Both classifiers are fitted on the train subset; the segmentation threshold of each is chosen
among ``detect_sigma`` by its accuracy on the validation subset (never on a test split), and the
evaluate stage takes the classifier with the better validation accuracy as *the* baseline.
Writes ``<out>/predictions.npz`` (``<classifier>__<split>`` probabilities and ``index__<split>``,
the rows of the prepared split they belong to), ``features.npz`` and ``baseline.json``.

    python -m projects.galaxy_morphology.baseline --params projects/galaxy_morphology/params.yaml \
        --data data/galaxy_morphology/prepared --out data/galaxy_morphology/baseline
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.galaxy_morphology.dataset import load_split, read_manifest
from projects.galaxy_morphology.morphology import FEATURES, feature_matrix
from shared.config import load_section
from shared.io import atomic_dir, save_npz, write_json
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineConfig:
    """The ``baseline`` section: statmorph features, the subsets they are measured on, the two classifiers.

    Raises:
        ValueError: ``detect_sigma`` is empty or has a threshold ≤ 0; ``max_train``, ``max_val``, ``max_eval`` or
            ``max_curve`` < 1.
    """

    random_forest_trees: int = 300
    #: candidate segmentation thresholds (noise units); each classifier keeps the best on the val split
    detect_sigma: tuple[float, ...] = (2.0,)
    #: images per split that statmorph measures (stratified random subsets; statmorph costs ~0.25 s each)
    max_train: int = 800
    max_val: int = 240
    max_eval: int = 400
    max_curve: int = 100
    seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.detect_sigma or min(self.detect_sigma) <= 0:
            raise ValueError("detect_sigma needs at least one positive threshold")
        if min(self.max_train, self.max_val, self.max_eval, self.max_curve) < 1:
            raise ValueError("max_train, max_val, max_eval and max_curve must be ≥ 1")


def subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of at most ``size`` of ``labels``."""
    labels = np.asarray(labels)
    if size >= labels.size:
        return np.arange(labels.size)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / labels.size * size).astype(int)
    for k in np.argsort(-(counts / labels.size * size - quota))[: size - quota.sum()]:
        quota[k] += 1
    picked = [rng.choice(np.flatnonzero(labels == c), q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def classifiers(cfg: BaselineConfig) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {"logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0)),
            "random_forest": RandomForestClassifier(n_estimators=cfg.random_forest_trees, min_samples_leaf=2,
                                                    n_jobs=cfg.workers, random_state=cfg.seed)}


def run_baseline(cfg: BaselineConfig, prepared: Path, out: Path) -> dict:
    """Features, fits and predictions of both classifiers; returns the accuracy summary per split.

    Raises:
        DataError: the prepared manifest or a split is missing or broken (see :func:`load_split`).
    """
    manifest = read_manifest(prepared)
    n_classes = len(manifest["classes"])
    splits = list(manifest["counts"])
    index, data = {}, {}
    for k, split in enumerate(splits):
        x, y, _, noise = load_split(prepared, split, with_noise=True)
        size = {"train": cfg.max_train, "val": cfg.max_val}.get(
            split, cfg.max_curve if split.startswith("curve_") else cfg.max_eval)
        index[split] = subset(y, size, cfg.seed + k)
        data[split] = (x[index[split]], y[index[split]], noise[index[split]])
    labels = {split: data[split][1] for split in splits}
    feats: dict[float, dict[str, np.ndarray]] = {}
    timing: dict[str, float] = {}
    for sigma in cfg.detect_sigma:
        start = time.perf_counter()
        feats[sigma] = {s: feature_matrix(data[s][0], data[s][2], sigma, cfg.workers) for s in splits}
        timing[f"features_{sigma:g}sigma_s"] = time.perf_counter() - start
        log.info("statmorph features at %g sigma of %d images in %.1f s", sigma,
                 sum(len(v) for v in labels.values()), timing[f"features_{sigma:g}sigma_s"])
    predictions: dict[str, np.ndarray] = {f"index__{s}": index[s] for s in splits}
    summary: dict[str, dict] = {}
    for name in classifiers(cfg):
        best = None
        for sigma in cfg.detect_sigma:  # the threshold is chosen on the validation split, never on test
            clf = classifiers(cfg)[name]
            start = time.perf_counter()
            clf.fit(feats[sigma]["train"], labels["train"])
            val = float(np.mean(clf.predict(feats[sigma]["val"]) == labels["val"]))
            log.info("%s at %g sigma: val accuracy %.4f", name, sigma, val)
            if best is None or val > best[0]:
                best = (val, sigma, clf, time.perf_counter() - start)
        val, sigma, clf, fit_time = best
        timing[f"fit_{name}_s"] = fit_time
        for split in splits:
            proba = np.zeros((len(labels[split]), n_classes))
            proba[:, clf.classes_] = clf.predict_proba(feats[sigma][split])
            predictions[f"{name}__{split}"] = proba
        summary[name] = {"detect_sigma": sigma, **{s: float(np.mean(predictions[f"{name}__{s}"].argmax(1)
                                                                        == labels[s])) for s in splits}}
        log.info("%s (%g sigma) accuracy: %s", name, sigma, {k: round(v, 4) for k, v in summary[name].items()})
    chosen = summary["random_forest"]["detect_sigma"]
    with atomic_dir(out) as tmp:
        save_npz(tmp / "predictions.npz", **predictions)
        save_npz(tmp / "features.npz", names=np.array(FEATURES), **{f"x__{s}": feats[chosen][s] for s in splits},
                 **{f"y__{s}": labels[s] for s in splits})
        write_json(tmp / "baseline.json", {"accuracy": summary, "timing": timing, "features": list(FEATURES),
                                           "images": {s: int(len(labels[s])) for s in splits}})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data",), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "baseline", BaselineConfig)
    run_baseline(cfg, Path(args.data), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
