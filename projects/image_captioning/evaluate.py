"""Stage ``evaluate``: baselines and both decoders (greedy and beam) on the fixed test split, with the field's
caption metrics; choices on validation only.

Rows of the table: ``frequent`` (the most frequent training caption), ``nearest_neighbour`` (consensus caption
of the k nearest training images, k chosen on val CIDEr-D; :mod:`projects.image_captioning.baselines`), and for
every decoder in ``evaluate.decoders`` whose model exists, ``<decoder>_greedy`` and ``<decoder>_beam<B>``
(``Captioner.caption(images, beam, max_len)`` of :mod:`projects.image_captioning.decoding`). Columns: BLEU-1..4,
sacreBLEU, METEOR, ROUGE-L (points), CIDEr-D, ``parameters`` (learned weights; 0 for the retrieval baselines,
which store the training features instead) and ``captions_per_s`` (test captions over the wall time that made them,
image features included for the nearest neighbour; one process, the machine's cores).

Choices, on val CIDEr-D only: the model row of the headline (best decoder × decoding) and the strongest baseline
(frequent or nearest neighbour). Headline: test CIDEr-D of that model against that baseline, with a paired
bootstrap CI over test images; BLEU-4 beside it. Targets (embedded set, issue 14): the chosen model at least
+5 BLEU-4 points and +0.2 CIDEr-D over the nearest neighbour; beam search no worse than greedy on CIDEr-D for
*every* decoder (the worst decoder is the value).

Outputs in ``--out``: ``metrics.json``; ``table.csv`` (the test table); ``predictions.json``: per test image
``{"index", "image", "references", "layout" (scenes), "predictions": {row: caption}, "cider_d": {row: score}}``
for the report.

    python -m projects.image_captioning.evaluate --params projects/image_captioning/params.yaml \
        --data data/image_captioning/prepared --model data/image_captioning/model \
        --out projects/image_captioning/results
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from projects.image_captioning.baselines import NearestNeighbourCaptioner, frequent_caption, image_features
from projects.image_captioning.dataset import load_prepared
from projects.image_captioning.metrics import METRICS, CaptionScorer, bleu_bootstrap, paired_bootstrap
from projects.image_captioning.text import normalize
from shared.config import load_section
from shared.io import write_csv, write_json
from shared.metrics import headline, write_metrics
from shared.stage import run, stage_parser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    decoders: tuple[str, ...] = ("transformer", "lstm")
    beam: int = 3
    max_len: int = 25
    nn_k: tuple[int, ...] = (1, 3, 5, 10, 20)
    nn_features: str = "colour_hog"
    #: 0: every training image is a candidate neighbour; else a seeded subset of this size
    nn_max_train: int = 0
    #: images per call of Captioner.caption
    batch_size: int = 100
    bootstrap_samples: int = 2000
    seed: int = 0
    #: METEOR on the test rows (a Java process that loads a 60 MB paraphrase table: 10-60 s); false leaves it null
    meteor: bool = True
    target_bleu4_margin: float = 5.0
    target_cider_margin: float = 0.2
    target_beam_vs_greedy: float = 0.0

    def __post_init__(self) -> None:
        if self.beam < 2:
            raise ValueError(f"beam must be at least 2 (the greedy row is beam 1), got {self.beam}")
        if not self.nn_k or min(self.nn_k) < 1:
            raise ValueError(f"nn_k must list k >= 1, got {self.nn_k}")
        if self.max_len < 1 or self.batch_size < 1:
            raise ValueError("max_len and batch_size must be positive")


class CaptionerLike(Protocol):
    """What evaluate needs of a trained model (:class:`projects.image_captioning.decoding.Captioner`)."""

    num_params: int

    def caption(self, images: np.ndarray, beam: int = 1, max_len: int | None = None) -> list[str]: ...


def load_captioners(model_dir: str | Path, decoders: Sequence[str]) -> dict[str, CaptionerLike]:
    """The trained captioners in ``model_dir/<decoder>``; a decoder without a saved model is skipped (logged)."""
    from projects.image_captioning.decoding import load_captioner

    out = {}
    for name in decoders:
        folder = Path(model_dir) / name
        if not folder.is_dir():
            log.warning("no %s model in %s: its rows are left out", name, folder)
            continue
        out[name] = load_captioner(folder)
    return out


def _decode(captioner: CaptionerLike, images: np.ndarray, beam: int, cfg: EvaluateConfig) -> tuple[list[str], float]:
    start = time.perf_counter()
    texts: list[str] = []
    for lo in range(0, len(images), cfg.batch_size):
        texts += captioner.caption(images[lo:lo + cfg.batch_size], beam=beam, max_len=cfg.max_len)
    return [normalize(t) for t in texts], time.perf_counter() - start


def evaluate(cfg: EvaluateConfig, images: np.ndarray, splits: Mapping[str, list[dict]], meta: Mapping[str, Any],
             captioners: Mapping[str, CaptionerLike], out: Path, scorer: CaptionScorer | None = None) -> dict:
    """Run the whole evaluation and write ``out``; returns the metrics.

    Raises:
        ValueError: a split is empty.
    """
    train, val, test = splits["train"], splits["val"], splits["test"]
    if not (train and val and test):
        raise ValueError("train, val and test must all hold images")
    refs = {"val": [e["captions"] for e in val], "test": [e["captions"] for e in test]}
    pixels = {k: images[[e["index"] for e in v]] for k, v in (("val", val), ("test", test))}
    hyps: dict[str, dict[str, list[str]]] = {"val": {}, "test": {}}
    extra: dict[str, dict[str, Any]] = {}

    # ---- baselines
    start = time.perf_counter()
    frequent = frequent_caption([e["captions"] for e in train])
    hyps["val"]["frequent"] = [frequent] * len(val)
    hyps["test"]["frequent"] = [frequent] * len(test)
    extra["frequent"] = {"parameters": 0, "captions_per_s": None}
    cand = train
    if cfg.nn_max_train and len(train) > cfg.nn_max_train:
        pick = np.sort(np.random.default_rng(cfg.seed).choice(len(train), cfg.nn_max_train, replace=False))
        cand = [train[i] for i in pick]
    train_features = image_features(images[[e["index"] for e in cand]], cfg.nn_features)
    nn = NearestNeighbourCaptioner(train_features, [e["captions"] for e in cand])
    log.info("baseline features of %d training images: %.1f s", len(cand), time.perf_counter() - start)
    by_k = nn.caption_all(image_features(pixels["val"], cfg.nn_features), list(cfg.nn_k))

    with (scorer or CaptionScorer()) as scorer:
        scorer.prepare([c for r in refs.values() for refs_ in r for c in refs_] +
                       [c for caps in by_k.values() for c in caps] + [frequent])
        nn_val = {k: scorer.score(caps, refs["val"], meteor=False).corpus["CIDEr-D"] for k, caps in by_k.items()}
        best_k = max(cfg.nn_k, key=lambda k: (nn_val[k], -k))
        log.info("nearest neighbour: val CIDEr-D by k %s, k = %d chosen", nn_val, best_k)
        hyps["val"]["nearest_neighbour"] = by_k[best_k]
        start = time.perf_counter()
        hyps["test"]["nearest_neighbour"] = nn.caption_all(image_features(pixels["test"], cfg.nn_features),
                                                           [best_k])[best_k]
        extra["nearest_neighbour"] = {"parameters": 0,
                                      "captions_per_s": len(test) / (time.perf_counter() - start)}

        # ---- models
        for name, captioner in captioners.items():
            for beam in (1, cfg.beam):
                row = f"{name}_greedy" if beam == 1 else f"{name}_beam{beam}"
                hyps["val"][row], _ = _decode(captioner, pixels["val"], beam, cfg)
                hyps["test"][row], seconds = _decode(captioner, pixels["test"], beam, cfg)
                extra[row] = {"parameters": int(captioner.num_params), "captions_per_s": len(test) / seconds}
                log.info("%s: %.1f captions/s", row, len(test) / seconds)

        scorer.prepare([c for split in hyps.values() for caps in split.values() for c in caps])
        val_scores = {row: scorer.score(caps, refs["val"], meteor=False) for row, caps in hyps["val"].items()}
        test_scores = {row: scorer.score(caps, refs["test"], meteor=cfg.meteor)
                       for row, caps in hyps["test"].items()}
        tokenisation = scorer.tokenisation

    table = {row: {**s.corpus, **extra[row]} for row, s in test_scores.items()}
    val_table = {row: {"BLEU-4": s.corpus["BLEU-4"], "CIDEr-D": s.corpus["CIDEr-D"]} for row, s in val_scores.items()}
    baselines = ("frequent", "nearest_neighbour")
    models = [r for r in hyps["test"] if r not in baselines]
    base_row = max(baselines, key=lambda r: val_table[r]["CIDEr-D"])
    model_row = max(models, key=lambda r: val_table[r]["CIDEr-D"]) if models else None

    data_name = _data_name(meta, len(test))
    metrics: dict[str, Any] = {}
    targets: dict[str, dict] = {}
    cider = {row: s.per_image["CIDEr-D"] for row, s in test_scores.items()}
    if model_row is not None:
        sig = paired_bootstrap(cider[model_row], cider[base_row], samples=cfg.bootstrap_samples, seed=cfg.seed)
        rule = "best val CIDEr-D of the most frequent caption and the nearest neighbour (k on val)"
        bleu = headline(metric="BLEU-4 (coco-caption, points)", data=data_name, model=model_row,
                        model_value=table[model_row]["BLEU-4"], baseline=base_row,
                        baseline_value=table[base_row]["BLEU-4"], higher_is_better=True, baseline_rule=rule,
                        significance=bleu_bootstrap(hyps["test"][model_row], hyps["test"][base_row], refs["test"],
                                                    samples=cfg.bootstrap_samples, seed=cfg.seed))
        metrics["headline"] = headline(
            metric="CIDEr-D", data=data_name, model=model_row, model_value=table[model_row]["CIDEr-D"],
            baseline=base_row, baseline_value=table[base_row]["CIDEr-D"], higher_is_better=True,
            baseline_rule=rule, significance=sig, also=[bleu])

        def target(key: str, value: float, limit: float) -> None:
            targets[key] = {"value": value, "target": limit, "met": bool(value >= limit)}

        nn_row = "nearest_neighbour"
        target("bleu4_margin_over_nn", table[model_row]["BLEU-4"] - table[nn_row]["BLEU-4"], cfg.target_bleu4_margin)
        target("cider_d_margin_over_nn", table[model_row]["CIDEr-D"] - table[nn_row]["CIDEr-D"],
               cfg.target_cider_margin)
        gains = {name: table[f"{name}_beam{cfg.beam}"]["CIDEr-D"] - table[f"{name}_greedy"]["CIDEr-D"]
                 for name in captioners}
        worst = min(gains, key=gains.get)
        target("beam_minus_greedy_cider_d", gains[worst], cfg.target_beam_vs_greedy)
        targets["beam_minus_greedy_cider_d"]["worst_decoder"] = worst
        metrics["targets"] = targets
        metrics["beam_minus_greedy_cider_d"] = gains
        metrics["margin_over_nn"] = {row: {"BLEU-4": table[row]["BLEU-4"] - table[nn_row]["BLEU-4"],
                                           "CIDEr-D": table[row]["CIDEr-D"] - table[nn_row]["CIDEr-D"]}
                                     for row in models}
    else:
        log.warning("no trained model found: the table holds the baselines only, and there is no headline")
    metrics["test"] = table
    metrics["val"] = val_table
    metrics["nn_k_val_cider_d"] = {str(k): v for k, v in nn_val.items()}
    metrics["choices"] = {"model": model_row, "baseline": base_row, "nn_k": best_k, "beam": cfg.beam,
                          "max_len": cfg.max_len, "rule": "val CIDEr-D (never test)"}
    layouts = [e.get("layout") for e in test]
    if all(layouts):
        metrics["test_cider_d_by_layout"] = {
            row: {lay: float(np.mean(cider[row][[i for i, x in enumerate(layouts) if x == lay]]))
                  for lay in sorted(set(layouts))} for row in table}
    metrics["protocol"] = {
        "data": data_name, "split_rule": meta.get("split_rule"), "test_images": len(test), "val_images": len(val),
        "train_images": len(train), "tokenisation": tokenisation,
        "sacrebleu_signature": next(iter(test_scores.values())).sacrebleu_signature,
        "cider_d": "pycocoevalcap Cider = CIDEr-D (clipping, Gaussian length penalty sigma 6, x10; IDF from the "
                   "scored split's references)",
        "scale": "BLEU, sacreBLEU, METEOR, ROUGE-L in points (x100); CIDEr-D on its own scale",
    }

    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "metrics.json", metrics)
    write_csv(out / "table.csv", [{"row": row, **{k: v[k] for k in (*METRICS, "parameters", "captions_per_s")}}
                                  for row, v in table.items()], float_format="%.6g")
    predictions = []
    for i, entry in enumerate(test):
        item = {"index": entry["index"], "image": entry["image"], "references": entry["captions"],
                "predictions": {row: hyps["test"][row][i] for row in table},
                "cider_d": {row: round(float(cider[row][i]), 5) for row in table}}
        if entry.get("layout"):
            item["layout"] = entry["layout"]
        predictions.append(item)
    write_json(out / "predictions.json", predictions)
    return metrics


def _data_name(meta: Mapping[str, Any], n_test: int) -> str:
    source = meta.get("source", "?")
    name = {"scenes": "embedded procedural scenes", "flickr8k": "Flickr8k", "coco": "COCO captions"}.get(source,
                                                                                                        source)
    return f"{name}, test split ({n_test} images, {meta.get('size', '?')} px)"


def main(argv: Sequence[str] | None = None) -> int:
    args = stage_parser(__doc__, inputs=("data", "model"), outputs=("out",)).parse_args(argv)
    cfg = load_section(args.params, "evaluate", EvaluateConfig)
    images, splits, meta = load_prepared(args.data)
    captioners = load_captioners(args.model, cfg.decoders)
    metrics = evaluate(cfg, images, splits, meta, captioners, Path(args.out))
    if "headline" in metrics:
        h = metrics["headline"]
        log.info("headline: %s %s = %.3f vs %s = %.3f (%s)", h["metric"], h["model"], h["model_value"],
                 h["baseline"], h["baseline_value"], h["verdict"])
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
