"""The one caption normalisation of image_captioning, used by training, decoding and scoring alike.

``normalize`` is applied to every reference caption by the data stage (``prepared/*.json`` hold normalised text),
to every generated caption before it is scored, and the decoders' ``TextVectorization`` runs with
``standardize=None`` on text that already went through it, so the vocabulary the model learns and the tokens the
metrics count are the same.

Rules, in order:

1. Unicode NFKC (compatibility composition: full-width letters, ligatures such as ``ﬁ``, non-breaking spaces and
   composed accents become their plain forms);
2. lower case (``str.lower``);
3. apostrophes are dropped inside words (``dog's`` → ``dogs``, ``don't`` → ``dont``), every other character that is
   neither a letter, a digit nor whitespace (Unicode categories P*, S*, C*) becomes a space (``t-shirt`` →
   ``t shirt``, ``"red"!`` → ``red``);
4. runs of whitespace become one space; leading and trailing space is removed.

Letters outside ASCII are kept (``café`` stays ``café``). The reserved decoder tokens ``[start]``/``[end]`` can
therefore never appear in a normalised caption (brackets are punctuation).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "tokens", "APOSTROPHES"]

#: characters treated as apostrophes (removed without a space): ASCII, typographic, modifier letter, prime
APOSTROPHES = "'\u2018\u2019\u02bc\u2032`\u00b4"
_APOSTROPHE_RE = re.compile(f"(?<=\\w)[{re.escape(APOSTROPHES)}](?=\\w)")
_SPACE_RE = re.compile(r"\s+")


def _keep(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in ("L", "N", "M") or char.isspace()


def normalize(caption: str) -> str:
    """Normalise one caption (see the module docstring for the rules).

    Args:
        caption: any text.

    Returns:
        the normalised caption: lower case, NFKC, words of letters and digits separated by single spaces
        (``""`` when nothing is left).

    Raises:
        TypeError: ``caption`` is not a string.
    """
    if not isinstance(caption, str):
        raise TypeError(f"normalize expects a str, got {type(caption).__name__}")
    text = unicodedata.normalize("NFKC", caption).lower()
    text = _APOSTROPHE_RE.sub("", text)
    text = "".join(c if _keep(c) else " " for c in text)
    return _SPACE_RE.sub(" ", text).strip()


def tokens(caption: str) -> list[str]:
    """The words of a normalised caption (``normalize(caption).split(" ")``; ``[]`` for an empty one)."""
    text = normalize(caption)
    return text.split(" ") if text else []
