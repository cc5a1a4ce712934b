"""`dvc repro` of the whole rock_ct pipeline on tiny params, in a temporary copy of the repo; and the benchmark
stage's main on a tiny cube."""

import json

import pytest

#: params for a pipeline that runs in a few minutes: tiny phantoms, a tiny network, a tiny benchmark cube
TINY = {
    "data": {"splits": {"train": {"count": 1, "size": 32}, "val": {"count": 1, "size": 32},
                            "test": {"count": 1, "size": 32}, "shifted": {"count": 1, "size": 32}}},
    "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch": 16, "val_patches": 2, "verbose": 0,
              "model": {"widths": [4, 8], "convs_per_level": 1}},
    "evaluate": {"tile": 16, "halo": 4},
    "benchmark": {"size": 32, "tile": 16, "halo": 8, "chunk": 16},
}


@pytest.mark.slow
def test_dvc_repro_on_tiny_params(repo_copy):
    repo_copy.set_params("rock_ct", TINY)
    metrics = repo_copy.check_pipeline("rock_ct", "test_mean_dice", targets=("rock_ct_data",), report_bytes=50_000)
    assert (repo_copy.root / "data" / "rock_ct" / "model" / "model.keras").exists()
    bench = json.loads((repo_copy.root / "projects" / "rock_ct" / "results" / "benchmark.json").read_text())
    assert bench["voxels"] == 32 ** 3 and bench["mvox_per_s"] > 0 and bench["peak_rss_gb"] > 0
    assert metrics["headline"]["model"]


@pytest.mark.slow
def test_benchmark_main_on_a_tiny_cube(tiny_params, tmp_path):
    import keras

    from projects.rock_ct import benchmark
    from projects.rock_ct.model import ModelConfig, build_model
    from shared.io import write_json

    cfg = ModelConfig(widths=(4, 8), convs_per_level=1)
    keras.utils.set_random_seed(0)
    model = tmp_path / "model"
    model.mkdir()
    build_model(cfg).save(model / "model.keras")
    write_json(model / "train.json", {"classes": ["vesicle", "glass", "crystal"], "divisor": cfg.divisor,
                                      "normalisation": {"percentiles": [1.0, 99.0]}})
    path = tiny_params("rock_ct", {"benchmark": {"size": 24, "tile": 8, "halo": 4, "chunk": 8}})
    out = tmp_path / "results" / "benchmark.json"
    assert benchmark.main(["--params", str(path), "--model", str(model), "--work", str(tmp_path / "work"),
                           "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["voxels"] == 24 ** 3 and result["seconds"] > 0 and 0 < result["peak_rss_gb"] < 8
    assert abs(sum(result["label_fractions"]) - 1) < 1e-6
    assert not (tmp_path / "work").exists()  # scratch volumes removed
