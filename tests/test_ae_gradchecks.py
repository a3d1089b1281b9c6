"""The autoencoder checks of `embedkit gradcheck --op ae.…`: one per kind, each computing the
training objective of the kind it names, with nonzero biases, on an input that is also the
target and (denoising) on an input that is not; all pass."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import gradchecks
from embedkit.ae.models import ACTIVATIONS, Architecture, linear
from embedkit.ae.regularizers import Penalties, objective
from embedkit.core import Tensor
from embedkit.core.gradcheck import _CHECKS, registered_checks, run_checks

KINDS = {
    "ae.linear_tied": (Architecture("linear", True), Penalties()),
    "ae.linear_untied": (Architecture("linear", False), Penalties()),
    **{f"ae.nonlinear_{name}_{act}": (Architecture("nonlinear", tied, act, "sigmoid"),
                                      Penalties())
       for tied, name in ((True, "tied"), (False, "untied")) for act in ACTIVATIONS},
    **{f"ae.contractive_{act}": (Architecture("nonlinear", False, act),
                                 Penalties(contractive=0.7)) for act in ACTIVATIONS},
    "ae.contractive_linear": (Architecture("linear"), Penalties(contractive=0.7)),
    "ae.l1_weight_decay": (Architecture("nonlinear", True, "tanh"),
                           Penalties(l1=0.3, weight_decay=0.2)),
}


@pytest.fixture(autouse=True)
def registered():
    """Register again (it is idempotent): the checks then come from the module's functions as
    they are now, not as they were when ``import embedkit.ae`` registered them."""
    gradchecks.register()


def test_every_kind_has_its_check():
    assert sorted(n for n in registered_checks() if n.startswith("ae.")) == sorted(
        ["ae.linear", *KINDS])


def test_the_linear_primitive_is_checked_on_a_batch():
    [case] = _CHECKS["ae.linear"](np.random.default_rng(0))
    assert case.fn is linear and case.shapes == "(4,5) (3,5)"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_check_computes_the_objective_of_its_kind(name):
    arch, penalties = KINDS[name]
    plain, denoising = _CHECKS[name](np.random.default_rng(0))
    names = list(arch.init_params(5, 3, np.random.default_rng(0), np.float64))
    *weights, x = plain.inputs
    shapes = {"W": (3, 5), "U": (5, 3), "b": (3,), "c": (5,)}
    assert [w.shape for w in weights] == [shapes[n] for n in names] and x.shape == (4, 5)
    assert all(np.all(w != 0) for w in weights)  # biases too: relu sees both signs
    assert plain.detail == " ".join(names) + " x"  # the op table's shapes column
    assert denoising.detail == " ".join(names) + ", input≠target"
    params = {n: Tensor(w) for n, w in zip(names, weights, strict=True)}
    expected = objective(arch, params, Tensor(x), Tensor(x), penalties)[0].data
    assert plain.fn(*map(Tensor, plain.inputs)).data == pytest.approx(expected, rel=1e-12)
    assert len(denoising.inputs) == len(weights)
    for given, own in zip(denoising.inputs, weights, strict=True):
        np.testing.assert_array_equal(given, own)
    # the denoising case's target: the generator's next draw after the weights and x
    rng = np.random.default_rng(0)
    arch.init_params(5, 3, rng, np.float64)
    for w in weights:
        rng.normal(0, 0.5, w.shape)
    np.testing.assert_array_equal(rng.standard_normal((4, 5)), x)
    target = rng.standard_normal((4, 5))
    assert denoising.fn(*map(Tensor, weights)).data == pytest.approx(
        objective(arch, params, Tensor(x), Tensor(target), penalties)[0].data, rel=1e-12)
    assert denoising.fn(*map(Tensor, weights)).data != pytest.approx(expected, rel=1e-3)


def test_the_weights_checked_are_of_scale_one_half_with_both_signs():
    values = np.concatenate([w.ravel() for name in KINDS
                             for w in _CHECKS[name](np.random.default_rng(0))[0].inputs[:-1]])
    assert len(values) > 500
    assert abs(values.mean()) < 0.1 and 0.4 < values.std() < 0.6


def test_every_autoencoder_check_passes():
    results = run_checks(np.random.default_rng(1), ["ae.linear", *sorted(KINDS)])
    assert len(results) == 1 + 2 * len(KINDS) and all(r.passed for r in results)
