"""Caption metrics: coco-caption BLEU on a hand-computed example, agreement with sacrebleu, CIDEr-D, METEOR."""

import math

import numpy as np
import pytest

from projects.image_captioning.metrics import (
    METRICS,
    CaptionScorer,
    java_available,
    paired_bootstrap,
    sacrebleu_corpus,
)
from projects.image_captioning.text import normalize

needs_java = pytest.mark.skipif(not java_available(), reason="PTBTokenizer and METEOR need Java")


@pytest.fixture(scope="module")
def scorer():
    with CaptionScorer() as s:
        yield s


def test_bleu_hand_computed(scorer):
    # hypothesis "the cat sat on the mat", reference "the cat is on the mat" (both 6 words: brevity penalty 1)
    # clipped precisions: 1-grams 5/6, 2-grams 3/5 (the cat, on the, the mat), 3-grams 1/4 (on the mat), 4-grams 0/3
    got = scorer.score(["The cat sat on the mat."], [["the cat is on the mat"]], meteor=False).corpus
    assert got["BLEU-1"] == pytest.approx(100 * 5 / 6, rel=1e-6)
    assert got["BLEU-2"] == pytest.approx(100 * math.sqrt(5 / 6 * 3 / 5), rel=1e-6)
    assert got["BLEU-3"] == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3), rel=1e-6)
    assert got["BLEU-4"] < 0.05  # no 4-gram match: coco-caption's 1e-15 floor instead of a log of 0


def test_bleu_identical_to_sacrebleu_where_definitions_agree(scorer):
    # several references, a brevity penalty (the first hypothesis is shorter than its closest reference), every order
    # with matches: coco-caption's corpus BLEU and sacrebleu without smoothing on the same tokens agree
    hyps = ["a red car on the grass", "two blue cats sit on a wall", "a small dog next to a yellow bus"]
    refs = [["a red car on the green grass", "there is a red car"],
            ["two blue cats sit on a grey wall", "a pair of blue cats"],
            ["a small dog next to a bus", "a little puppy beside a yellow bus"]]
    coco = scorer.score(hyps, refs, meteor=False).corpus["BLEU-4"]
    sacre, signature = sacrebleu_corpus(hyps, refs, tokenize="none", smooth_method="none")
    assert coco == pytest.approx(sacre, rel=1e-6)
    assert "tok:none" in signature and "smooth:none" in signature


@needs_java
def test_cider_d_zero_for_empty_and_rewards_the_right_caption(scorer):
    refs = [["a red car on the grass", "a big red car", "there is a red automobile"],
            ["two blue cats", "a pair of blue kittens", "two cats at night"],
            ["a dog next to a bus", "a puppy beside a yellow bus"]]
    empty = scorer.score(["", "two blue cats", "a dog"], refs, meteor=False)
    assert empty.per_image["CIDEr-D"][0] == 0.0 and empty.per_image["BLEU-4"][0] == 0.0
    right = scorer.score(["a red car", "two blue cats", "a dog next to a bus"], refs, meteor=False)
    swapped = scorer.score(["two blue cats", "a red car", "a dog next to a bus"], refs, meteor=False)
    assert right.corpus["CIDEr-D"] > swapped.corpus["CIDEr-D"] + 1.0


@needs_java
def test_cider_d_clips_and_penalises_length_hand_computed(scorer):
    # CIDEr-D, not plain CIDEr. Two images, references "a red car" / "two blue cats": every n-gram has IDF log 2.
    # Hypothesis "a red car a red car" for image 0: the TF-IDF values are clipped at the reference's, so the cosines
    # are 3/6 (1-grams), 2/(3*sqrt 2) (2-grams), 1/sqrt 6 (3-grams), 0 (4-grams: none in the reference), and the
    # Gaussian penalty exp(-3^2 / (2 * 6^2)) applies (5 vs 2 bigrams: coco-caption's length). Plain CIDEr would give
    # cosines 1, 0.943, 0.816, 0 and no penalty (6.90 instead of 3.04).
    got = scorer.score(["a red car a red car", "two blue cats"], [["a red car"], ["two blue cats"]],
                       meteor=False).per_image["CIDEr-D"]
    expected = 10 * np.mean([0.5, 2 / (3 * math.sqrt(2)), 1 / math.sqrt(6), 0.0]) * math.exp(-9 / 72)
    assert got[0] == pytest.approx(expected, rel=1e-9)
    assert got[1] == pytest.approx(10 * 0.75)  # exact match of a 3-word reference: cosines 1, 1, 1, 0


def test_normalisation_is_the_one_of_training(scorer):
    odd = "  A RED\u00a0Car \u2014 on the \u201cgrass\u201d!!"
    got = scorer.score([odd], [[normalize(odd)]], meteor=False).corpus
    assert got["BLEU-4"] == pytest.approx(100.0) and scorer.tokenize(odd) == "a red car on the grass"


def test_without_java_whitespace_tokens_and_no_meteor():
    with CaptionScorer(java=False) as s:
        got = s.score(["a red car", "a cat"], [["a red car"], ["a cat on a mat"]])
    assert got.corpus["METEOR"] is None and got.corpus["BLEU-1"] > 0 and list(got.corpus) == list(METRICS)
    assert "whitespace" in s.tokenisation


@pytest.mark.slow
@needs_java
def test_meteor_runs(scorer):
    got = scorer.score(["a red car on the grass", ""], [["a red car on the grass"], ["two cats"]])
    assert got.per_image["METEOR"][0] > 90 and got.per_image["METEOR"][1] == 0.0


def test_paired_bootstrap():
    a, b = np.arange(50, dtype=float), np.arange(50, dtype=float) - 1.0
    ci = paired_bootstrap(a, b, samples=200)
    assert ci["low"] == ci["high"] == ci["difference"] == 1.0 and ci["test"] == "paired bootstrap"
    noisy = paired_bootstrap(np.random.default_rng(0).normal(0, 1, 200), np.zeros(200), samples=500)
    assert noisy["low"] < noisy["difference"] < noisy["high"]
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_bleu_bootstrap_matches_corpus_bleu():
    from projects.image_captioning.metrics import bleu_bootstrap

    refs = [["a red car on the green grass", "there is a red car"], ["two blue cats sit on a grey wall"],
            ["a small dog next to a bus", "a little puppy beside a yellow bus"]]
    good = ["a red car on the grass", "two blue cats sit on a wall", "a small dog next to a yellow bus"]
    bad = ["a car", "two cats", "a dog"]
    ci = bleu_bootstrap(good, bad, refs, samples=300)
    a, _ = sacrebleu_corpus(good, refs, tokenize="none", smooth_method="none")
    b, _ = sacrebleu_corpus(bad, refs, tokenize="none", smooth_method="none")
    assert ci["difference"] == pytest.approx(a - b, rel=1e-6) and ci["low"] <= ci["difference"] <= ci["high"]
