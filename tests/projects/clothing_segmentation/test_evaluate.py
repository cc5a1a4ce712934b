"""The evaluate stage: every method through one click simulator, on tiny prepared data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from projects.clothing_segmentation import evaluate
from projects.clothing_segmentation.clicks import encode_clicks
from projects.clothing_segmentation.data import DEFAULT_MERGE
from shared.io import DataError, read_json, save_npz
from shared.metrics import validate_headline
from shared.stage import run

SMALL = {"max_clicks": 5, "max_instances": 4, "max_val_instances": 3, "grabcut_iterations": 1,
         "grabcut_click_radius": 1.0, "random_walker_click_radius": 1.0}


class DiskStub:
    """A stand-in for the model: a disk around each positive click minus the negative ones; class 'top'."""

    name = "model"

    def reset(self, image):
        self.shape = image.shape[:2]
        self.class_probabilities = None

    def predict(self, clicks, prev_mask):
        maps = encode_clicks(clicks, self.shape, 6)
        self.class_probabilities = np.eye(12)[2]
        return np.clip(maps[..., 0] - maps[..., 1], 0, 1)


def test_evaluate_scores_all_methods_on_the_same_instances(tiny_prepared, tmp_path):
    cfg = evaluate.EvaluateConfig(**SMALL)
    out = tmp_path / "results"
    metrics = evaluate.evaluate(cfg, tiny_prepared, {"model": DiskStub(), **evaluate.baselines(cfg)}, out)
    validate_headline(metrics["headline"])
    assert metrics["headline"]["higher_is_better"] is False
    assert metrics["best_baseline"] in evaluate.BASELINES
    assert set(metrics["targets"]) == {"noc90", "click_reduction_vs_grabcut", "miou_1", "seconds_per_click"}
    for name in ("model", "grabcut", "random_walker"):
        s = metrics["test"][name]
        assert s["instances"] == 4 and 1 <= s["noc90"] <= 5 and 0 <= s["miou_1"] <= 1 and s["seconds_per_click"] > 0
    written = read_json(out / "metrics.json")
    assert written["headline"]["model_value"] == pytest.approx(metrics["test"]["model"]["noc90"])
    rows = pd.read_csv(out / "instances.csv")
    assert len(rows) == 3 * 2 + 4 * 3
    test_rows = rows[rows.split == "test"]
    for name in ("grabcut", "random_walker"):  # identical instances for every method
        assert sorted(test_rows[test_rows.method == name].instance) == sorted(test_rows[test_rows.method == "model"]
                                                                              .instance)
    assert (test_rows[test_rows.method == "model"].predicted_class == "top").all()
    curve = pd.read_csv(out / "plots" / "miou_vs_clicks.csv")
    assert list(curve.columns) == ["clicks", "model", "grabcut", "random_walker"] and len(curve) == 5
    assert (out / "plots" / "miou_vs_clicks.png").stat().st_size > 1000
    confusion = pd.read_csv(out / "plots" / "confusion.csv")
    assert confusion["count"].sum() == 4 and metrics["classification"]["instances"] == 4


def write_tiny_ccp(root, n=8):
    """A CCP folder (sample layout) of n 40x24 photos: a shirt over trousers on a grey background."""
    import scipy.io
    from PIL import Image

    from projects.clothing_segmentation.labels import CCP_LABELS

    (root / "pixel_annotations_mat").mkdir(parents=True)
    (root / "photos").mkdir()
    cells = np.empty((1, len(CCP_LABELS)), dtype=object)
    cells[0, :] = list(CCP_LABELS)
    scipy.io.savemat(root / "label_list.mat", {"label_list": cells})
    for i in range(n):
        g = np.zeros((40, 24), np.uint8)
        g[6 + i % 3:20, 5:19] = CCP_LABELS.index("shirt")
        g[20:36, 6:18] = CCP_LABELS.index("jeans")
        image = np.full((40, 24, 3), 128, np.uint8)
        image[g == CCP_LABELS.index("shirt")] = (220, 40, 40)
        image[g == CCP_LABELS.index("jeans")] = (40, 40, 160)
        Image.fromarray(image).save(root / "photos" / f"{i:04d}.jpg", quality=95)
        scipy.io.savemat(root / "pixel_annotations_mat" / f"{i:04d}.mat", {"groundtruth": g})
    return root


def test_real_ccp_photos_are_scored_too_when_present(tiny_prepared, tmp_path):
    from shared.io import write_json

    prepared = tmp_path / "prepared"
    prepared.mkdir()
    for split in ("train", "val", "test"):
        (prepared / f"{split}.npz").write_bytes((tiny_prepared / f"{split}.npz").read_bytes())
    config = {"split_fractions": [0.5, 0.25, 0.25], "split_seed": 0, "classes": read_json(
        tiny_prepared / "meta.json")["classes"], "non_garment": ["background", "skin_hair"], "min_area_fraction": 0.01,
        "merge": DEFAULT_MERGE}
    write_json(prepared / "meta.json", {**read_json(tiny_prepared / "meta.json"), "source": "generated",
                                        "config": config})
    write_tiny_ccp(tmp_path / "external" / "ccp")
    cfg = evaluate.EvaluateConfig(**SMALL, real_ccp=str(tmp_path / "external"), real_eval_size=32)
    metrics = evaluate.evaluate(cfg, prepared, {"model": DiskStub(), **evaluate.baselines(cfg)}, tmp_path / "out")
    (real,) = metrics["headline"]["also"]
    validate_headline(real)
    assert "Clothing Co-Parsing" in real["data"] and metrics["real_test"]["model"]["instances"] == 4  # 2 photos
    assert metrics["classification_real_test"]["instances"] == 4
    none = evaluate.EvaluateConfig(**SMALL, real_ccp=str(tmp_path / "nothing"))
    assert evaluate.real_instances(none, read_json(prepared / "meta.json")) is None


def test_inconsistent_prepared_data_is_refused(tmp_path, make_split):
    split = make_split(3, 16, 0)
    save_npz(tmp_path / "bad.npz", **{**split, "labels": split["labels"][:-1]})
    with pytest.raises(DataError, match="differ in length"):
        evaluate.load_instances(tmp_path / "bad.npz", 5, 0)
    save_npz(tmp_path / "far.npz", **{**split, "image_index": split["image_index"] + 10})
    with pytest.raises(DataError, match="outside the 3 images"):
        evaluate.load_instances(tmp_path / "far.npz", 5, 0)


def test_a_missing_model_stops_the_stage_with_a_message(tiny_prepared, tmp_path, tiny_params, caplog):
    params = tiny_params("clothing_segmentation", {"evaluate": SMALL})
    code = run(evaluate.main, ["--params", str(params), "--data", str(tiny_prepared), "--model",
                               str(tmp_path / "nothing"), "--out", str(tmp_path / "results")])
    assert code == 2 and "model.keras" in caplog.text


@pytest.mark.slow
def test_evaluate_stage_with_the_trained_model(tiny_prepared, tiny_model, tmp_path, tiny_params):
    params = tiny_params("clothing_segmentation", {"evaluate": SMALL})
    assert evaluate.main(["--params", str(params), "--data", str(tiny_prepared), "--model", str(tiny_model),
                          "--out", str(tmp_path / "results")]) == 0
    metrics = read_json(tmp_path / "results" / "metrics.json")
    validate_headline(metrics["headline"])
    assert metrics["headline"]["model"].startswith("click U-Net")
    assert metrics["classification"]["instances"] == 4
