"""Vocabulary, greedy and beam search, and the Captioner's save/load round trip (untrained tiny models)."""

import numpy as np
import pytest

from projects.image_captioning.decoding import (
    Captioner,
    encode_captions,
    fit_vocabulary,
    load_captioner,
    make_vectorizer,
)
from projects.image_captioning.model import EncoderConfig, LSTMConfig, ModelConfig, TransformerConfig, build_model
from projects.image_captioning.text import normalize
from shared.io import DataError

CAPTIONS = ["a red circle left of a blue square", "a green cat above a red car", "two red dogs next to a blue bus",
            "a red circle"]
TINY = ModelConfig(encoder=EncoderConfig(widths=(8, 16), dim=16),
                   transformer=TransformerConfig(dim=16, heads=2, layers=1, ff_dim=32),
                   lstm=LSTMConfig(embed_dim=16, units=16, attention_dim=8))


def test_vocabulary_and_vectorizer_round_trip():
    vocab = fit_vocabulary(CAPTIONS, min_count=2)
    assert vocab[:4] == ["", "[UNK]", "[start]", "[end]"]
    assert vocab[4:] == ["a", "red", "blue", "circle"]  # by count, then alphabetical; the rest is [UNK]
    vectorizer = make_vectorizer(vocab, 8)
    assert vectorizer.get_vocabulary() == vocab
    ids = encode_captions(vectorizer, ["a red circle", "a green circle"])
    assert ids.tolist() == [[2, 4, 5, 7, 3, 0, 0, 0], [2, 4, 1, 7, 3, 0, 0, 0]]
    # odd punctuation, case and Unicode: the same ids once normalised by text.normalize (as the data stage does)
    odd = normalize("  A  RED\u00a0Circle!!! ")
    assert encode_captions(vectorizer, [odd]).tolist() == ids[:1].tolist()
    assert encode_captions(vectorizer, ["a red red red red red red circle"])[0, -1] != 0  # cut, no [end]
    with pytest.raises(ValueError):
        fit_vocabulary(CAPTIONS, min_count=100)


@pytest.fixture(scope="module", params=["transformer", "lstm"])
def captioner(request):
    import keras

    keras.utils.set_random_seed(3)
    vocab = fit_vocabulary(CAPTIONS)
    model = build_model(TINY, request.param, 32, len(vocab), 9)
    # larger output weights than the default initialisation, so that the untrained model's captions vary
    dense = model.get_layer("decoder").out
    dense.kernel.assign(np.asarray(dense.kernel) * 25)
    return Captioner(model, vocab, {"decoder": request.param, "image_size": 32, "seq_len": 9})


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)


def test_beam_width_one_equals_greedy(captioner, images):
    greedy = captioner.greedy(images)
    beam = [b[0] for b in captioner.beam_search(images, beam=1)]
    assert len({g.text for g in greedy}) > 1  # the captions differ between images
    for g, b in zip(greedy, beam):
        assert g.text == b.text and g.tokens == b.tokens
        assert g.log_prob == pytest.approx(b.log_prob) and g.score == pytest.approx(b.score)
        np.testing.assert_allclose(g.attention, b.attention, atol=1e-6)
        assert g.attention.shape[1:] == (8, 8) and len(g.attention) >= len(g.tokens)
        np.testing.assert_allclose(g.attention.sum(axis=(1, 2)), 1.0, atol=1e-4)  # a distribution per word


def test_beam_search_ranks_and_bounds(captioner, images):
    results = captioner.beam_search(images, beam=3, max_len=5)
    for beams in results:
        assert 1 <= len(beams) <= 3
        scores = [b.score for b in beams]
        assert scores == sorted(scores, reverse=True)
        assert all(len(b.tokens) <= 5 for b in beams)
        assert not any(t in (0, 1, captioner.start_id, captioner.end_id) for b in beams for t in b.tokens)
    top = captioner.beams(images[:2], beam=3, max_len=5)
    assert [t for t, _ in top[0]] == [b.text for b in results[0]]
    assert captioner.caption(images, beam=3, max_len=5) == [b[0].text for b in results]


def test_save_and_load_caption_identically(captioner, images, tmp_path):
    captioner.save(tmp_path / "saved")
    loaded = load_captioner(tmp_path / "saved")
    assert loaded.vocabulary == captioner.vocabulary and loaded.num_params == captioner.num_params
    for beam in (1, 3):
        assert loaded.caption(images, beam=beam) == captioner.caption(images, beam=beam)
    for mine, theirs in zip(loaded.beams(images[:2]), captioner.beams(images[:2])):
        assert [t for t, _ in mine] == [t for t, _ in theirs]
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], abs=1e-5)


def test_bad_input(captioner, tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        captioner.caption(np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="beam"):
        captioner.beam_search(np.zeros((1, 32, 32, 3), np.uint8), beam=0)
    with pytest.raises(DataError, match="missing"):
        load_captioner(tmp_path / "nothing")
