"""Checkpoints of word2vec training: everything needed to continue after the last full epoch.

A checkpoint is an ``.npz`` archive with a JSON header (:mod:`embedkit.archive`), replaced
atomically, holding both matrices, the vocabulary (words and counts), the main generator's
state (subsampling and windows), each worker's seed sequence (a worker draws a fresh
generator from it every epoch), the epochs done and their records. Every learning rate
depends only on the epoch and the word position, so a run resumed from it with the same
corpus and settings gives bit-identical vectors with one thread.

Checkpoints are taken between epochs only: a mid-epoch state would also have to hold the
position in the corpus, the tasks queued for the worker processes and their generators.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from embedkit.archive import check_context, read_archive, write_archive
from embedkit.errors import EmbedkitError
from embedkit.io import describe
from embedkit.text.vocab import Vocabulary

#: Bumped when the layout of checkpoints changes.
CHECKPOINT_FORMAT = 1
#: The context key holding the digest of the corpus's vocabulary and counts.
DATA_KEY = "corpus"
WHAT = "embedkit word2vec checkpoint"


@dataclass
class Word2VecState:
    """The state of a word2vec training after ``epoch`` complete epochs.

    Attributes
    ----------
    epoch : int
    vectors, output : ndarray, shape (len(vocab), dim), float32
    vocab : Vocabulary
    rng : dict
        ``bit_generator.state`` of the main generator.
    worker_seeds : list of numpy.random.SeedSequence
        One per worker, with the number of generators it has spawned so far.
    history : list of dict
        The epoch records so far.
    """

    epoch: int
    vectors: np.ndarray
    output: np.ndarray
    vocab: Vocabulary
    rng: dict
    worker_seeds: list[np.random.SeedSequence]
    history: list[dict] = field(default_factory=list)


def run_context(config, vocab: Vocabulary) -> dict:
    """What a checkpoint must share with the run resuming from it: the resolved settings
    (``epochs`` may differ), the vocabulary's size, the corpus's in-vocabulary words and a
    digest of the words and counts (other data), in the order they are compared."""
    settings = {key: value for key, value in asdict(config).items() if key != "epochs"}
    digest = hashlib.sha256("\n".join(vocab.words).encode())
    digest.update(vocab.counts.astype("<i8").tobytes())
    return {**settings, "vocabulary_size": len(vocab), "corpus_words": vocab.total,
            DATA_KEY: digest.hexdigest()}


def save_checkpoint(path: str | os.PathLike, state: Word2VecState, context: dict) -> None:
    """Write ``state`` and ``context`` (:func:`run_context`) to ``path``, atomically."""
    seeds = [{"entropy": s.entropy, "spawn_key": list(s.spawn_key), "pool_size": s.pool_size,
              "n_children_spawned": s.n_children_spawned} for s in state.worker_seeds]
    meta = {"format": CHECKPOINT_FORMAT, "epoch": state.epoch, "rng": state.rng,
            "worker_seeds": seeds, "history": state.history, "context": context}
    write_archive(path, meta, {"vectors": state.vectors, "output": state.output,
                               "words": np.array(state.vocab.words, dtype=str),
                               "counts": state.vocab.counts})


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
    check_context(name, meta.get("context", {}), context, DATA_KEY)
    try:
        vocab = Vocabulary([str(w) for w in arrays["words"]], arrays["counts"])
        shape = (context["vocabulary_size"], context["dim"])
        if arrays["vectors"].shape != shape or arrays["output"].shape != shape:
            raise ValueError(f"matrices of shape {arrays['vectors'].shape}, expected {shape}")
        seeds = [np.random.SeedSequence(s["entropy"], spawn_key=s["spawn_key"],
                                        pool_size=s["pool_size"],
                                        n_children_spawned=s["n_children_spawned"])
                 for s in meta["worker_seeds"]]
        return Word2VecState(int(meta["epoch"]), arrays["vectors"], arrays["output"], vocab,
                             meta["rng"], seeds, list(meta["history"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbedkitError(f"{name}: not an {WHAT} ({exc})") from None
