"""Penalties added to the reconstruction error: L1 on the codes (sparse autoencoders), the
contractive penalty and weight decay. Each is a graph on the core, so its gradient is exact."""

from __future__ import annotations

from dataclasses import dataclass

from embedkit.ae.models import Architecture
from embedkit.core import Tensor, ops
from embedkit.errors import ParameterError


def contractive_penalty(arch: Architecture, params: dict[str, Tensor], a: Tensor,
                        h: Tensor) -> Tensor:
    """Mean over rows of ``‖J(x)‖_F²``, the squared Frobenius norm of the encoder's Jacobian.

    For ``h = f(W x + b)`` the Jacobian is ``diag(f'(a)) W``, so the norm is
    ``Σ_j f'(a_j)² ‖W_j‖²`` (THEORY.md §4); for the linear kind it is ``‖W‖_F²``.
    """
    row_norms = ops.sum(params["W"] * params["W"], axis=1)
    slope = arch.derivative(a, h)
    if slope is None:
        return ops.sum(row_norms)
    return ops.sum(slope * slope * row_norms) / len(a)


@dataclass(frozen=True)
class Penalties:
    """Weights of the regularisers (0 switches one off).

    Parameters
    ----------
    l1 : float
        Times the mean over rows of ``Σ_j |h_j|``.
    contractive : float
        Times :func:`contractive_penalty`.
    weight_decay : float
        Times ``Σ w²`` over the weight matrices (not the biases).
    """

    l1: float = 0.0
    contractive: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("l1", "contractive", "weight_decay"):
            value = getattr(self, name)
            if not value >= 0 or value == float("inf"):
                raise ParameterError(f"{name} must be a finite number ≥ 0, got {value}",
                                     params=(name,))

    def __call__(self, arch: Architecture, params: dict[str, Tensor], a: Tensor,
                 h: Tensor) -> Tensor | None:
        """The weighted sum of the active penalties, or None when all are off."""
        terms = []
        if self.l1:
            terms.append(self.l1 / len(h) * ops.l1_penalty(h))
        if self.contractive:
            terms.append(self.contractive * contractive_penalty(arch, params, a, h))
        if self.weight_decay:
            terms.extend(self.weight_decay * ops.l2_penalty(params[name])
                         for name in ("W", "U") if name in params)
        if not terms:
            return None
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total


def objective(arch: Architecture, params: dict[str, Tensor], x_in: Tensor, target: Tensor,
              penalties: Penalties) -> tuple[Tensor, Tensor]:
    """The training loss: mean squared reconstruction error of ``target`` from ``x_in``
    (the corrupted input when denoising) plus the penalties.

    Returns
    -------
    (Tensor, Tensor)
        The total loss and the reconstruction error alone.
    """
    a, h = arch.encode(params, x_in)
    error = ops.mse(arch.decode(params, h), target)
    extra = penalties(arch, params, a, h)
    return (error if extra is None else error + extra), error
