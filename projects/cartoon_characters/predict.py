"""Load a trained model folder (the train stage's output) as a predictor of one logit per character.

    predictor = load_predictor("data/cartoon_characters/model")              # the variant chosen on val mAP
    predictor = load_predictor("data/cartoon_characters/model", "gap-asl-none")   # any trained variant
    logits = predictor.logits(frames)   # frames uint8 (n, S, S, 3) → float32 (n, C)

The evaluate stage and the CLI use only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.io import DataError, read_json


@dataclass
class Predictor:
    """A trained network with its character names; ``logits`` maps uint8 frames to one logit per character."""

    model: Any
    characters: list[str]
    size: int
    name: str

    @property
    def num_params(self) -> int:
        return int(self.model.count_params())

    def logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits (n, C) float32 of uint8 frames (n, S, S, 3).

        Raises:
            DataError: the frames are not uint8 (n, S, S, 3) at the trained size S.
        """
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3) or images.dtype != np.uint8:
            raise DataError(f"the model takes uint8 frames (n, {self.size}, {self.size}, 3), got {images.dtype} "
                            f"{images.shape}")
        if not len(images):
            return np.zeros((0, len(self.characters)), np.float32)
        out = [np.asarray(self.model(images[i:i + batch_size], training=False), dtype=np.float32)
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out)


def variant_names(model_dir: str | Path) -> list[str]:
    """The variants of a trained model folder, in training order (from ``variants.json``).

    Raises:
        DataError: ``variants.json`` is missing or corrupt.
    """
    table = read_json(Path(model_dir) / "variants.json")
    return [v["name"] for v in table["variants"]]


def load_predictor(model_dir: str | Path, variant: str | None = None) -> Predictor:
    """The predictor of the chosen model (``variant`` None) or of one trained variant.

    Raises:
        DataError: the folder holds no model (run the train stage first), the variant is unknown, or a file is
            corrupt.
    """
    import keras

    import projects.cartoon_characters.losses  # noqa: F401  (registers the custom losses)
    import projects.cartoon_characters.model  # noqa: F401  (registers the custom heads)

    model_dir = Path(model_dir)
    if not (model_dir / "model.keras").exists():
        raise DataError(f"{model_dir} holds no model.keras; run the train stage first "
                        f"(dvc repro projects/cartoon_characters/dvc.yaml:train)")
    info = read_json(model_dir / "train.json")
    if variant is None:
        path, name = model_dir / "model.keras", info["chosen"]
    else:
        names = variant_names(model_dir)
        if variant not in names:
            raise DataError(f"unknown variant {variant!r} in {model_dir}; variants: {', '.join(names)}")
        path, name = model_dir / "variants" / f"{variant}.keras", variant
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise DataError(f"{path} cannot be loaded (corrupt?): {exc}") from exc
    return Predictor(model=model, characters=list(info["characters"]), size=int(info["size"]), name=name)
