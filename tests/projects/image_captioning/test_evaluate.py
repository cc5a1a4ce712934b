"""The evaluate stage on tiny prepared scenes, with stub captioners (the trained models are tested elsewhere)."""

import json

import numpy as np
import pytest

from projects.image_captioning import evaluate
from projects.image_captioning.data import DataConfig, ScenesConfig, build
from projects.image_captioning.dataset import load_prepared
from projects.image_captioning.metrics import CaptionScorer
from shared.metrics import validate_headline


class OracleStub:
    """Looks each image up in a table: beam > 1 returns its first reference, greedy a worse caption."""

    def __init__(self, images, splits, params=1234):
        self.table = {images[e["index"]].tobytes(): e["captions"] for s in splits.values() for e in s}
        self.num_params = params
        self.calls = []

    def caption(self, images, beam=1, max_len=None):
        self.calls.append((len(images), beam, max_len))
        out = []
        for img in images:
            refs = self.table[img.tobytes()]
            out.append(refs[0] if beam > 1 else " ".join(refs[0].split()[:2]))
        return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    build(DataConfig(size=32, scenes=ScenesConfig(count=40)), out)
    return out


def test_table_headline_targets_predictions(prepared, tmp_path):
    images, splits, meta = load_prepared(prepared)
    cfg = evaluate.EvaluateConfig(nn_k=(1, 3), batch_size=3, bootstrap_samples=100)
    stubs = {"transformer": OracleStub(images, splits), "lstm": OracleStub(images, splits, 99)}
    metrics = evaluate.evaluate(cfg, images, splits, meta, stubs, tmp_path, scorer=CaptionScorer(java=False))
    rows = ["frequent", "nearest_neighbour", "transformer_greedy", "transformer_beam3", "lstm_greedy", "lstm_beam3"]
    assert list(metrics["test"]) == rows
    assert metrics["test"]["lstm_beam3"]["parameters"] == 99 and metrics["test"]["frequent"]["parameters"] == 0
    assert metrics["test"]["transformer_beam3"]["captions_per_s"] > 0
    assert metrics["test"]["transformer_beam3"]["CIDEr-D"] > metrics["test"]["nearest_neighbour"]["CIDEr-D"]
    assert stubs["lstm"].calls and all(n <= 3 and m == cfg.max_len for n, _, m in stubs["lstm"].calls)
    head = validate_headline(metrics["headline"])
    assert head["model"] in ("transformer_beam3", "lstm_beam3") and head["metric"] == "CIDEr-D"  # chosen on val
    assert head["baseline"] == metrics["choices"]["baseline"] and head["significance"]["test"] == "paired bootstrap"
    bleu = head["also"][0]
    assert bleu["metric"].startswith("BLEU-4") and bleu["significance"]["test"] == "paired bootstrap"
    assert set(metrics["targets"]) == {"bleu4_margin_over_nn", "cider_d_margin_over_nn", "beam_minus_greedy_cider_d"}
    assert metrics["targets"]["beam_minus_greedy_cider_d"]["met"]
    assert metrics["choices"]["nn_k"] in (1, 3) and set(metrics["nn_k_val_cider_d"]) == {"1", "3"}
    assert "whitespace" in metrics["protocol"]["tokenisation"]
    written = json.loads((tmp_path / "metrics.json").read_text())
    validate_headline(written["headline"])
    preds = json.loads((tmp_path / "predictions.json").read_text())
    assert len(preds) == len(splits["test"]) and set(preds[0]["predictions"]) == set(rows)
    assert preds[0]["predictions"]["transformer_beam3"] == preds[0]["references"][0] and preds[0]["layout"]
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith("row,BLEU-1")
    by_layout = metrics["test_cider_d_by_layout"]["frequent"]
    assert all(np.isfinite(v) for v in by_layout.values())


def test_main_with_a_missing_decoder(prepared, tmp_path, tiny_params, monkeypatch):
    images, splits, _ = load_prepared(prepared)
    seen = {}

    def fake_load(model_dir, decoders):
        seen["decoders"] = tuple(decoders)
        return {"transformer": OracleStub(images, splits)}  # the lstm was not trained

    monkeypatch.setattr(evaluate, "load_captioners", fake_load)
    monkeypatch.setattr(evaluate, "CaptionScorer", lambda: CaptionScorer(java=False))
    params = tiny_params("image_captioning", {"evaluate": {"nn_k": [1], "bootstrap_samples": 50}})
    out = tmp_path / "results"
    assert evaluate.main(["--params", str(params), "--data", str(prepared), "--model", str(tmp_path / "model"),
                          "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert seen["decoders"] == ("transformer", "lstm") and "lstm_greedy" not in metrics["test"]
    assert metrics["targets"]["beam_minus_greedy_cider_d"]["worst_decoder"] == "transformer"


def test_load_captioners_skips_missing(tmp_path):
    assert evaluate.load_captioners(tmp_path, ["transformer", "lstm"]) == {}


def test_bad_config():
    with pytest.raises(ValueError):
        evaluate.EvaluateConfig(beam=1)
