"""The training loop: shuffled minibatches, fresh noise per batch, an optimizer of the core
with a held-then-annealed learning rate, early stopping on a validation split, checkpoints to
resume from, a stop with :class:`DivergenceError` on NaN/inf and with :class:`Interrupted`
(saying where) on Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embedkit import streaming
from embedkit.ae import blocks
from embedkit.ae.checkpoint import TrainingState, save_checkpoint
from embedkit.ae.models import Architecture
from embedkit.ae.noise import Noise
from embedkit.ae.regularizers import Penalties, objective
from embedkit.core import Tensor, no_grad
from embedkit.core.optim import SGD, Adagrad, Adam, Optimizer, RMSProp
from embedkit.core.schedules import Schedule, cosine
from embedkit.errors import DivergenceError, EmbedkitError, ParameterError
from embedkit.training import Checkpoints, training_stopped

OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD, "rmsprop": RMSProp,
                                          "adagrad": Adagrad}
#: The learning rate ends at ``lr * FINAL_LR_FRACTION``: constant-lr Adam stalls at its noise
#: floor, degrees away from the optimum subspace (MEASUREMENTS.md).
FINAL_LR_FRACTION = 1e-3
#: An epoch whose mean squared error exceeds this multiple of the error training started from
#: has diverged, even while every number is still finite.
DIVERGED = 1e4
#: Share of the steps at the full learning rate before the cosine anneal (see learning_rate).
HOLD_FRACTION = 0.8

Callback = Callable[[dict], None]


@dataclass(frozen=True)
class TrainingSettings:
    """How to train (the estimator's hyper-parameters, validated).

    ``epochs`` may be 0 (the initial weights are kept). ``patience`` is the number of epochs
    without a better validation loss before stopping early (only with ``val_split > 0``).
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 50
    batch_size: int = 256
    val_split: float = 0.0
    patience: int = 10

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"optimizer {self.optimizer!r} is not one of "
                                f"{', '.join(OPTIMIZERS)}", params=("optimizer",))
        checks = (("lr", self.lr > 0 and np.isfinite(self.lr), "a number > 0"),
                  ("epochs", self.epochs >= 0, "an integer ≥ 0"),
                  ("batch_size", self.batch_size >= 1, "an integer ≥ 1"),
                  ("val_split", 0 <= self.val_split < 1, "a fraction in [0, 1)"),
                  ("patience", self.patience >= 1, "an integer ≥ 1"))
        for name, ok, expected in checks:
            if not ok:
                raise ParameterError(f"{name} must be {expected}, got {getattr(self, name)}",
                                    params=(name,))


def split_validation(n_rows: int, fraction: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Row ids for training and for validation (a random ``fraction``, at least one row)."""
    order = rng.permutation(n_rows)
    n_val = int(round(fraction * n_rows)) if fraction else 0
    if fraction and not 1 <= n_val < n_rows:
        raise EmbedkitError(f"val_split {fraction} leaves no rows for training or validation "
                            f"out of {n_rows}", params=("val_split",))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def learning_rate(lr: float, total_steps: int) -> Schedule:
    """The default schedule: ``lr`` for the first :data:`HOLD_FRACTION` of the steps, then a
    cosine down to ``lr * FINAL_LR_FRACTION`` at ``total_steps``.

    Holding first matters for nonlinear models, which are still far from converged after a
    few dozen epochs (annealing from the first step cost 20–30% in reconstruction error in the
    denoising benchmark on digits); the final anneal takes linear models below Adam's noise
    floor.
    """
    hold = int(HOLD_FRACTION * total_steps)
    anneal = cosine(lr, lr * FINAL_LR_FRACTION, max(1, total_steps - hold))
    return lambda step: lr if step < hold else anneal(step - hold)


def train(arch: Architecture, params: dict[str, np.ndarray], X: np.ndarray,
          settings: TrainingSettings, rng: np.random.Generator, *, noise: Noise | None = None,
          penalties: Penalties = Penalties(), callback: Callback | None = None,
          checkpoints: Checkpoints | None = None, context: dict | None = None,
          resume: TrainingState | None = None, schedule: Schedule | None = None,
          mean: np.ndarray | None = None) -> list[dict]:
    """Fit ``params`` (updated in place) to reconstruct the rows of ``X``.

    Parameters
    ----------
    arch : Architecture
    params : dict of ndarray
        Initial weights (:meth:`Architecture.init_params`); the best ones found are left here.
    X : ndarray, shape (n_rows, n_features)
        Training data, in memory or memory-mapped (:func:`~embedkit.streaming.is_mapped`):
        a mapped matrix is streamed, each epoch visiting runs of consecutive rows in a random
        order (:func:`~embedkit.ae.blocks.epoch_order`), with at most about two blocks of it
        resident. Batches are cast to the dtype of ``params``.
    settings : TrainingSettings
        The learning rate follows :func:`learning_rate` over ``settings.epochs`` unless
        ``schedule`` is given.
    rng : numpy.random.Generator
        Source of the split, the batch order and the noise.
    noise : Noise, optional
        Corrupt each batch's input; the clean batch is the target.
    penalties : Penalties
    callback : callable, optional
        Called with ``{"event": "start", "total_steps", "steps_done"}`` first, ``{"event":
        "batch", "steps": 1}`` after every step and with
        ``{"event": "epoch", "epoch", "epochs", "train_loss", "train_mse", "val_mse", "lr",
        "seconds"}`` after every epoch (``val_mse`` is None without a split, ``lr`` the rate
        at the epoch's end), once the epoch's
        checkpoint is written.
    checkpoints : Checkpoints, optional
        Where and how often to save the training state.
    context : dict, optional
        Saved with it: what a resuming run must share (see
        :func:`~embedkit.ae.checkpoint.load_checkpoint`).
    resume : TrainingState, optional
        Continue from this state (it replaces ``params`` and the state of ``rng``); with the
        same ``X`` and settings the result is bit-identical to an uninterrupted run.
    schedule : callable, optional
        The learning rate at each step instead of the default (e.g.
        :func:`~embedkit.core.schedules.constant` to compare with other libraries).
    mean : ndarray of shape (n_features,), optional
        Subtracted from every batch (centring without a centred copy of ``X``).

    Returns
    -------
    list of dict
        The epoch records (those before ``resume`` included).

    Raises
    ------
    DivergenceError
        When the loss or the weights become NaN or infinite.
    Interrupted
        On Ctrl-C, saying in which epoch and batch training stopped and which epoch the last
        checkpoint holds.
    """
    if resume is None:
        state = TrainingState(0, params, {}, {}, *split_validation(len(X), settings.val_split,
                                                                   rng))
    else:
        state = resume
        rng.bit_generator.state = resume.rng
    n_rows = len(state.train_rows) + len(state.val_rows)
    if n_rows != len(X):
        raise EmbedkitError(f"the checkpoint was written for {n_rows} rows, the data have "
                            f"{len(X)}")
    tensors = {name: Tensor(value, requires_grad=True) for name, value in state.params.items()}
    dtype = next(iter(state.params.values())).dtype
    n_batches = -(-len(state.train_rows) // settings.batch_size)
    if schedule is None:
        schedule = learning_rate(settings.lr, max(1, settings.epochs * n_batches))
    optimizer = OPTIMIZERS[settings.optimizer](list(tensors.values()), lr=schedule)
    if state.optimizer:
        optimizer.load_state_dict(state.optimizer)
    if callback:
        callback({"event": "start", "total_steps": settings.epochs * n_batches,
                  "steps_done": optimizer.steps})
    if checkpoints is not None:
        checkpoints.holds = state.epoch
    try:
        while state.epoch < settings.epochs and state.waited < settings.patience:
            # overflow happens only on the way to a non-finite loss or weights, which stop
            # the run with DivergenceError: no RuntimeWarning lines before that message
            with np.errstate(over="ignore", invalid="ignore"):
                record = _epoch(arch, tensors, _Rows(X, mean, dtype), settings, optimizer,
                                rng, state, noise, penalties, callback)
            _update_best(state, tensors, record["val_mse"])
            state.history.append(record)
            last = state.epoch == settings.epochs or state.waited >= settings.patience
            if checkpoints is not None:
                checkpoints.after_epoch(state.epoch, last, lambda path: save_checkpoint(
                    path, _snapshot(state, tensors, optimizer, rng), context or {}))
            if callback:
                callback(record)
    except KeyboardInterrupt:
        batch = optimizer.steps - state.epoch * n_batches
        within = f"batch {batch} of {n_batches}" if 0 < batch <= n_batches else None
        raise training_stopped(state.epoch, settings.epochs, within, checkpoints) from None
    for name, t in tensors.items():
        params[name] = state.best[name] if state.best is not None else t.data
    return state.history


class _Rows:
    """The training matrix as batches: gathered, centred and cast into one reused buffer."""

    def __init__(self, X: np.ndarray, mean: np.ndarray | None, dtype: np.dtype) -> None:
        self.X, self.dtype = X, dtype
        self.mean = np.zeros(X.shape[1]) if mean is None else mean
        self.block = streaming.block_rows(X) if streaming.is_mapped(X) else None
        self._since_release = 0

    def batch(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        batch = blocks.centred_rows(self.X, rows, self.mean, self.dtype, out=out[:len(rows)])
        if self.block is not None:
            # the epoch's order reads a run of consecutive rows at a time: once a run's worth
            # has been read, its pages can go (the file stays in the page cache)
            self._since_release += len(rows)
            if self._since_release >= self.block:
                streaming.release(self.X)
                self._since_release = 0
        return batch

    def error(self, arch: Architecture, tensors: dict[str, Tensor], rows: np.ndarray
              ) -> float:
        return reconstruction_error(arch, tensors, self.X, rows=rows, mean=self.mean,
                                    dtype=self.dtype)


def _epoch(arch: Architecture, tensors: dict[str, Tensor], data: _Rows,
           settings: TrainingSettings, optimizer: Optimizer, rng: np.random.Generator,
           state: TrainingState, noise: Noise | None, penalties: Penalties,
           callback: Callback | None) -> dict:
    """One pass over the training rows in a fresh order; returns the epoch's record."""
    started = time.perf_counter()
    epoch = state.epoch + 1
    order = blocks.epoch_order(state.train_rows, rng, data.block)
    sum_loss = sum_mse = 0.0
    # Batches are gathered into one buffer: a fresh array per step page-faults its memory
    # in again, which cost a linear autoencoder ~15% of its epoch.
    buffer = np.empty((settings.batch_size, data.X.shape[1]), dtype=data.dtype)
    for start in range(0, len(order), settings.batch_size):
        rows = order[start:start + settings.batch_size]
        batch = data.batch(rows, buffer)
        x_in = batch if noise is None else noise(batch, rng)
        loss, mse = objective(arch, tensors, Tensor(x_in), Tensor(batch), penalties)
        loss_value = loss.item()
        if not np.isfinite(loss_value):
            with np.errstate(over="ignore"):  # the message says it; no warning line before
                squares = float(np.sum(np.square(batch)))
            raise _diverged(f"training diverged at epoch {epoch} (loss {loss_value})", noise,
                            penalties, stepped=optimizer.steps > 0,
                            data_too_large=not np.isfinite(squares))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sum_loss += loss_value * len(batch)
        sum_mse += mse.item() * len(batch)
        if start == 0:
            first_mse = mse.item()
        if callback:
            callback({"event": "batch", "steps": 1})
    if not all(np.isfinite(t.data).all() for t in tensors.values()):
        raise _diverged(f"training diverged at epoch {epoch} (weights are not finite)", noise,
                        penalties)
    # finite but exploding: the error far above where training started (the first epoch's
    # mean, or within the first epoch its first batch) is divergence too
    reference = state.history[0]["train_mse"] if state.history else first_mse
    if reference > 0 and sum_mse / len(order) > DIVERGED * reference:
        raise _diverged(f"training diverged at epoch {epoch} (mean squared error "
                        f"{sum_mse / len(order):.3g}, over {DIVERGED:g} times the "
                        f"{reference:.3g} it started from)", noise, penalties)
    state.epoch = epoch
    val_mse = data.error(arch, tensors, state.val_rows) if len(state.val_rows) else None
    return {"event": "epoch", "epoch": epoch, "epochs": settings.epochs,
            "train_loss": sum_loss / len(order), "train_mse": sum_mse / len(order),
            "val_mse": val_mse, "lr": optimizer.lr, "seconds": time.perf_counter() - started}


def _diverged(what: str, noise: Noise | None, penalties: Penalties, stepped: bool = True,
              data_too_large: bool = False) -> DivergenceError:
    """The error for a divergence (``what`` says how it showed), advising what can cause it:
    data whose squares overflow (``data_too_large``: the batch's sum of squares is not
    finite), else the learning rate once a step was taken and the settings that scale the
    loss or its input (Gaussian noise, penalties)."""
    causes = ["noise"] if noise is not None and noise.kind == "gaussian" else []
    causes += [name for name in ("l1", "contractive", "weight_decay") if getattr(penalties, name)]
    if stepped:
        causes.insert(0, "lr")
    if data_too_large or not causes:
        causes = []
        advice = "the data's values are too large to square in this precision: scale them down"
    else:
        advice = f"try a smaller {' or '.join(causes)}"
    return DivergenceError(f"{what}; nothing was written: {advice}", params=tuple(causes))


def _update_best(state: TrainingState, tensors: dict[str, Tensor], val_mse: float | None
                 ) -> None:
    """Early stopping's bookkeeping: keep the weights with the lowest validation error."""
    if val_mse is None:
        return
    if val_mse < state.best_loss:
        state.best_loss, state.waited = val_mse, 0
        state.best = {name: t.data.copy() for name, t in tensors.items()}
    else:
        state.waited += 1


def _snapshot(state: TrainingState, tensors: dict[str, Tensor], optimizer: Optimizer,
              rng: np.random.Generator) -> TrainingState:
    """``state`` with the current weights, optimizer and generator states filled in."""
    state.params = {name: t.data for name, t in tensors.items()}
    state.optimizer = optimizer.state_dict()
    state.rng = rng.bit_generator.state
    return state


def reconstruction_error(arch: Architecture, params: dict[str, Tensor] | dict[str, np.ndarray],
                         X: np.ndarray, *, rows: np.ndarray | None = None,
                         mean: np.ndarray | None = None, dtype: np.dtype | None = None
                         ) -> float:
    """Mean squared reconstruction error of the rows of ``X`` (no noise, no penalties).

    ``rows`` (default: all) are taken ``mean`` subtracted and cast to ``dtype`` (default:
    ``X``'s), one block at a time, so a memory-mapped ``X`` is never read whole.
    """
    tensors = {name: value if isinstance(value, Tensor) else Tensor(value)
               for name, value in params.items()}
    rows = np.arange(len(X)) if rows is None else rows
    mean = np.zeros(X.shape[1]) if mean is None else mean
    step = streaming.block_rows(X)
    total = 0.0
    with no_grad():
        for start in range(0, len(rows), step):
            picked = rows[start:start + step]
            batch = blocks.centred_rows(X, picked, mean, dtype or X.dtype)
            if streaming.is_mapped(X):
                streaming.release(X)
            _, h = arch.encode(tensors, Tensor(batch))
            total += float(np.sum(np.square(arch.decode(tensors, h).data - batch),
                                  dtype=np.float64))
    return total / (len(rows) * X.shape[1])
