"""`capstone cartoon_characters detect` on frames of every image mode, with a tiny untrained network: probabilities
(calibrated when calibration.json exists), tuned or fixed thresholds, Grad-CAM files, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shared.cli import main as capstone


def frames(folder):
    """The same picture in several modes and sizes: RGB PNG, RGBA PNG, grey JPEG, palette GIF, 16-bit grey PNG."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"rgb": folder / "rgb.png", "rgba": folder / "rgba.png", "grey": folder / "grey.jpg",
             "palette": folder / "palette.gif", "grey16": folder / "grey16.png"}
    Image.fromarray(rgb).save(paths["rgb"])
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 200, np.uint8)])).save(paths["rgba"])
    Image.fromarray(rgb[..., 0]).save(paths["grey"])
    Image.fromarray(rgb).convert("P").save(paths["palette"])
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(paths["grey16"])
    return paths


def test_detect_every_mode_raw_then_calibrated_with_cams(model_dir, tmp_path, capsys, monkeypatch):
    from projects.cartoon_characters import calibration, cli

    paths = frames(tmp_path / "in")
    args = ["cartoon_characters", "detect", *map(str, paths.values()), "--model", str(model_dir)]
    # without the calibrate stage's default file: raw probabilities at 0.5, with a warning
    monkeypatch.setattr(cli, "DEFAULT_CALIBRATION", str(tmp_path / "none.json"))
    assert capstone(args) == 0
    out = capsys.readouterr().out
    assert "raw probabilities" in out and "threshold 0.5" in out
    for path in paths.values():
        assert f"{path}:" in out
    assert out.count("  red ") == len(paths)
    # a folder stands for its image files
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert capstone(["cartoon_characters", "detect", str(tmp_path / "in"), "--model", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("  red ") == len(paths) and "notes.txt" not in out
    # calibrated, tuned thresholds, Grad-CAM per predicted character
    val = np.load(model_dir / "predictions" / "val.npz")
    cal = calibration.fit(val["logits"], val["labels"], ["red", "green", "blue", "rare"])
    cal.thresholds = np.full(4, 1e-6)  # every character predicted, so that every frame gets maps
    calibration.save(cal, tmp_path / "calibration.json")
    cams = tmp_path / "cams"
    assert capstone([*args, "--calibration", str(tmp_path / "calibration.json"), "--cam", str(cams)]) == 0
    out = capsys.readouterr().out
    assert "calibrated (temperature)" in out and "tuned thresholds" in out
    assert len(list(cams.glob("*.png"))) == 4 * len(paths) and (cams / "rgb_rare.png").exists()
    assert capstone([*args, "--calibration", str(tmp_path / "calibration.json"), "--threshold", "0.999999"]) == 0
    assert "(no character)" in capsys.readouterr().out


@pytest.mark.parametrize("case, match", [("missing", "not found|does not exist|no such"),
                                         ("corrupt", "not a readable image"),
                                         ("threshold", "--threshold takes"),
                                         ("model", "holds no model.keras"),
                                         ("calibration", "--calibration .* not found"),
                                         ("cam_file", "--cam .* is a file"),
                                         ("cam_under_file", "--cam .* cannot create the folder"),
                                         ("empty_folder", "folder without image files")])
def test_bad_input_is_one_line(case, match, model_dir, tmp_path, capsys):
    good = frames(tmp_path / "in")["rgb"]
    args = ["cartoon_characters", "detect", str(good), "--model", str(model_dir)]
    if case == "missing":
        args[2] = str(tmp_path / "nope.png")
    elif case == "corrupt":
        (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
        args[2] = str(tmp_path / "bad.png")
    elif case == "threshold":
        args += ["--threshold", "1.5"]
    elif case == "calibration":
        args += ["--calibration", str(tmp_path / "none.json")]
    elif case == "cam_file":
        args += ["--cam", str(good)]
    elif case == "cam_under_file":
        args += ["--cam", str(good / "cams")]
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        args[2] = str(tmp_path / "empty")
    else:
        args[-1] = str(tmp_path)
    assert capstone(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:")
    import re

    assert re.search(match, err, re.I), err


def test_characters_lists_the_columns(model_dir, capsys):
    assert capstone(["cartoon_characters", "characters", "--model", str(model_dir)]) == 0
    assert capsys.readouterr().out.split() == ["0", "red", "1", "green", "2", "blue", "3", "rare"]
