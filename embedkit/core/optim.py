"""Optimizers: SGD (with optional momentum), RMSProp, Adam and Adagrad, dense and sparse.

An optimizer holds a list of parameter tensors. ``step()`` reads each ``p.grad`` and updates
``p.data`` in place:

- a dense gradient (an ndarray of the parameter's shape) updates every entry;
- a :class:`~embedkit.core.tensor.SparseRows` gradient (from ``gather``) updates only the rows
  it touches. Optimizers with state (momentum, RMSProp, Adam, Adagrad) first sum the values of
  repeated ids, then update that state *lazily*, on the touched rows only, as PyTorch's
  ``SparseAdam`` does: an untouched row's moments neither decay nor move. Adam's bias
  correction uses the global step count. Plain SGD needs no merging: it adds ``−lr·g`` to
  the rows in one pass, repeated ids one after the other, which equals the dense step up to
  the rounding of that order (exactly when the partial sums are exact).

State arrays have the parameter's dtype, so float32 parameters stay float32. The learning rate
is a number or a schedule (:mod:`embedkit.core.schedules`) asked before every step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from embedkit.core.schedules import Schedule, constant
from embedkit.core.tensor import SparseRows, Tensor


class Optimizer:
    """Base class: applies gradients to parameters; subclasses define :meth:`_update`.

    Parameters
    ----------
    params : sequence of Tensor
        The tensors to train (their ``grad`` is read, their ``data`` updated in place).
    lr : float or Schedule
        The learning rate, or a callable mapping the number of steps taken to the rate.

    Attributes
    ----------
    steps : int
        Number of ``step()`` calls so far.
    state : list of dict
        Per parameter, the named state arrays (same shape and dtype as the parameter).
    """

    #: Names of the per-parameter state arrays the subclass keeps.
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Sequence[Tensor], lr: float | Schedule):
        self.params = list(params)
        self._schedule: Schedule = lr if callable(lr) else constant(lr)
        self.steps = 0
        self.state = [{name: np.zeros_like(p.data) for name in self.state_names}
                      for p in self.params]

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        return float(self._schedule(self.steps))

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (call before each backward pass)."""
        for p in self.params:
            p.grad = None

    def step(self, lr: float | None = None) -> None:
        """Apply each parameter's gradient (parameters without one are left alone).

        Parameters
        ----------
        lr : float, optional
            The rate of this step instead of the schedule's (for a caller whose rate follows
            something other than the step count, e.g. word2vec's words processed).
        """
        lr = self.lr if lr is None else float(lr)
        for p, state in zip(self.params, self.state, strict=True):
            if isinstance(p.grad, SparseRows):
                self._sparse_step(p, p.grad, state, lr)
            elif p.grad is not None:
                self._update(p.data, np.asarray(p.grad), state, lr)
        self.steps += 1

    def _sparse_step(self, p: Tensor, grad: SparseRows, state: dict[str, np.ndarray],
                     lr: float) -> None:
        """Update the touched rows of the parameter and of its state (repeated ids summed
        first)."""
        grad = grad.coalesce()
        ids = grad.ids
        rows = p.data[ids]
        row_state = {name: array[ids] for name, array in state.items()}
        self._update(rows, grad.values, row_state, lr)
        p.data[ids] = rows
        for name, array in state.items():
            array[ids] = row_state[name]

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                lr: float) -> None:
        """Update ``param`` and ``state`` in place from ``grad`` (all of the same shape)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Step count and state arrays (copies), keyed ``"steps"`` and ``"<param index>.<name>"``,
        ready for ``np.savez``."""
        d = {"steps": np.asarray(self.steps)}
        for i, state in enumerate(self.state):
            d.update({f"{i}.{name}": array.copy() for name, array in state.items()})
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        """Resume from :meth:`state_dict` output (same parameters in the same order).

        Raises
        ------
        ValueError
            When an array is missing or has another shape than the optimizer's.
        """
        for i, state in enumerate(self.state):
            for name, array in state.items():
                key = f"{i}.{name}"
                if key not in d or np.shape(d[key]) != array.shape:
                    raise ValueError(f"optimizer state {key!r}: expected an array of shape "
                                     f"{array.shape}, got "
                                     f"{np.shape(d[key]) if key in d else 'nothing'}")
                np.copyto(array, d[key], casting="same_kind")
        self.steps = int(d["steps"])


class SGD(Optimizer):
    """Stochastic gradient descent, ``p ← p − lr·g``; with momentum ``μ``:
    ``v ← μ v + g``, ``p ← p − lr·v`` (PyTorch's convention)."""

    def __init__(self, params: Sequence[Tensor], lr: float | Schedule, momentum: float = 0.0):
        _check_fraction("momentum", momentum)
        self.momentum = momentum
        self.state_names = ("velocity",) if momentum else ()
        super().__init__(params, lr)

    def _sparse_step(self, p, grad, state, lr):
        if self.momentum or not p.data.flags.c_contiguous:
            super()._sparse_step(p, grad, state, lr)
        else:  # one pass adding -lr·g to the touched rows: no merging, no gathered copy
            grad.add_to(p.data, -lr)

    def _update(self, param, grad, state, lr):
        if self.momentum:
            velocity = state["velocity"]
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        param -= lr * grad


class RMSProp(Optimizer):
    """``s ← ρ s + (1 − ρ) g²``, ``p ← p − lr·g / (√s + ε)``."""

    state_names = ("square_avg",)

    def __init__(self, params: Sequence[Tensor], lr: float | Schedule = 1e-3,
                 decay: float = 0.9, eps: float = 1e-8):
        _check_fraction("decay", decay)
        self.decay, self.eps = decay, eps
        super().__init__(params, lr)

    def _update(self, param, grad, state, lr):
        square_avg = state["square_avg"]
        square_avg *= self.decay
        square_avg += (1 - self.decay) * np.square(grad)
        param -= lr * grad / (np.sqrt(square_avg) + self.eps)


class Adam(Optimizer):
    """Adam: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``p ← p − lr·m̂ / (√v̂ + ε)`` with bias-corrected ``m̂ = m / (1−β₁ᵗ)``, ``v̂ = v / (1−β₂ᵗ)``."""

    state_names = ("m", "v")

    def __init__(self, params: Sequence[Tensor], lr: float | Schedule = 1e-3,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        _check_fraction("beta1", beta1)
        _check_fraction("beta2", beta2)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        super().__init__(params, lr)

    def _update(self, param, grad, state, lr):
        m, v = state["m"], state["v"]
        t = self.steps + 1
        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * np.square(grad)
        # a few in-place operations instead of one expression: fewer temporaries on big tables
        step = np.sqrt(v)
        step /= math.sqrt(1 - self.beta2 ** t)
        step += self.eps
        np.divide(m, step, out=step)
        step *= lr / (1 - self.beta1 ** t)
        param -= step


class Adagrad(Optimizer):
    """``s ← s + g²``, ``p ← p − lr·g / (√s + ε)``."""

    state_names = ("sum_squares",)

    def __init__(self, params: Sequence[Tensor], lr: float | Schedule = 1e-2,
                 eps: float = 1e-10):
        self.eps = eps
        super().__init__(params, lr)

    def _update(self, param, grad, state, lr):
        sum_squares = state["sum_squares"]
        sum_squares += np.square(grad)
        param -= lr * grad / (np.sqrt(sum_squares) + self.eps)


def _check_fraction(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
