"""Every autoencoder kind registered with :mod:`embedkit.core.gradcheck` (``embedkit
gradcheck --op ae.…``): the full training objective, differentiated with respect to every
parameter and the input, in float64. Denoising trains the same graph on a corrupted input,
so it needs no case of its own."""

from __future__ import annotations

import numpy as np

from embedkit.ae.models import ACTIVATIONS, Architecture, linear
from embedkit.ae.regularizers import Penalties, objective
from embedkit.core import Tensor
from embedkit.core.gradcheck import Case, register_check

N_FEATURES, N_HIDDEN, N_ROWS = 5, 3, 4


def _cases(arch: Architecture, penalties: Penalties):
    def make(rng: np.random.Generator) -> list[Case]:
        params = arch.init_params(N_FEATURES, N_HIDDEN, rng, np.float64)
        names = list(params)
        # random (nonzero) biases, so relu and friends see both signs
        inputs = [rng.normal(0, 0.5, value.shape) for value in params.values()]
        x = rng.standard_normal((N_ROWS, N_FEATURES))
        target = rng.standard_normal((N_ROWS, N_FEATURES))

        def loss(*tensors):
            *weights, x_in = tensors
            return objective(arch, dict(zip(names, weights, strict=True)), x_in, x_in, penalties)[0]

        def denoise(*weights):
            return objective(arch, dict(zip(names, weights, strict=True)), Tensor(x),
                             Tensor(target), penalties)[0]

        return [Case(loss, (*inputs, x), f"{' '.join(names)} x"),
                Case(denoise, tuple(inputs), f"{' '.join(names)}, input≠target")]
    return make


def _linear_primitive(rng: np.random.Generator) -> list[Case]:
    return [Case(linear, (rng.standard_normal((4, 5)), rng.standard_normal((3, 5))))]


def register() -> None:
    """Register the checks (idempotent)."""
    register_check("ae.linear", _linear_primitive)
    for tied in (True, False):
        name = "tied" if tied else "untied"
        register_check(f"ae.linear_{name}", _cases(Architecture("linear", tied), Penalties()))
        for activation in ACTIVATIONS:
            register_check(f"ae.nonlinear_{name}_{activation}",
                           _cases(Architecture("nonlinear", tied, activation, "sigmoid"),
                                  Penalties()))
    for activation in ACTIVATIONS:
        register_check(f"ae.contractive_{activation}",
                       _cases(Architecture("nonlinear", False, activation), Penalties(
                           contractive=0.7)))
    register_check("ae.contractive_linear", _cases(Architecture("linear"),
                                                   Penalties(contractive=0.7)))
    register_check("ae.l1_weight_decay", _cases(Architecture("nonlinear", True, "tanh"),
                                                Penalties(l1=0.3, weight_decay=0.2)))
