"""What every training loop of embedkit shares: checkpoint cadence and the Ctrl-C message.

Both word2vec (:func:`embedkit.w2v.train.train_word2vec`) and the autoencoder
(:meth:`embedkit.ae.Autoencoder.fit`) take ``checkpoint`` (a path) and ``checkpoint_every``
(epochs), save after every ``checkpoint_every`` epochs and after the last one, and on Ctrl-C
raise :class:`~embedkit.errors.Interrupted` with the message :func:`training_stopped` writes.
What a checkpoint holds is each model's own (:mod:`embedkit.w2v.checkpoint`,
:mod:`embedkit.ae.checkpoint`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

from embedkit.errors import Interrupted, ParameterError
from embedkit.io import describe

#: Epochs between checkpoints unless told otherwise.
DEFAULT_CHECKPOINT_EVERY = 1


class Checkpoints:
    """Where and how often a training loop saves its state, and which epoch the file holds.

    Parameters
    ----------
    path : str or path-like, optional
        The checkpoint file (None: no checkpoints).
    every : int
        Save after every ``every`` epochs, and after the last one.
    holds : int
        The epoch the file holds so far (0: none written yet); a resumed run starts at the
        epoch it resumed from.

    Raises
    ------
    EmbedkitError
        When ``every`` is below 1 (named ``checkpoint_every``, the training functions'
        parameter).
    """

    def __init__(self, path: str | os.PathLike | None, every: int = DEFAULT_CHECKPOINT_EVERY,
                 holds: int = 0):
        if every < 1:
            raise ParameterError(f"checkpoint_every {every}: expected at least 1",
                                params=("checkpoint_every",))
        self.path, self.every, self.holds = path, every, holds

    def after_epoch(self, epoch: int, last: bool,
                    save: Callable[[str | os.PathLike], None]) -> None:
        """Call ``save(path)`` if a checkpoint is due after ``epoch`` (``last``: no epoch
        follows), and remember that the file now holds that epoch.

        A Ctrl-C during the save is held back until both are done: otherwise it could land
        between the file's rename and the bookkeeping, and the message would say that no
        checkpoint was written while the file holds the epoch.
        """
        if self.path is not None and (last or epoch % self.every == 0):
            with _interrupt_deferred():
                save(self.path)
                self.holds = epoch


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold back SIGINT inside the block and deliver it at the end (main thread only: only
    it can set signal handlers, and only it receives KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)
    elif received and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def training_stopped(epochs_done: int, epochs: int, within: str | None,
                     checkpoints: Checkpoints | None) -> Interrupted:
    """The error to raise on Ctrl-C: where training stopped and what the checkpoint holds.

    Parameters
    ----------
    epochs_done, epochs : int
        Complete epochs so far, and of the whole run.
    within : str, optional
        How far the next epoch got, e.g. ``"batch 3 of 10"`` or ``"1,200 of 5,000 words"``
        (None: it had not started).
    checkpoints : Checkpoints, optional

    Returns
    -------
    Interrupted
        E.g. ``"training stopped in epoch 3 of 4, after batch 5 of 10; the checkpoint
        ck.npz holds epoch 2"`` or ``"training stopped after epoch 1 of 4; no checkpoint
        written yet"``.
    """
    if within:
        where = f"training stopped in epoch {epochs_done + 1} of {epochs}, after {within}"
    elif epochs_done:
        where = f"training stopped after epoch {epochs_done} of {epochs}"
    else:
        where = f"training stopped in epoch 1 of {epochs}"
    if checkpoints is not None and checkpoints.path is not None:
        where += (f"; the checkpoint {describe(checkpoints.path)} holds epoch "
                  f"{checkpoints.holds}" if checkpoints.holds else "; no checkpoint written yet")
    return Interrupted(where)
