"""The training loop: shuffled minibatches, fresh noise per batch, an optimizer of the core,
early stopping on a validation split, and a stop with :class:`DivergenceError` on NaN/inf."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embedkit.ae.models import Architecture
from embedkit.ae.noise import Noise
from embedkit.ae.regularizers import Penalties, objective
from embedkit.core import Tensor, no_grad
from embedkit.core.optim import SGD, Adagrad, Adam, Optimizer, RMSProp
from embedkit.core.schedules import cosine
from embedkit.errors import DivergenceError, EmbedkitError

OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD, "rmsprop": RMSProp,
                                          "adagrad": Adagrad}
#: The learning rate decays along a cosine from ``lr`` to ``lr * FINAL_LR_FRACTION``: constant-lr
#: Adam stalls at its noise floor, degrees away from the optimum subspace (MEASUREMENTS.md).
FINAL_LR_FRACTION = 1e-3

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
            raise EmbedkitError(f"optimizer {self.optimizer!r} is not one of "
                                f"{', '.join(OPTIMIZERS)}")
        checks = (("lr", self.lr > 0 and np.isfinite(self.lr), "a number > 0"),
                  ("epochs", self.epochs >= 0, "an integer ≥ 0"),
                  ("batch-size", self.batch_size >= 1, "an integer ≥ 1"),
                  ("val-split", 0 <= self.val_split < 1, "a fraction in [0, 1)"),
                  ("patience", self.patience >= 1, "an integer ≥ 1"))
        for name, ok, expected in checks:
            if not ok:
                value = getattr(self, name.replace("-", "_"))
                raise EmbedkitError(f"--{name} must be {expected}, got {value}")


def split_validation(n_rows: int, fraction: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Row ids for training and for validation (a random ``fraction``, at least one row)."""
    order = rng.permutation(n_rows)
    n_val = int(round(fraction * n_rows)) if fraction else 0
    if fraction and not 1 <= n_val < n_rows:
        raise EmbedkitError(f"--val-split {fraction} leaves no rows for training or validation "
                            f"out of {n_rows}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train(arch: Architecture, params: dict[str, np.ndarray], X: np.ndarray,
          settings: TrainingSettings, rng: np.random.Generator, *, noise: Noise | None = None,
          penalties: Penalties = Penalties(), callback: Callback | None = None
          ) -> list[dict]:
    """Fit ``params`` (updated in place) to reconstruct the rows of ``X``.

    Parameters
    ----------
    arch : Architecture
    params : dict of ndarray
        Initial weights (:meth:`Architecture.init_params`); the best ones found are left here.
    X : ndarray, shape (n_rows, n_features)
        Preprocessed (e.g. centred) training data, in the dtype to train in.
    settings : TrainingSettings
    rng : numpy.random.Generator
        Source of the split, the batch order and the noise.
    noise : Noise, optional
        Corrupt each batch's input; the clean batch is the target.
    penalties : Penalties
    callback : callable, optional
        Called with ``{"event": "start", "total_steps"}`` first, ``{"event": "batch",
        "steps": 1}`` after every step and with
        ``{"event": "epoch", "epoch", "epochs", "train_loss", "train_mse", "val_mse", "lr",
        "seconds"}`` after every epoch (``val_mse`` is None without a split).

    Returns
    -------
    list of dict
        The epoch records.

    Raises
    ------
    DivergenceError
        When the loss or the weights become NaN or infinite.
    """
    train_rows, val_rows = split_validation(len(X), settings.val_split, rng)
    X_val = X[val_rows]
    tensors = {name: Tensor(value, requires_grad=True) for name, value in params.items()}
    n_batches = -(-len(train_rows) // settings.batch_size)
    total_steps = max(1, settings.epochs * n_batches)
    optimizer = OPTIMIZERS[settings.optimizer](
        list(tensors.values()), lr=cosine(settings.lr, settings.lr * FINAL_LR_FRACTION,
                                          total_steps))
    if callback:
        callback({"event": "start", "total_steps": settings.epochs * n_batches})
    history: list[dict] = []
    best, best_loss, waited = None, np.inf, 0
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        lr = optimizer.lr
        order = train_rows[rng.permutation(len(train_rows))]
        sum_loss = sum_mse = 0.0
        for start in range(0, len(order), settings.batch_size):
            batch = X[order[start:start + settings.batch_size]]
            x_in = batch if noise is None else noise(batch, rng)
            loss, mse = objective(arch, tensors, Tensor(x_in), Tensor(batch), penalties)
            loss_value = loss.item()
            if not np.isfinite(loss_value):
                raise DivergenceError(f"training diverged at epoch {epoch} (loss {loss_value}); "
                                      "nothing was written: try a smaller --lr")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sum_loss += loss_value * len(batch)
            sum_mse += mse.item() * len(batch)
            if callback:
                callback({"event": "batch", "steps": 1})
        if not all(np.isfinite(t.data).all() for t in tensors.values()):
            raise DivergenceError(f"training diverged at epoch {epoch} (weights are not "
                                  "finite); nothing was written: try a smaller --lr")
        val_mse = reconstruction_error(arch, tensors, X_val) if len(val_rows) else None
        record = {"event": "epoch", "epoch": epoch, "epochs": settings.epochs,
                  "train_loss": sum_loss / len(order), "train_mse": sum_mse / len(order),
                  "val_mse": val_mse, "lr": lr, "seconds": time.perf_counter() - started}
        history.append(record)
        if callback:
            callback(record)
        if val_mse is not None:
            if val_mse < best_loss:
                best_loss, waited = val_mse, 0
                best = {name: t.data.copy() for name, t in tensors.items()}
            else:
                waited += 1
                if waited >= settings.patience:
                    break
    for name, t in tensors.items():
        params[name] = best[name] if best is not None else t.data
    return history


def reconstruction_error(arch: Architecture, params: dict[str, Tensor] | dict[str, np.ndarray],
                         X: np.ndarray) -> float:
    """Mean squared reconstruction error of the rows of ``X`` (no noise, no penalties)."""
    with no_grad():
        tensors = {name: value if isinstance(value, Tensor) else Tensor(value)
                   for name, value in params.items()}
        _, h = arch.encode(tensors, Tensor(X))
        return float(np.mean(np.square(arch.decode(tensors, h).data - X)))
