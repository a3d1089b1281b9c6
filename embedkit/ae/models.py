"""Autoencoder graphs on the core: parameters, encoder, decoder and the reconstruction loss.

A model is ``x̂ = g(U f(W x + b) + c)``. The linear kind has ``f = g = identity`` and no biases
(the data are centred instead); tied models use ``U = Wᵀ``. Parameters are a dict of arrays
(``W`` always, ``U`` when untied, ``b`` and ``c`` for the nonlinear kind); the functions here
take the same dict with :class:`~embedkit.core.Tensor` values, so one definition serves training
(gradients recorded), inference (under ``no_grad``) and gradient checking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from embedkit.core import Tensor, ops, primitive
from embedkit.errors import EmbedkitError, ParameterError

KINDS = ("linear", "nonlinear")
OUTPUT_ACTIVATIONS = ("identity", "sigmoid")


@primitive
def linear(x, w):
    """``x wᵀ`` for a batch ``x`` (rows) and a weight ``w`` (out × in), as in a dense layer.

    Its own primitive so that ``wᵀ`` is not a node of the graph: the VJPs ``ḡ w`` and
    ``ḡᵀ x`` come out in the shapes of ``x`` and ``w``, with no transposed copy to add back.
    """
    return x @ w.T


linear.defvjp(lambda g, ans, x, w: g @ w, lambda g, ans, x, w: g.T @ x)


#: Hidden activations ``f``: the forward op, and its derivative ``f'(a, h)`` from the
#: pre-activation ``a`` and the activation ``h``, as a graph (the contractive penalty
#: differentiates it); both from :mod:`embedkit.core.ops`.
ACTIVATIONS: dict[str, tuple[Callable[..., Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "sigmoid": (ops.sigmoid, ops.sigmoid_derivative),
    "tanh": (ops.tanh, ops.tanh_derivative),
    "relu": (ops.relu, ops.relu_derivative),
    "leaky_relu": (ops.leaky_relu, ops.leaky_relu_derivative),
    "elu": (ops.elu, ops.elu_derivative),
    "swish": (ops.swish, ops.swish_derivative),
}


@dataclass(frozen=True)
class Architecture:
    """The shape of an autoencoder, independent of its weights.

    Parameters
    ----------
    kind : {"linear", "nonlinear"}
    tied : bool
        Decoder weights are the encoder's transposed.
    activation : str
        Hidden activation of the nonlinear kind, a key of :data:`ACTIVATIONS`.
    output_activation : {"identity", "sigmoid"}
        Output activation ``g`` of the nonlinear kind.
    """

    kind: str = "linear"
    tied: bool = True
    activation: str = "sigmoid"
    output_activation: str = "identity"

    def __post_init__(self) -> None:
        for field, value, allowed in (("kind", self.kind, KINDS),
                                      ("activation", self.activation, tuple(ACTIVATIONS)),
                                      ("output_activation", self.output_activation,
                                       OUTPUT_ACTIVATIONS)):
            if value not in allowed:
                raise ParameterError(f"{field} {value!r} is not one of {', '.join(allowed)}",
                                    params=(field,))

    @property
    def linear(self) -> bool:
        return self.kind == "linear"

    def init_params(self, n_features: int, n_hidden: int, rng: np.random.Generator,
                    dtype: DTypeLike, name: str = "X") -> dict[str, np.ndarray]:
        """Glorot-uniform weights and zero biases; ``name`` is the data's name in errors.

        Raises
        ------
        ParameterError
            When the hidden size (``n_components``) is below 1.
        EmbedkitError
            When a linear model's hidden size is not below the number of features (it would
            learn the identity).
        """
        if n_hidden < 1:
            raise ParameterError(f"n_components must be at least 1, got {n_hidden}",
                                 params=("n_components",))
        if self.linear and n_hidden >= n_features:
            raise EmbedkitError(f"{name}: a linear autoencoder needs n_components below the "
                                f"number of features (n_features={n_features}), got {n_hidden}",
                                params=("n_components",))
        limit = np.sqrt(6.0 / (n_features + n_hidden))
        params = {"W": rng.uniform(-limit, limit, (n_hidden, n_features)).astype(dtype)}
        if not self.tied:
            params["U"] = rng.uniform(-limit, limit, (n_features, n_hidden)).astype(dtype)
        if not self.linear:
            params["b"] = np.zeros(n_hidden, dtype=dtype)
            params["c"] = np.zeros(n_features, dtype=dtype)
        return params

    def encode(self, params: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
        """The pre-activation ``a = W x + b`` and the code ``h = f(a)`` of each row of ``x``."""
        a = linear(x, params["W"])
        if self.linear:
            return a, a
        a = a + params["b"]
        return a, ACTIVATIONS[self.activation][0](a)

    def decoder_weight(self, params: dict[str, Tensor]) -> Tensor:
        """``U`` (features × hidden): ``Wᵀ`` when tied."""
        return params["W"].T if self.tied else params["U"]

    def decode(self, params: dict[str, Tensor], h: Tensor) -> Tensor:
        """The reconstruction ``g(U h + c)`` of each code row."""
        # tied: h W, through matmul, whose VJP for W (hᵀ ḡ) already has W's shape
        out = (ops.matmul(h, params["W"]) if self.tied
               else linear(h, params["U"]))
        if self.linear:
            return out
        out = out + params["c"]
        return ops.sigmoid(out) if self.output_activation == "sigmoid" else out

    def derivative(self, a: Tensor, h: Tensor) -> Tensor | None:
        """``f'(a)`` as a graph, or None for the linear kind (``f' = 1``)."""
        return None if self.linear else ACTIVATIONS[self.activation][1](a, h)
