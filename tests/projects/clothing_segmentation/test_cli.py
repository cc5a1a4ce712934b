"""The `capstone clothing_segmentation` commands and the web page's controller (without a browser)."""

import json

import numpy as np
import pytest

from projects.clothing_segmentation import cli
from projects.clothing_segmentation.app import Controller, Session, overlay, safe_stem
from shared.io import DataError, read_image, write_image


def _parser():
    parser = cli.argparse.ArgumentParser()
    cli.register(parser)
    return parser


def _photo(path, h=48, w=40):
    image = np.full((h, w, 3), 90, np.uint8)
    image[10:40, 8:30] = (200, 40, 40)
    write_image(path, image)
    return path


def test_clicks_keep_the_order_given():
    args = _parser().parse_args(["segment", "x.png", "--click", "3,4", "--negative", "5,6", "-c", "7,8",
                                 "--out", "m.png"])
    assert args.clicks == [(3, 4, True), (5, 6, False), (7, 8, True)]
    with pytest.raises(SystemExit):
        _parser().parse_args(["segment", "x.png", "--click", "3;4", "--out", "m.png"])


def test_capstone_registers_the_project():
    from shared.cli import build_parser

    args = build_parser().parse_args(["clothing_segmentation", "segment", "a.png", "--click", "1,2", "--out", "m.png"])
    assert args.func is cli.cmd_segment
    args = build_parser().parse_args(["clothing_segmentation", "app"])
    assert args.host == "127.0.0.1" and args.func is cli.cmd_app


@pytest.mark.parametrize("out, rle, message", [
    ("{photo}", None, "is the input image"),
    ("mask.jpg", None, "must name a .png"),
    ("m.png", "m.txt", "must name a .json"),
    ("m.png", "m.png", "must name a .json"),  # so --out and --rle never name the same file
    ("folder.png", None, "is a folder"),
    ("photo.png/m.png", None, "is a file, not a folder"),
])
def test_segment_refuses_outputs_that_would_lose_data_before_any_work(tmp_path, monkeypatch, out, rle, message):
    monkeypatch.chdir(tmp_path)
    photo = _photo(tmp_path / "photo.png")
    (tmp_path / "folder.png").mkdir()
    argv = ["segment", str(photo), "--click", "5,5", "--out", out.format(photo=photo),
            "--model", str(tmp_path / "no-model")]
    args = _parser().parse_args(argv + (["--rle", rle] if rle else []))
    with pytest.raises(DataError, match=message):
        cli.cmd_segment(args)
    assert read_image(photo).shape == (48, 40, 3)  # the photo is untouched


def test_segment_checks_clicks_and_the_pixel_limit_before_loading_the_network(tmp_path):
    photo = _photo(tmp_path / "photo.png")
    missing = str(tmp_path / "no-model")
    args = _parser().parse_args(["segment", str(photo), "--click", "40,5", "--out", str(tmp_path / "m.png"),
                                 "--model", missing])
    with pytest.raises(DataError, match="outside the image of 40x48"):
        cli.cmd_segment(args)
    args = _parser().parse_args(["segment", str(photo), "--click", "4,5", "--out", str(tmp_path / "m.png"),
                                 "--model", missing, "--max-pixels", "0"])
    with pytest.raises(DataError, match="--max-pixels must be a positive"):
        cli.cmd_segment(args)


@pytest.mark.slow
def test_segment_writes_a_mask_of_the_image_size_and_its_rle(tiny_model, tmp_path, capsys):
    from pycocotools import mask as mask_utils

    photo = _photo(tmp_path / "photo.png")
    args = _parser().parse_args(["segment", str(photo), "--click", "20,25", "--negative", "2,2", "--out",
                                 str(tmp_path / "mask.png"), "--rle", str(tmp_path / "mask.json"),
                                 "--model", str(tiny_model)])
    assert args.func(args) == 0
    mask = read_image(tmp_path / "mask.png")
    assert mask.shape == (48, 40) and set(np.unique(mask)) <= {0, 255}
    coco = json.loads((tmp_path / "mask.json").read_text())
    rle = coco["annotations"][0]["segmentation"]
    np.testing.assert_array_equal(mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}),
                                  mask > 0)
    assert "class" in capsys.readouterr().out
    for bad, message in ((["--click", "99,2"], "outside the image"), (["--negative", "2,2"], "must be positive"),
                         ([], "at least one --click")):
        args = _parser().parse_args(["segment", str(photo), *bad, "--out", str(tmp_path / "m2.png"), "--model",
                                     str(tiny_model)])
        with pytest.raises(DataError, match=message):
            args.func(args)
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    args = _parser().parse_args(["segment", str(tmp_path / "corrupt.jpg"), "-c", "1,1", "--out",
                                 str(tmp_path / "m3.png"), "--model", str(tiny_model)])
    with pytest.raises(DataError, match="not an image"):
        args.func(args)
    assert not (tmp_path / "m2.png").exists() and not (tmp_path / "m3.png").exists()


class _FakeSegmenter:
    """A stand-in for the network: a disk of radius 6 around the first click."""

    name, classes = "fake", ["background", "top"]

    def reset(self, image):
        self.shape = image.shape[:2]

    def predict(self, clicks, prev_mask):
        yy, xx = np.mgrid[: self.shape[0], : self.shape[1]]
        return (((yy - clicks[0].y) ** 2 + (xx - clicks[0].x) ** 2) <= 36).astype(np.float32)

    def predicted_class(self):
        return "top", 0.9


def test_controller_clicks_undo_reset_and_exports_only_into_its_folder(tmp_path):
    out = tmp_path / "out"
    control = Controller(_FakeSegmenter(), out, max_pixels=10_000)
    photo = _photo(tmp_path / "evil name.png")
    session, message = control.load(photo)
    assert "40x48" in message
    with pytest.raises(DataError, match="first click must be positive"):
        control.click(session, 5, 5, positive=False)
    session, message = control.click(session, 20, 25, positive=True)
    assert "class top" in message and len(session.probs) == 1
    session, _ = control.click(session, 2, 2, positive=False)
    session, _ = control.undo(session)
    assert len(session.clicks) == 1
    assert overlay(session.image, session.prob, session.clicks).shape == (48, 40, 3)
    session.name = "../../../etc/passwd"
    png, coco = control.export(session, "top")
    assert out.resolve() in png.parents and out.resolve() in coco.parents
    mask = read_image(png)
    assert mask.shape == (48, 40) and (mask > 0).sum() == pytest.approx(np.pi * 36, rel=0.2)
    assert json.loads(coco.read_text())["categories"][1]["name"] == "top"
    assert {p.name for p in out.rglob("*") if p.is_file()} == {png.name, coco.name}
    session, _ = control.reset(session)
    with pytest.raises(DataError, match="nothing to export"):
        control.export(session, None)
    assert safe_stem("../a b/c?.png") == "c" and safe_stem("...") == "image"


def test_controller_refuses_bad_uploads_with_a_clear_message(tmp_path):
    control = Controller(_FakeSegmenter(), tmp_path / "out", max_pixels=1000)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not an image"):
        control.load(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="more than the limit of 1,000"):
        control.load(_photo(tmp_path / "big.png"))
    with pytest.raises(DataError, match="no file"):
        control.load(None)
    with pytest.raises(DataError, match="upload an image first"):
        control.click(Session(), 1, 1, True)
