"""`capstone image_captioning caption`: captions, beams, attention maps, errors (an untrained tiny model)."""

import numpy as np
import pytest

from projects.image_captioning.decoding import Captioner, fit_vocabulary
from projects.image_captioning.model import EncoderConfig, LSTMConfig, ModelConfig, TransformerConfig, build_model
from shared import cli
from shared.io import write_image

TINY = ModelConfig(encoder=EncoderConfig(widths=(8, 16), dim=16),
                   transformer=TransformerConfig(dim=16, heads=2, layers=1, ff_dim=32),
                   lstm=LSTMConfig(embed_dim=16, units=16, attention_dim=8))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    vocab = fit_vocabulary(["a red circle on the grass", "two blue cars"])
    for decoder in ("transformer", "lstm"):
        model = build_model(TINY, decoder, 32, len(vocab), 8)
        Captioner(model, vocab, {"decoder": decoder, "image_size": 32, "seq_len": 8, "resize": "letterbox"}
                  ).save(root / "model" / decoder)
    rng = np.random.default_rng(0)
    photos = []
    for k, shape in enumerate([(48, 40, 3), (20, 30, 4), (32, 32)]):  # RGB, RGBA, grey; resized on the way in
        path = root / f"photo{k}.png"
        write_image(path, rng.integers(0, 256, shape, dtype=np.uint8))
        photos.append(path)
    return root, photos


def test_caption_beams_and_attention(setup, capsys):
    root, photos = setup
    assert cli.main(["image_captioning", "caption", *map(str, photos), "--model", str(root / "model"),
                     "--decoder", "lstm"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in photos]
    assert cli.main(["image_captioning", "caption", str(photos[0]), "--model", str(root / "model" / "transformer"),
                     "--beam", "3", "--beams", "--attention", str(root / "maps")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith(str(photos[0])) and out[1].strip().startswith("1.")
    assert (root / "maps" / "photo0_attention.png").stat().st_size > 1000


def test_errors_are_one_line(setup, tmp_path, capsys):
    root, photos = setup
    assert cli.main(["image_captioning", "caption", str(tmp_path / "nope.jpg"), "--model", str(root / "model")]) == 2
    assert "nope.jpg" in capsys.readouterr().err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    assert cli.main(["image_captioning", "caption", str(broken), "--model", str(root / "model")]) == 2
    assert "broken.png" in capsys.readouterr().err
    assert cli.main(["image_captioning", "caption", str(photos[0]), "--model", str(tmp_path / "none")]) == 2
    assert "no trained" in capsys.readouterr().err
    assert cli.main(["image_captioning", "caption", str(photos[0]), "--model", str(root / "model"),
                     "--beam", "0"]) == 2
