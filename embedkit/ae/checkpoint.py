"""Checkpoints: everything the training loop needs to continue exactly where it stopped.

A checkpoint is an ``.npz`` archive written atomically (a crash or Ctrl-C while writing leaves
the previous one intact): the weights, the optimizer's state (:meth:`Optimizer.state_dict`),
the random generator's state, the epochs done and their records, the validation split and the
early-stopping state. Resuming from it with the same settings gives bit-identical weights to a
run that was never interrupted, because every random draw and every learning rate depends only
on that state and on the total number of epochs.

The caller adds a ``context`` (a JSON-able dict: the settings, and the data's
:func:`embedkit.ae.blocks.digest` under :data:`DATA_KEY`) that :func:`load_checkpoint`
compares with the resuming run's, so resuming on other data or with other settings is an
error instead of a silently different model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embedkit.archive import (
    AE_CHECKPOINT,
    check_context,
    read_archive,
    with_prefix,
    write_archive,
)
from embedkit.io import describe

#: Bumped when the layout of checkpoints changes.
CHECKPOINT_FORMAT = 1
#: The context key holding the training data's :func:`embedkit.ae.blocks.digest`.
DATA_KEY = "data"


@dataclass
class TrainingState:
    """The training loop's state after ``epoch`` complete epochs.

    Attributes
    ----------
    epoch : int
        Epochs done.
    params : dict of ndarray
        Current weights.
    optimizer : dict of ndarray
        :meth:`Optimizer.state_dict` (step count and moments).
    rng : dict
        ``Generator.bit_generator.state``.
    train_rows, val_rows : ndarray of int
        The validation split.
    history : list of dict
        The epoch records so far.
    best : dict of ndarray or None
        Weights with the lowest validation error so far (early stopping).
    best_loss : float
        That error (``inf`` before the first validation).
    waited : int
        Epochs since it last improved.
    """

    epoch: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    rng: Mapping[str, Any]
    train_rows: np.ndarray
    val_rows: np.ndarray
    history: list[dict] = field(default_factory=list)
    best: dict[str, np.ndarray] | None = None
    best_loss: float = np.inf
    waited: int = 0


def save_checkpoint(path: str | os.PathLike, state: TrainingState, context: dict) -> None:
    """Write ``state`` and ``context`` (JSON-able: the settings, and the data's
    :func:`fingerprint` under :data:`DATA_KEY`) to ``path``, atomically."""
    meta = {"format": CHECKPOINT_FORMAT, "epoch": state.epoch, "rng": state.rng,
            "history": state.history, "waited": state.waited,
            "best_loss": None if np.isinf(state.best_loss) else state.best_loss,
            "context": context}
    arrays = {f"param_{name}": value for name, value in state.params.items()}
    arrays.update({f"opt_{name}": value for name, value in state.optimizer.items()})
    arrays.update({f"best_{name}": value for name, value in (state.best or {}).items()})
    arrays.update(train_rows=state.train_rows, val_rows=state.val_rows)
    write_archive(path, meta, arrays)


def load_checkpoint(path: str | os.PathLike, context: dict) -> TrainingState:
    """Read a checkpoint written by :func:`save_checkpoint` for a run described by ``context``.

    Raises
    ------
    EmbedkitError
        When the file is missing or not a checkpoint, or when its context differs from
        ``context`` (other data or settings; the message names the first difference).
    """
    name = describe(path)
    meta, arrays = read_archive(path, AE_CHECKPOINT, CHECKPOINT_FORMAT)
    check_context(name, meta["context"], context, DATA_KEY)
    best_loss = meta["best_loss"]
    return TrainingState(epoch=meta["epoch"], params=with_prefix(arrays, "param_"),
                         optimizer=with_prefix(arrays, "opt_"), rng=meta["rng"],
                         train_rows=arrays["train_rows"], val_rows=arrays["val_rows"],
                         history=meta["history"], best=with_prefix(arrays, "best_") or None,
                         best_loss=np.inf if best_loss is None else best_loss,
                         waited=meta["waited"])
