"""Caption metrics of the field: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D by the coco-caption code (pycocoevalcap),
and corpus BLEU by sacrebleu with its signature.

Tokenisation (stated in every ``metrics.json``): every caption, reference or generated, first goes through
:func:`projects.image_captioning.text.normalize` (the data stage stores normalised references; generated text is
normalised again here, which changes nothing for a model's output), then through coco-caption's PTBTokenizer
(Stanford CoreNLP 3.4.1 ``PTBTokenizer -preserveLines -lowerCase``, punctuation tokens dropped), run in one Java
call per batch of new captions. sacrebleu scores the normalised text with its own ``13a`` tokeniser; on normalised
text (letters, digits and single spaces) both tokenisations split at the spaces.

Definitions (sources: Papineni et al. 2002; Banerjee & Lavie 2005 / METEOR 1.5, Denkowski & Lavie 2014; Lin 2004;
Vedantam et al. 2015; Chen et al. 2015, "Microsoft COCO Captions: data collection and evaluation server"):

- **BLEU-n** (coco-caption ``Bleu``): corpus-level, clipped n-gram precisions against all references of an image
  pooled, geometric mean of orders 1..n, brevity penalty against the *closest* reference length. Reported in
  points (×100), as papers do (Show, Attend and Tell: BLEU-4 19.5 on Flickr8k).
- **sacreBLEU**: ``sacrebleu.corpus_bleu`` with the default signature (13a, exp smoothing, closest length); a
  different number of references per image is padded with ``None``. Points.
- **METEOR** 1.5 (``-l en -norm``, the coco-caption jar): unigram matching with stems, synonyms and paraphrases,
  mean of the per-image scores (as coco-caption reports it). Points.
- **ROUGE-L** (coco-caption ``Rouge``, β = 1.2): LCS-based F-measure against the best reference. Points.
- **CIDEr-D**: pycocoevalcap's ``Cider`` *is* CIDEr-D (verified in its ``cider_scorer.py`` and by the tests): TF-IDF
  n-gram vectors (n = 1..4, IDF from the references of the scored set), the hypothesis' TF-IDF values **clipped**
  at the reference's, a **Gaussian length penalty** exp(-Δ²/(2·6²)), averaged over references and orders, ×10.
  One quirk of that code is kept as is: the "length" is the number of bigrams, so a one-word sentence counts
  as length 0. Reported on its own scale (not ×100). An empty hypothesis scores 0.

Scores of several systems on the same images are comparable; the IDF of CIDEr-D comes from the scored images'
references, so a CIDEr-D on val and one on test are not on exactly the same scale.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from projects.image_captioning.text import normalize

log = logging.getLogger(__name__)

__all__ = ["METRICS", "Scores", "CaptionScorer", "paired_bootstrap", "bleu_bootstrap", "sacrebleu_corpus",
           "java_available"]

#: the metric names of a score table, in order
METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "sacreBLEU", "METEOR", "ROUGE-L", "CIDEr-D")
#: PTBTokenizer's punctuation tokens that coco-caption drops
_PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...",
                ";"}


class MetricsError(RuntimeError):
    """A metric's external tool (Java) failed."""


def java_available() -> bool:
    """Whether a ``java`` executable is on the PATH (PTBTokenizer and METEOR need it)."""
    return shutil.which("java") is not None


def _pycocoevalcap_dir() -> Path:
    from pycocoevalcap.tokenizer import ptbtokenizer  # pycocoevalcap is a namespace package (no __file__)

    return Path(ptbtokenizer.__file__).resolve().parents[1]


@dataclass(frozen=True)
class Scores:
    """Corpus scores (``corpus``: metric name → value, see :data:`METRICS`; BLEU/METEOR/ROUGE-L in points) and
    per-image scores (``per_image``: metric name → array (N,), same scale) of one system on N images."""

    corpus: dict[str, float | None]
    per_image: dict[str, np.ndarray]
    sacrebleu_signature: str


def sacrebleu_corpus(hypotheses: Sequence[str], references: Sequence[Sequence[str]], **options) -> tuple[float, str]:
    """Corpus BLEU by sacrebleu: ``(score in points, signature)``.

    ``references[i]`` are the references of hypothesis ``i`` (any number ≥ 1; padded with ``None``). ``options`` go
    to ``sacrebleu.metrics.BLEU`` (e.g. ``tokenize="none"``, ``smooth_method="none"``).

    Raises:
        ValueError: the lengths differ or an image has no reference.
    """
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if any(len(r) == 0 for r in references):
        raise ValueError("every hypothesis needs at least one reference")
    depth = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(depth)]
    bleu = BLEU(**options)
    result = bleu.corpus_score(list(hypotheses), streams)
    return float(result.score), str(bleu.get_signature())


class CaptionScorer:
    """Scores captions with coco-caption's metrics; PTB tokenisation cached, one METEOR process reused.

    Use as a context manager (the METEOR process is closed on exit)::

        with CaptionScorer() as scorer:
            scorer.prepare(all_texts)          # optional: one Java call for everything
            scores = scorer.score(hypotheses, references)

    Args:
        java: use Java (PTBTokenizer, METEOR). ``None``: when a ``java`` executable is found. Without Java the
            tokenisation is the whitespace split of the normalised text and METEOR is ``None`` (logged; the
            ``tokenisation`` attribute says which was used).

    Raises:
        MetricsError: ``java=True`` but no ``java`` is on the PATH.
    """

    def __init__(self, java: bool | None = None):
        self.java = java_available() if java is None else java
        if self.java and not java_available():
            raise MetricsError("Java is needed for PTBTokenizer and METEOR (install a JRE, e.g. openjdk-17-jre)")
        if not self.java:
            log.warning("no Java: whitespace tokenisation instead of PTBTokenizer, and no METEOR")
        self._tokens: dict[str, str] = {}
        self._meteor = None

    @property
    def tokenisation(self) -> str:
        base = "projects.image_captioning.text.normalize, then "
        if self.java:
            return base + ("coco-caption PTBTokenizer (Stanford CoreNLP 3.4.1, -preserveLines -lowerCase, "
                           "punctuation dropped); sacreBLEU: its 13a tokeniser on the normalised text")
        return base + "a whitespace split (no Java: PTBTokenizer unavailable); sacreBLEU: 13a on the normalised text"

    def __enter__(self) -> CaptionScorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._meteor is not None:
            with contextlib.suppress(Exception):
                self._meteor.meteor_p.stdin.close()
                self._meteor.meteor_p.kill()
                self._meteor.meteor_p.wait(timeout=10)
            self._meteor = None

    # ------------------------------------------------------------------------------------------ tokenisation
    def prepare(self, texts: Iterable[str]) -> None:
        """Tokenise every not yet seen (normalised) text in one Java call.

        Raises:
            MetricsError: the tokenizer failed or returned a different number of lines.
        """
        new = sorted({normalize(t) for t in texts} - set(self._tokens))
        empty = [t for t in new if not t]
        for t in empty:
            self._tokens[t] = ""
        new = [t for t in new if t]
        if not new:
            return
        if not self.java:
            self._tokens.update({t: t for t in new})
            return
        cmd = ["java", "-cp", "stanford-corenlp-3.4.1.jar", "edu.stanford.nlp.process.PTBTokenizer",
               "-preserveLines", "-lowerCase"]
        folder = _pycocoevalcap_dir() / "tokenizer"
        proc = subprocess.run(cmd, cwd=folder, input="\n".join(new) + "\n", capture_output=True, text=True,
                              encoding="utf-8")
        lines = proc.stdout.split("\n")
        if proc.returncode != 0 or len(lines) < len(new):
            raise MetricsError(f"PTBTokenizer failed (exit {proc.returncode}, {len(lines)} lines for {len(new)} "
                               f"captions): {proc.stderr.strip()[-300:]}")
        for text, line in zip(new, lines):
            self._tokens[text] = " ".join(w for w in line.strip().split(" ") if w and w not in _PUNCTUATION)

    def tokenize(self, text: str) -> str:
        """The tokenised form of one caption (normalised, then PTB), as the coco-caption metrics see it."""
        key = normalize(text)
        if key not in self._tokens:
            self.prepare([key])
        return self._tokens[key]

    # ------------------------------------------------------------------------------------------ scoring
    def _meteor_scorer(self):
        if self._meteor is None:
            from pycocoevalcap.meteor.meteor import Meteor

            self._meteor = Meteor()
        return self._meteor

    def score(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]], *,
              meteor: bool = True) -> Scores:
        """Score ``hypotheses[i]`` against ``references[i]`` for every image ``i``.

        Args:
            hypotheses: N generated captions (any text; normalised here).
            references: N lists of reference captions (≥ 1 each).
            meteor: compute METEOR (a Java process; ``None`` in the result when False or without Java).

        Returns:
            :class:`Scores`: corpus values (BLEU/METEOR/ROUGE-L in points, CIDEr-D on its scale) and per-image ones.

        Raises:
            ValueError: the lengths differ, N = 0, or an image has no reference.
            MetricsError: the tokenizer failed.
        """
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge

        if len(hypotheses) != len(references) or not hypotheses:
            raise ValueError(f"need as many reference lists as hypotheses (> 0), got {len(hypotheses)} and "
                             f"{len(references)}")
        if any(len(r) == 0 for r in references):
            raise ValueError("every image needs at least one reference caption")
        self.prepare([*hypotheses, *(r for refs in references for r in refs)])
        res = {i: [self.tokenize(h)] for i, h in enumerate(hypotheses)}
        gts = {i: [self.tokenize(r) for r in refs] for i, refs in enumerate(references)}
        with contextlib.redirect_stdout(io.StringIO()):  # coco-caption's Bleu prints its statistics
            bleu, bleu_each = Bleu(4).compute_score(gts, res)
        rouge, rouge_each = Rouge().compute_score(gts, res)
        cider, cider_each = Cider().compute_score(gts, res)
        corpus: dict[str, float | None] = {f"BLEU-{n + 1}": 100.0 * float(bleu[n]) for n in range(4)}
        per_image = {f"BLEU-{n + 1}": 100.0 * np.asarray(bleu_each[n], float) for n in range(4)}
        normalised_h = [normalize(h) for h in hypotheses]
        normalised_r = [[normalize(r) for r in refs] for refs in references]
        corpus["sacreBLEU"], signature = sacrebleu_corpus(normalised_h, normalised_r)
        corpus["METEOR"] = None
        if meteor and self.java:
            value, each = self._meteor_scorer().compute_score(gts, res)
            corpus["METEOR"] = 100.0 * float(value)
            per_image["METEOR"] = 100.0 * np.asarray(each, float)
        corpus["ROUGE-L"] = 100.0 * float(rouge)
        per_image["ROUGE-L"] = 100.0 * np.asarray(rouge_each, float)
        corpus["CIDEr-D"] = float(cider)
        per_image["CIDEr-D"] = np.asarray(cider_each, float)
        return Scores(corpus={k: corpus[k] for k in METRICS}, per_image=per_image, sacrebleu_signature=signature)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, samples: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
    """Percentile bootstrap CI of mean(a − b) over paired per-image scores (images resampled with replacement).

    For CIDEr-D the IDF stays that of the full set (an approximation the field uses for per-image CIs).

    Returns:
        ``{"test": "paired bootstrap", "difference", "low", "high", "samples"}``.

    Raises:
        ValueError: the arrays differ in length or are empty.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired scores need equal, non-empty shapes, got {a.shape} and {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, (samples, diff.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return {"test": "paired bootstrap", "difference": float(diff.mean()), "low": float(np.percentile(means, tail)),
            "high": float(np.percentile(means, 100 - tail)), "samples": samples}


def bleu_bootstrap(hyps_a: Sequence[str], hyps_b: Sequence[str], references: Sequence[Sequence[str]], *,
                   samples: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """Paired bootstrap CI of corpus BLEU-4(a) − BLEU-4(b) in points (Koehn 2004): images resampled with
    replacement, corpus BLEU recomputed from the resampled sufficient statistics (sacrebleu's per-sentence n-gram
    counts, 13a tokens, closest reference length, no smoothing: on normalised text the coco-caption definition).

    Returns:
        ``{"test": "paired bootstrap", "difference", "low", "high", "samples"}``.

    Raises:
        ValueError: the lengths differ or are zero, or an image has no reference.
    """
    from sacrebleu.metrics import BLEU

    if not (len(hyps_a) == len(hyps_b) == len(references)) or not references:
        raise ValueError("need equal, non-zero numbers of hypotheses and reference lists")
    depth = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(depth)]
    bleu = BLEU(smooth_method="none")
    stats = [np.asarray(bleu._extract_corpus_statistics([normalize(h) for h in hyps], streams), float)
             for hyps in (hyps_a, hyps_b)]

    def corpus(summed: np.ndarray) -> np.ndarray:  # (..., 2 + 8) → BLEU-4 in points
        hyp_len, ref_len = summed[..., 0], summed[..., 1]
        correct, total = summed[..., 2:6], summed[..., 6:10]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p = np.where(correct > 0, np.log(np.maximum(correct, 1e-300) / np.maximum(total, 1e-300)), -np.inf)
            bp = np.where(hyp_len > 0, np.minimum(0.0, 1.0 - ref_len / np.maximum(hyp_len, 1e-300)), -np.inf)
        return 100.0 * np.exp(log_p.mean(-1) + bp)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(references), (samples, len(references)))
    diffs = corpus(stats[0][idx].sum(1)) - corpus(stats[1][idx].sum(1))
    tail = (1 - level) / 2 * 100
    return {"test": "paired bootstrap", "difference": float(corpus(stats[0].sum(0)) - corpus(stats[1].sum(0))),
            "low": float(np.percentile(diffs, tail)), "high": float(np.percentile(diffs, 100 - tail)),
            "samples": samples}


def table_row(scores: Scores, extra: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """One row of the metrics table: the corpus scores plus ``extra`` columns (parameters, captions / s)."""
    return {**scores.corpus, **(extra or {})}
