"""Checkpoints of word2vec training: everything needed to continue after the last full epoch.

A checkpoint is an ``.npz`` archive with a JSON header (:mod:`embedkit.archive`), replaced
atomically, holding both matrices, the vocabulary (words and counts), the epochs done and
their records. Nothing else is needed: every learning rate depends only on the epoch and the
word position, and every task's generator only on the seed, the epoch and the task's number, so
a run resumed from it with the same corpus and settings gives bit-identical vectors with
one thread.

Checkpoints are taken between epochs only: a mid-epoch state would also have to say which
tasks the worker processes had finished.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from embedkit.archive import W2V_CHECKPOINT, check_context, read_archive, write_archive
from embedkit.errors import EmbedkitError
from embedkit.io import describe
from embedkit.text.vocab import Vocabulary

#: Bumped when the layout of checkpoints changes.
CHECKPOINT_FORMAT = 2
#: The context key holding the digest of the corpus's vocabulary and counts.
DATA_KEY = "corpus"
WHAT = W2V_CHECKPOINT


@dataclass
class Word2VecState:
    """The state of a word2vec training after ``epoch`` complete epochs.

    Attributes
    ----------
    epoch : int
    vectors : ndarray, shape (len(vocab) (+ buckets with subwords), dim), float32
        The input matrix.
    output : ndarray, shape (len(vocab), dim), float32
    vocab : Vocabulary
    history : list of dict
        The epoch records so far.
    """

    epoch: int
    vectors: np.ndarray
    output: np.ndarray
    vocab: Vocabulary
    history: list[dict] = field(default_factory=list)


#: Settings of subword training, left out of the context of runs without subwords (so their
#: checkpoints read as before).
SUBWORD_KEYS = ("minn", "maxn", "buckets")


def run_context(config, vocab: Vocabulary) -> dict:
    """What a checkpoint must share with the run resuming from it: the resolved settings
    (``epochs`` may differ), the vocabulary's size, the corpus's in-vocabulary words and a
    digest of the words and counts (other data), in the order they are compared."""
    settings = {key: value for key, value in asdict(config).items() if key != "epochs"
                and (config.maxn or key not in SUBWORD_KEYS)}
    digest = hashlib.sha256("\n".join(vocab.words).encode())
    digest.update(vocab.counts.astype("<i8").tobytes())
    return {**settings, "vocabulary_size": len(vocab), "corpus_words": vocab.total,
            DATA_KEY: digest.hexdigest()}


def save_checkpoint(path: str | os.PathLike, state: Word2VecState, context: dict) -> None:
    """Write ``state`` and ``context`` (:func:`run_context`) to ``path``, atomically."""
    meta = {"format": CHECKPOINT_FORMAT, "epoch": state.epoch, "history": state.history,
            "context": context}
    write_archive(path, meta, {"vectors": state.vectors, "output": state.output,
                               "words": np.array(state.vocab.words, dtype=str),
                               "counts": state.vocab.counts})


def _subwords(context: dict) -> str:
    """The subword settings of a run context, as messages name them."""
    if not context.get("maxn"):
        return "no subwords"
    return f"subwords {context['minn']}-{context['maxn']}"


def load_checkpoint(path: str | os.PathLike, context: dict) -> Word2VecState:
    """Read a checkpoint of :func:`save_checkpoint` for a run described by ``context``.

    Raises
    ------
    EmbedkitError
        When the file is missing or not a word2vec checkpoint, or was written for other
        settings or another corpus (the message names the first difference).
    """
    name = describe(path)
    meta, arrays = read_archive(path, WHAT, CHECKPOINT_FORMAT)
    saved = meta.get("context", {})
    if bool(saved.get("maxn")) != bool(context.get("maxn")):  # before lr, whose default differs
        raise EmbedkitError(f"{name}: the checkpoint was written with {_subwords(saved)}, this "
                            f"run has {_subwords(context)}; resume with the same data and "
                            "settings")
    check_context(name, saved, context, DATA_KEY)
    try:
        vocab = Vocabulary([str(w) for w in arrays["words"]], arrays["counts"])
        shape = (context["vocabulary_size"], context["dim"])
        rows = shape[0] + (context["buckets"] if context.get("maxn") else 0)
        found = (arrays["vectors"].shape, arrays["output"].shape)
        if found != ((rows, shape[1]), shape):
            raise ValueError(f"input and output matrices of shapes {found[0]} and {found[1]}, "
                             f"expected {(rows, shape[1])} and {shape}")
        return Word2VecState(int(meta["epoch"]), arrays["vectors"], arrays["output"], vocab,
                             list(meta["history"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbedkitError(f"{name}: not an {WHAT} ({exc})") from None
