"""Vocabulary, greedy and beam-search decoding, and the :class:`Captioner` (model + vocabulary) that is saved.

Vocabulary: :func:`fit_vocabulary` counts the words of the normalised training captions (``text.normalize``; no
other standardisation), keeps those seen at least ``min_count`` times, and :func:`make_vectorizer` builds the
``keras.layers.TextVectorization`` (``standardize=None``, whitespace split) that turns ``[start] caption [end]``
into padded token ids; 0 is padding and 1 ``[UNK]`` (Keras' convention).

Decoding, both decoders, batched over images (and beams):

* greedy: the most probable next token until ``[end]`` or ``max_len`` tokens;
* beam search (width K): each step keeps the K best partial captions of an image by summed log-probability; a
  candidate that ends with ``[end]`` leaves the beam as a finished caption; at ``max_len`` the partial captions are
  finished as they are. Finished captions are ranked by length-normalised log-probability ``log p / n^α``
  (``n`` = generated tokens including ``[end]``, ``α`` = ``length_alpha``; Wu et al. 2016 use a related penalty).
  An image stops when it holds K finished captions and its best live one, normalised at the current length,
  ranks below the K-th finished one. With K = 1 this is greedy decoding token for token (a test checks it).

Padding, ``[start]`` and ``[UNK]`` are never generated (their log-probability is set to -inf), so a caption is
made of vocabulary words only. Every caption comes with its attention over the feature map per generated word:
the LSTM's soft attention α, or the Transformer's last-layer cross-attention averaged over heads.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PAD, UNK, START, END = "", "[UNK]", "[start]", "[end]"
SPECIAL = (START, END)


def fit_vocabulary(captions: Iterable[str], min_count: int = 1) -> list[str]:
    """The vocabulary of normalised captions: ``["", "[UNK]", "[start]", "[end]", words by count, then a-z]``.

    Args:
        captions: normalised captions (``text.normalize``), words separated by spaces.
        min_count: a word seen fewer times becomes ``[UNK]``.

    Raises:
        ValueError: ``min_count`` < 1, or no word is left.
    """
    if min_count < 1:
        raise ValueError("min_count must be ≥ 1")
    counts = Counter(word for caption in captions for word in caption.split())
    for special in (PAD, UNK, *SPECIAL):
        counts.pop(special, None)
    words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    if not words:
        raise ValueError(f"no word occurs {min_count} times or more in the training captions")
    return [PAD, UNK, *SPECIAL, *words]


def make_vectorizer(vocabulary: Sequence[str], seq_len: int):
    """A ``TextVectorization`` with this vocabulary: strings → ``(B, seq_len)`` int ids, 0-padded, cut at seq_len.

    ``vocabulary`` is as :func:`fit_vocabulary` returns it (padding and ``[UNK]`` first); ``standardize=None``:
    the text must already be normalised by ``text.normalize``.
    """
    import keras

    if list(vocabulary[:2]) != [PAD, UNK]:
        raise ValueError("the vocabulary must start with '' (padding) and '[UNK]'")
    return keras.layers.TextVectorization(standardize=None, split="whitespace", output_mode="int",
                                          output_sequence_length=seq_len, vocabulary=list(vocabulary[2:]))


def encode_captions(vectorizer, captions: Sequence[str]) -> np.ndarray:
    """``[start] caption [end]`` → int32 ids ``(N, seq_len)`` (a caption longer than seq_len - 1 words is cut)."""
    texts = [f"{START} {c} {END}" for c in captions]
    return np.asarray(vectorizer(np.asarray(texts, dtype=object)), dtype=np.int32)


@dataclass
class Decoded:
    """One caption: its text, tokens (ids, without ``[start]``/``[end]``), summed and length-normalised
    log-probability, and attention ``(n_tokens, h, w)`` over the feature map per generated token (``[end]``
    included when generated)."""

    text: str
    tokens: list[int]
    log_prob: float
    score: float
    attention: np.ndarray


class Captioner:
    """A trained captioning model with its vocabulary: caption uint8 images, save, load.

    Args:
        model: the training model of :func:`projects.image_captioning.model.build_model` (layers ``encoder`` and
            ``decoder``).
        vocabulary: as :func:`fit_vocabulary` returns it.
        info: ``decoder`` (``transformer`` / ``lstm``), ``image_size``, ``seq_len`` and optionally ``length_alpha``
            (default 0.7) and ``max_len`` (default ``seq_len``, the longest caption in tokens incl. ``[end]``).
    """

    def __init__(self, model, vocabulary: Sequence[str], info: dict):
        import tensorflow as tf

        self.model, self.vocabulary, self.info = model, list(vocabulary), dict(info)
        self.decoder_name = self.info["decoder"]
        self.image_size = int(self.info["image_size"])
        self.seq_len = int(self.info["seq_len"])
        self.start_id, self.end_id = self.vocabulary.index(START), self.vocabulary.index(END)
        self.encoder, self.decoder = model.get_layer("encoder"), model.get_layer("decoder")
        self.banned = np.array([0, 1, self.start_id])
        grid = int(self.encoder.output.shape[1])
        side = int(round(np.sqrt(grid)))
        self.grid = (side, grid // side)
        self._encode = tf.function(lambda x: self.encoder(x, training=False), reduce_retracing=True)
        if self.decoder_name == "transformer":
            self._transformer = tf.function(
                lambda tokens, features: self.decoder.call_with_attention(tokens, features, training=False),
                reduce_retracing=True)
        else:
            def lstm_step(token, h, c, features, projected):
                logits, (h, c), alpha = self.decoder.step(token, [h, c], features, projected)
                return logits, h, c, alpha

            self._lstm_step = tf.function(lstm_step, reduce_retracing=True)
            self._lstm_init = tf.function(
                lambda f: (*self.decoder.initial_state(f), self.decoder.att_features(f)), reduce_retracing=True)

    # ---- info -------------------------------------------------------------------------------------------------
    @property
    def num_params(self) -> int:
        """Parameters of the whole model (encoder + decoder)."""
        return int(self.model.count_params())

    @property
    def length_alpha(self) -> float:
        return float(self.info.get("length_alpha", 0.7))

    def words(self, tokens: Iterable[int]) -> str:
        """Token ids → text (stops at ``[end]``, skips padding and ``[start]``)."""
        out = []
        for t in tokens:
            if t == self.end_id:
                break
            if t not in (0, self.start_id):
                out.append(self.vocabulary[t])
        return " ".join(out)

    # ---- the step function shared by greedy and beam search -----------------------------------------------------
    def _check_images(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3) or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (B, {self.image_size}, {self.image_size}, 3), got "
                             f"{images.dtype} {images.shape}")
        return images

    def _max_len(self, max_len: int | None) -> int:
        limit = int(self.info.get("max_len", self.seq_len))
        if max_len is None:
            return limit
        if max_len < 1:
            raise ValueError("max_len must be ≥ 1")
        if self.decoder_name == "transformer" and max_len > self.seq_len:
            log.warning("max_len %d > %d, the Transformer's position table: using %d", max_len, self.seq_len,
                        self.seq_len)
            return self.seq_len
        return int(max_len)

    def _start(self, features: np.ndarray) -> dict:
        if self.decoder_name == "transformer":
            return {"features": features}
        h, c, projected = (np.asarray(a) for a in self._lstm_init(features))
        return {"features": features, "projected": projected, "h": h, "c": c}

    def _step(self, state: dict, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Log-probabilities ``(N, V)`` of the next token after ``prefix (N, t)`` and attention ``(N, L)``."""
        t = prefix.shape[1]
        if self.decoder_name == "transformer":
            tokens = np.zeros((len(prefix), self.seq_len), np.int32)
            tokens[:, :t] = prefix
            logits, attention = self._transformer(tokens, state["features"])
            logits, attention = np.asarray(logits)[:, t - 1], np.asarray(attention)[:, t - 1]
        else:
            logits, h, c, attention = self._lstm_step(prefix[:, -1].astype(np.int32), state["h"], state["c"],
                                                      state["features"], state["projected"])
            logits, attention = np.asarray(logits), np.asarray(attention)
            state = {**state, "h": np.asarray(h), "c": np.asarray(c)}
        logits = logits.astype(np.float64)
        logits[:, self.banned] = -np.inf
        m = logits.max(axis=1, keepdims=True)
        logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
        return logp, attention, state

    @staticmethod
    def _take(state: dict, rows: np.ndarray) -> dict:
        return {k: v[rows] for k, v in state.items()}

    def _features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._encode(self._check_images(images)))

    # ---- decoding -------------------------------------------------------------------------------------------------
    def greedy(self, images: np.ndarray, max_len: int | None = None, length_alpha: float | None = None
               ) -> list[Decoded]:
        """Greedy decoding of ``(B, S, S, 3)`` uint8 images; one :class:`Decoded` per image.

        Raises:
            ValueError: the images are not uint8 ``(B, S, S, 3)`` with the model's S, or ``max_len`` < 1.
        """
        max_len, alpha = self._max_len(max_len), self.length_alpha if length_alpha is None else length_alpha
        features = self._features(images)
        n = len(features)
        state = self._start(features)
        prefix = np.full((n, 1), self.start_id, np.int32)
        log_prob = np.zeros(n)
        alive = np.ones(n, bool)
        tokens: list[list[int]] = [[] for _ in range(n)]
        attn: list[list[np.ndarray]] = [[] for _ in range(n)]
        for _ in range(max_len):
            logp, attention, state = self._step(state, prefix)
            best = logp.argmax(axis=1)
            for i in np.flatnonzero(alive):
                tokens[i].append(int(best[i]))
                attn[i].append(attention[i])
                log_prob[i] += logp[i, best[i]]
                if best[i] == self.end_id:
                    alive[i] = False
            if not alive.any():
                break
            prefix = np.concatenate([prefix, best[:, None].astype(np.int32)], axis=1)
        return [self._decoded(tokens[i], log_prob[i], attn[i], alpha) for i in range(n)]

    def _decoded(self, tokens: list[int], log_prob: float, attention: list[np.ndarray], alpha: float) -> Decoded:
        words = [t for t in tokens if t != self.end_id]
        grid = np.stack(attention).reshape(len(attention), *self.grid) if attention else np.zeros((0, *self.grid))
        return Decoded(self.words(words), words, float(log_prob), float(log_prob / max(len(tokens), 1) ** alpha),
                       grid.astype(np.float32))

    def beam_search(self, images: np.ndarray, beam: int = 3, max_len: int | None = None,
                    length_alpha: float | None = None) -> list[list[Decoded]]:
        """Beam search of width ``beam``; per image its finished captions, best first (at most ``beam``).

        Raises:
            ValueError: ``beam`` < 1, the images are not uint8 ``(B, S, S, 3)`` with the model's S, or
                ``max_len`` < 1.
        """
        if beam < 1:
            raise ValueError("beam must be ≥ 1")
        max_len, alpha = self._max_len(max_len), self.length_alpha if length_alpha is None else length_alpha
        features = self._features(images)
        n, k = len(features), beam
        state = self._start(np.repeat(features, k, axis=0))
        prefix = np.full((n * k, 1), self.start_id, np.int32)
        scores = np.full((n, k), -np.inf)
        scores[:, 0] = 0.0                              # one live hypothesis per image at the start
        attn = np.zeros((n * k, 0, features.shape[1]), np.float32)
        finished: list[list[tuple[float, float, list[int], np.ndarray]]] = [[] for _ in range(n)]
        done = np.zeros(n, bool)
        for t in range(max_len):
            logp, attention, state = self._step(state, prefix)
            vocab = logp.shape[1]
            cand = (scores.reshape(-1, 1) + logp).reshape(n, k * vocab)
            order = np.argsort(-cand, axis=1, kind="stable")[:, :k]          # ties: the lower id, as argmax
            rows, new_tokens = np.zeros((n, k), int), np.zeros((n, k), np.int32)
            new_scores = np.full((n, k), -np.inf)
            length = t + 1
            for i in range(n):
                for j, flat in enumerate(order[i]):
                    slot, token, s = flat // vocab, flat % vocab, cand[i, flat]
                    rows[i, j], new_tokens[i, j] = i * k + slot, token
                    if done[i] or not np.isfinite(s):
                        continue
                    if token == self.end_id or length == max_len:
                        seq = [*prefix[i * k + slot, 1:].tolist(), int(token)]
                        att = np.concatenate([attn[i * k + slot], attention[i * k + slot][None]], 0)
                        finished[i].append((s / length ** alpha, s, seq, att))
                    else:
                        new_scores[i, j] = s
            flat_rows = rows.reshape(-1)
            state = self._take(state, flat_rows)
            prefix = np.concatenate([prefix[flat_rows], new_tokens.reshape(-1, 1)], axis=1)
            attn = np.concatenate([attn[flat_rows], attention[flat_rows][:, None]], axis=1)
            scores = new_scores
            for i in range(n):
                live = scores[i][np.isfinite(scores[i])]
                if not len(live):
                    done[i] = True
                elif len(finished[i]) >= k:
                    kth = sorted((f[0] for f in finished[i]), reverse=True)[k - 1]
                    if live.max() / length ** alpha < kth:
                        done[i] = True
            scores[done] = -np.inf
            if done.all():
                break
        out = []
        for i in range(n):
            ranked = sorted(finished[i], key=lambda f: -f[0])[:k]
            out.append([self._decoded(seq, raw, list(att), alpha) for _, raw, seq, att in ranked])
        return out

    def decode(self, images: np.ndarray, beam: int = 1, max_len: int | None = None,
               length_alpha: float | None = None, batch_size: int = 64) -> list[Decoded]:
        """The best caption per image: greedy for ``beam`` = 1, else beam search; in batches of ``batch_size``.

        Raises:
            ValueError: see :meth:`greedy` and :meth:`beam_search`.
        """
        images = self._check_images(images)
        out: list[Decoded] = []
        for lo in range(0, len(images), batch_size):
            chunk = images[lo:lo + batch_size]
            if beam == 1:
                out += self.greedy(chunk, max_len, length_alpha)
            else:
                out += [b[0] for b in self.beam_search(chunk, beam, max_len, length_alpha)]
        return out

    def caption(self, images: np.ndarray, beam: int = 1, max_len: int | None = None) -> list[str]:
        """Normalised caption text per image (no special tokens); greedy for ``beam`` = 1.

        Raises:
            ValueError: see :meth:`decode`.
        """
        return [d.text for d in self.decode(images, beam=beam, max_len=max_len)]

    def beams(self, images: np.ndarray, beam: int = 3, max_len: int | None = None) -> list[list[tuple[str, float]]]:
        """Per image the finished beams, best first, as ``(text, length-normalised log-probability)``.

        Raises:
            ValueError: see :meth:`beam_search`.
        """
        images = self._check_images(images)
        out = []
        for lo in range(0, len(images), 64):
            out += [[(d.text, d.score) for d in b] for b in self.beam_search(images[lo:lo + 64], beam, max_len)]
        return out

    # ---- persistence ----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``model.keras``, ``vocabulary.json`` and ``captioner.json`` into the folder ``path`` (atomically)."""
        from shared.io import atomic_dir, write_json

        with atomic_dir(path) as tmp:
            self.model.save(tmp / "model.keras")
            write_json(tmp / "vocabulary.json", self.vocabulary)
            write_json(tmp / "captioner.json", self.info)
        return Path(path)


def load_captioner(path: str | os.PathLike) -> Captioner:
    """Load a :class:`Captioner` saved by :meth:`Captioner.save` (e.g. ``data/image_captioning/model/lstm``).

    Raises:
        DataError: the folder or one of its three files is missing, or the files are unreadable.
    """
    import keras

    import projects.image_captioning.model  # noqa: F401  (registers the custom layers)
    from shared.io import DataError, read_json

    path = Path(path)
    files = [path / name for name in ("model.keras", "vocabulary.json", "captioner.json")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(f"not a saved captioner (missing {', '.join(missing)}); run the train stage first")
    try:
        model = keras.saving.load_model(files[0], compile=False)
    except Exception as exc:  # noqa: BLE001  (Keras raises many types for a broken file)
        raise DataError(f"{files[0]}: cannot load the model ({type(exc).__name__}: {exc})") from exc
    return Captioner(model, read_json(files[1]), read_json(files[2]))
