"""The calibrate and evaluate stages end to end on tiny data, with a stub predictor in place of the CNN."""

import json

import numpy as np
import pytest

import projects.cartoon_characters.evaluate as evaluate_stage
from projects.cartoon_characters.calibrate import main as calibrate_main
from shared.metrics import validate_headline

from .conftest import CHARACTERS, COLOURS, write_prepared

TINY = {"calibrate": {"threshold_grid": 49, "bins": 5},
        "evaluate": {"bins": 5, "bootstrap": 20, "pr_points": 5,
                     "baseline": {"C": [1.0], "pixels_per_cell": 8, "colour_bins": 4, "max_iter": 100,
                                  "workers": 1}}}


class ColourStub:
    """Stands in for the trained CNN: a noisy detector of each character's colour."""

    def __init__(self, name, noise):
        self.name, self.noise, self.characters, self.num_params = name, noise, list(CHARACTERS), 7

    def logits(self, images, batch_size=256):
        present = np.stack([(images == c).all(axis=-1).any(axis=(1, 2)) for c in COLOURS], axis=1)
        rng = np.random.default_rng(len(images))
        return (np.where(present, 2.0, -2.0) + rng.normal(0, self.noise, present.shape)).astype(np.float32)


STUBS = {"attention-asl-none": 1.0, "gap-asl-none": 2.5}


def _model_dir(tmp_path, prepared):
    model = tmp_path / "model"
    (model / "predictions").mkdir(parents=True)
    (model / "train.json").write_text(json.dumps({"characters": list(CHARACTERS), "size": 16,
                                                 "chosen": "attention-asl-none"}))
    variants = [{"name": n, "head": n.split("-")[0], "loss": "asl", "imbalance": "none", "val_map": 1 - s / 10,
                 "steps": 2, "seconds": 0.1, "params": 7} for n, s in STUBS.items()]
    (model / "variants.json").write_text(json.dumps({"chosen": "attention-asl-none", "variants": variants}))
    with np.load(prepared / "val.npz") as val:
        logits = ColourStub("attention-asl-none", 1.0).logits(val["images"])
        np.savez(model / "predictions" / "val.npz", logits=logits, labels=val["labels"])
    return model


@pytest.fixture
def stub_predictor(monkeypatch):
    monkeypatch.setattr(evaluate_stage, "load_predictor",
                        lambda model_dir, variant=None: ColourStub(variant or "attention-asl-none",
                                                                   STUBS[variant or "attention-asl-none"]))


def _run(tmp_path, tiny_params, prepared):
    params = tiny_params("cartoon_characters", TINY)
    model = _model_dir(tmp_path, prepared)
    cal = tmp_path / "calibration"
    assert calibrate_main(["--params", str(params), "--model", str(model), "--out", str(cal)]) == 0
    out, preds = tmp_path / "results", tmp_path / "predictions"
    assert evaluate_stage.main(["--params", str(params), "--data", str(prepared), "--model", str(model),
                                "--calibration", str(cal), "--out", str(out), "--predictions", str(preds)]) == 0
    return json.loads((out / "metrics.json").read_text()), out, preds


def test_calibrate_then_evaluate(tmp_path, tiny_params, stub_predictor):
    prepared = write_prepared(tmp_path / "prepared", counts={"train": 60, "val": 40, "test": 40, "shifted": 24})
    metrics, out, preds = _run(tmp_path, tiny_params, prepared)
    head = validate_headline(metrics["headline"])
    assert head["metric"] == "mAP" and "attention-asl-none" in head["model"]
    assert head["significance"]["test"].startswith("paired bootstrap")
    assert head["also"] and "shifted" in head["also"][0]["data"]
    assert {"test_map", "test_map_margin_points", "test_macro_f1_tuned", "test_ece_pooled_calibrated",
            "shifted_map", "shifted_map_drop_points"} <= set(metrics["targets"])
    assert any(k.startswith("test_rarest_ap (") for k in metrics["targets"])
    for split in ("test", "shifted", "val"):
        assert {"model raw @0.5", "model calibrated @tuned", "baseline calibrated @tuned"} <= set(metrics[split])
    assert metrics["test"]["model raw @0.5"]["map"] == metrics["targets"]["test_map"]["value"]
    assert set(metrics["variants"]) == set(STUBS)
    assert metrics["variants"]["attention-asl-none"]["chosen"] is True
    assert metrics["variants"]["gap-asl-none"]["test_map"] is not None
    assert len(metrics["rarest_characters"]) == 3
    for name in ("variants.csv", "per_label.csv", "thresholds.csv", "reliability.csv", "pr_curves.csv"):
        assert (out / name).stat().st_size > 50, name
    with np.load(preds / "test.npz") as p:
        assert p["probabilities"].shape == p["labels"].shape == (40, len(CHARACTERS))
        assert p["images"].shape == (40, 16, 16, 3) and p["baseline"].shape == (40, len(CHARACTERS))
    assert (preds / "shifted.npz").exists()


def test_evaluate_without_shifted_and_with_a_label_missing_from_test(tmp_path, tiny_params, stub_predictor):
    prepared = write_prepared(tmp_path / "prepared", counts={"train": 60, "val": 40, "test": 30, "shifted": 8})
    (prepared / "shifted.npz").unlink()
    with np.load(prepared / "test.npz") as t:
        arrays = dict(t)
    arrays["labels"][:, 3] = 0  # the rare character is absent from test: excluded from the means, never NaN
    keep = ~(arrays["images"] == COLOURS[3]).all(axis=-1).any(axis=(1, 2))
    np.savez(prepared / "test.npz", **{k: v[keep] for k, v in arrays.items()})
    metrics, out, preds = _run(tmp_path, tiny_params, prepared)
    assert "shifted" not in metrics and not metrics["headline"]["also"]
    assert np.isfinite(metrics["test"]["model raw @0.5"]["map"])
    assert metrics["rarest_characters"]["rare"]["test_ap_model"] is None
    assert not (preds / "shifted.npz").exists()


def test_missing_inputs_and_a_model_of_other_characters_are_one_line(tmp_path, tiny_params, monkeypatch):
    from shared.io import DataError

    prepared = write_prepared(tmp_path / "prepared", counts={"train": 20, "val": 12, "test": 12, "shifted": 8})
    params = tiny_params("cartoon_characters", TINY)
    with pytest.raises(DataError, match="run the train stage first"):
        calibrate_main(["--params", str(params), "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "c")])
    model = _model_dir(tmp_path, prepared)
    args = ["--params", str(params), "--data", str(prepared), "--model", str(model), "--out", str(tmp_path / "r")]
    monkeypatch.setattr(evaluate_stage, "load_predictor", lambda model_dir, variant=None: ColourStub("x", 1.0))
    with pytest.raises(DataError, match="run the calibrate stage first"):
        evaluate_stage.main([*args, "--calibration", str(tmp_path / "none")])
    other = ColourStub("x", 1.0)
    other.characters = ["a", "b", "c", "d"]
    monkeypatch.setattr(evaluate_stage, "load_predictor", lambda model_dir, variant=None: other)
    with pytest.raises(DataError, match="re-run the train stage"):
        evaluate_stage.main([*args, "--calibration", str(tmp_path / "none")])
