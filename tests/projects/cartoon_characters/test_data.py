"""The data stage: embedded frames and a real labelled folder → prepared npz + meta.json."""

import json

import numpy as np
import pytest
from PIL import Image

from projects.cartoon_characters.compositor import CHARACTERS
from projects.cartoon_characters.data import main
from shared.io import DataError


def _read(out, split):
    with np.load(out / f"{split}.npz") as f:
        return {k: f[k] for k in f.files}


def test_embedded_source(tmp_path, tiny_params):
    params = tiny_params("cartoon_characters", {"data": {"size": 32, "counts": {"train": 12, "val": 6, "test": 6,
                                                                                  "shifted": 5}}})
    out = tmp_path / "prepared"
    assert main(["--params", str(params), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["characters"] == list(CHARACTERS) and meta["source"] == "embedded" and meta["size"] == 32
    assert meta["counts"] == {"train": 12, "val": 6, "test": 6, "shifted": 5}
    for split, n in meta["counts"].items():
        arrays = _read(out, split)
        assert arrays["images"].shape == (n, 32, 32, 3) and arrays["images"].dtype == np.uint8
        assert arrays["labels"].shape == (n, len(CHARACTERS)) and arrays["labels"].dtype == np.uint8
        assert arrays["names"][0] == f"{split}-00000"
    assert not np.array_equal(_read(out, "train")["images"][:5], _read(out, "val")["images"][:5])


def test_folder_source(tmp_path, tiny_params):
    root = tmp_path / "frames"
    root.mkdir()
    rng = np.random.default_rng(0)
    rows = ["filename,labels"]
    for i in range(24):
        names = [n for n, p in (("homer", 0.6), ("marge", 0.4)) if rng.random() < p] or ["homer"]
        if i < 3:
            names.append("maggie")
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(root / f"f{i:02d}.png")
        rows.append(f"f{i:02d}.png,{';'.join(names)}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    params = tiny_params("cartoon_characters", {"data": {"source": "folder", "size": 16,
                                                         "folder": {"root": str(root)}}})
    out = tmp_path / "prepared"
    assert main(["--params", str(params), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["characters"] == ["homer", "maggie", "marge"] and "iterative stratification" in meta["split_rule"]
    assert not (out / "shifted.npz").exists()
    total = 0
    for split in ("train", "val", "test"):
        arrays = _read(out, split)
        assert np.all(arrays["labels"].sum(axis=0) > 0), split    # maggie (3 frames) in every split
        assert arrays["images"].shape[1:] == (16, 16, 3)
        total += len(arrays["names"])
    assert total == 24
    (root / "labels.csv").write_text("filename,labels\nf00.png,homer\nf01.png,\n")
    with pytest.raises(DataError, match="'maggie'|'homer'"):
        main(["--params", str(params), "--out", str(out)])
