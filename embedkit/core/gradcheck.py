"""Gradient checking: analytic gradients against central differences, in float64.

:func:`check_gradient` compares the gradients ``backward()`` computes with
``(f(θ + h eᵢ) − f(θ − h eᵢ)) / 2h`` for every entry of every input. A function with a
non-scalar output is reduced to the scalar ``Σ out ⊙ R`` for a fixed random ``R``, so every
entry of every VJP is exercised. :class:`~embedkit.core.tensor.SparseRows` gradients are
densified for the comparison only.

Error metric, elementwise over all inputs::

    abs_err = |analytic − numeric|
    rel_err = abs_err / max(|analytic|, |numeric|, FLOOR)

A check passes when ``max rel_err <= RTOL``. ``FLOOR`` keeps entries whose true gradient is
near zero from dividing round-off by nothing: there the metric becomes an absolute error
``/ FLOOR``. With ``h = 1e-5`` and inputs of order 1, float64 central differences agree with a
correct VJP to ~1e-7 relative at worst (measured over 40 seeds of every primitive's cases); a
wrong VJP is off by order 1. ``RTOL = 1e-5`` leaves a factor 100 on either side.

The registry maps a name to a function ``make_cases(rng) -> list[Case]``. Every primitive of
:mod:`embedkit.core.ops` registers itself below (random inputs of several shapes, broadcasting,
a variable used on two paths, inputs kept away from kinks such as ``relu`` at 0). Model packages
(word2vec losses, autoencoders) call :func:`register_check` when imported; the ``embedkit
gradcheck`` command imports them and runs :func:`run_checks` over :func:`registered_checks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from embedkit.core import ops
from embedkit.core.tensor import SparseRows, Tensor, no_grad

#: Step of the central differences.
H = 1e-5
#: Gradient magnitude below which the relative error turns into an absolute one (see above).
FLOOR = 1e-3
#: Largest relative error that passes.
RTOL = 1e-5


@dataclass(frozen=True)
class Case:
    """One function to check: ``fn`` maps tensors made from ``inputs`` to a tensor.

    Every input is differentiated; constants (labels, ids, axes) belong in ``fn``'s closure.
    ``detail`` says what the shapes do not (``"axis=0"``, ``"x on two paths"``).
    """

    fn: Callable[..., Tensor]
    inputs: tuple[np.ndarray, ...]
    detail: str = ""

    @property
    def shapes(self) -> str:
        text = " ".join(str(np.shape(x)).replace(" ", "") for x in self.inputs)
        return f"{text} {self.detail}".strip()


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one case: the largest absolute and relative errors and whether it passed."""

    op: str
    shapes: str
    max_abs_err: float
    max_rel_err: float
    passed: bool


def check_gradient(fn: Callable[..., Tensor], inputs: Sequence[np.ndarray],
                   rng: np.random.Generator, h: float = H) -> tuple[float, float]:
    """Largest absolute and relative error between ``fn``'s analytic and numeric gradients.

    Parameters
    ----------
    fn : callable
        Takes one tensor per input and returns a tensor, using only tensor operations.
    inputs : sequence of ndarray
        Where to check; cast to float64.
    rng : numpy.random.Generator
        Draws the projection ``R`` of a non-scalar output.
    h : float
        Step of the central differences.

    Returns
    -------
    max_abs_err, max_rel_err : float
        See the module docstring; ``inf`` when a gradient has the wrong shape or is not finite
        (NaN or infinite, analytic or numeric).
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    tensors = [Tensor(x.copy(), requires_grad=True) for x in arrays]
    out = fn(*tensors)
    weights = rng.standard_normal(out.shape)
    out.backward(weights)

    def projected() -> float:
        with no_grad():
            return float(np.sum(fn(*[Tensor(x) for x in arrays]).data * weights))

    max_abs = max_rel = 0.0
    for x, t in zip(arrays, tensors, strict=True):
        analytic = _dense(t.grad, x)
        if analytic.shape != x.shape:
            return math.inf, math.inf
        numeric = np.empty_like(x)
        flat = x.reshape(-1)  # a view: perturbing it perturbs the input fn sees
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + h
            plus = projected()
            flat[j] = original - h
            minus = projected()
            flat[j] = original
            numeric.flat[j] = (plus - minus) / (2 * h)
        err = np.abs(analytic - numeric)
        if not np.isfinite(err).all():  # NaN compares false: max() would pass it silently
            return math.inf, math.inf
        scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), FLOOR)
        max_abs = max(max_abs, float(err.max(initial=0.0)))
        max_rel = max(max_rel, float((err / scale).max(initial=0.0)))
    return max_abs, max_rel


def _dense(grad: np.ndarray | SparseRows | None, x: np.ndarray) -> np.ndarray:
    """The gradient as an array of ``x``'s shape (zero if the input did not reach the output)."""
    if grad is None:
        return np.zeros_like(x)
    if isinstance(grad, SparseRows):
        return grad.to_dense()
    return np.asarray(grad)


# ---------------------------------------------------------------- the registry

CaseMaker = Callable[[np.random.Generator], list[Case]]
_CHECKS: dict[str, CaseMaker] = {}


def register_check(name: str, make_cases: CaseMaker) -> None:
    """Add (or replace) the checks run under ``name``.

    Parameters
    ----------
    name : str
        Shown in the ``op`` column, e.g. a primitive's name or ``"w2v.skipgram_loss"``.
    make_cases : callable
        ``make_cases(rng) -> list[Case]``: random float64 inputs drawn from ``rng``.
    """
    _CHECKS[name] = make_cases


def unregister_check(name: str) -> None:
    """Remove the checks registered under ``name`` (tests that inject a check clean up)."""
    _CHECKS.pop(name, None)


def registered_checks() -> list[str]:
    """Names of every registered check, in registration order."""
    return list(_CHECKS)


def run_checks(rng: np.random.Generator, names: Sequence[str] | None = None,
               rtol: float = RTOL) -> list[CheckResult]:
    """Run the registered checks (all, or those named) and report each case.

    Raises
    ------
    ValueError
        When a name is not registered.
    """
    names = registered_checks() if names is None else list(names)
    unknown = [n for n in names if n not in _CHECKS]
    if unknown:
        raise ValueError(f"no gradient check named {unknown[0]!r}; known: "
                         f"{', '.join(registered_checks())}")
    results = []
    for name in names:
        for case in _CHECKS[name](rng):
            abs_err, rel_err = check_gradient(case.fn, case.inputs, rng)
            results.append(CheckResult(name, case.shapes, abs_err, rel_err, rel_err <= rtol))
    return results


# ---------------------------------------------------------------- cases for the primitives

def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...],
                   low: float = 0.2, high: float = 1.5) -> np.ndarray:
    """Random values with ``low <= |x| <= high`` and random signs: inputs that keep clear of the
    kinks at 0 (relu, abs, l1) and of poles (division, log of ``|x|``)."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


_BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))]
_UNARY_SHAPES = [(5,), (3, 4), (2, 3, 2)]


# These case makers run at import (registering the primitives), where mutmut's forked runner
# cannot reach them; tests/test_core_gradcheck.py pins the cases they make.
# pragma: no mutate start
def _binary(op: Callable) -> CaseMaker:
    """Cases for a broadcasting binary op, plus ``op(x, x)`` (one variable on two paths)."""
    def make(rng):
        cases = [Case(op, (away_from_zero(rng, a), away_from_zero(rng, b)))
                 for a, b in _BROADCAST_PAIRS]
        return cases + [Case(lambda x: op(x, x), (away_from_zero(rng, (3, 4)),), "x on two paths")]
    return make


def _unary(op: Callable, positive: bool = False, **kwargs) -> CaseMaker:
    """Cases for an elementwise op on several shapes, plus ``op(x) * x`` (two paths)."""
    def sample(rng, shape):
        x = away_from_zero(rng, shape)
        return np.abs(x) if positive else x

    detail = " ".join(f"{k}={v}" for k, v in kwargs.items())

    def make(rng):
        cases = [Case(lambda x: op(x, **kwargs), (sample(rng, s),), detail) for s in _UNARY_SHAPES]
        return cases + [Case(lambda x: ops.mul(op(x, **kwargs), x), (sample(rng, (3, 4)),),
                             f"{detail} x on two paths".strip())]
    return make


def _cases(*specs: tuple[Callable, Sequence[tuple[int, ...]], str]) -> CaseMaker:
    """Cases from ``(fn, input shapes, detail)`` triples with inputs away from zero."""
    def make(rng):
        return [Case(fn, tuple(away_from_zero(rng, s) for s in shapes), detail)
                for fn, shapes, detail in specs]
    return make


def _loss_cases(loss: Callable) -> CaseMaker:
    """Cases for a (scores, labels) loss: several shapes, and scores used on two paths."""
    def make(rng):
        cases = []
        for n, k in [(5, 4), (1, 3), (8, 10)]:
            labels = rng.integers(0, k, n)
            cases.append(Case(lambda s, y=labels: loss(s, y), (_hinge_safe(rng, labels, k),),
                              f"labels ({n},)"))
        labels = rng.integers(0, 3, 4)
        cases.append(Case(lambda s: ops.add(loss(s, labels), ops.l2_penalty(s)),
                          (_hinge_safe(rng, labels, 3),), "scores on two paths"))
        return cases
    return make
# pragma: no mutate end


def _hinge_safe(rng: np.random.Generator, labels: np.ndarray, k: int) -> np.ndarray:
    """Scores whose differences to the label's score stay 0.1 away from the hinge's kink at
    ``s_j − s_y = −1``: each row a shift uniform on [-1, 1] plus offsets uniform on
    [-2.5, 2.5] (the label's 0), each offset drawn on its own until it is clear of the kink."""
    n = len(labels)
    offsets = rng.uniform(-2.5, 2.5, (n, k))
    while (bad := np.abs(offsets + 1) < 0.1).any():
        offsets[bad] = rng.uniform(-2.5, 2.5, int(bad.sum()))
    offsets[np.arange(n), labels] = 0
    return rng.uniform(-1, 1, (n, 1)) + offsets


def _gather_cases(rng: np.random.Generator) -> list[Case]:
    ids = np.array([1, 4, 1, 0])           # a repeated id: its gradient rows must add up
    ids2d = np.array([[2, 5, 2], [0, 0, 3]])
    other = np.array([3, 1, 1, 2])
    return [
        Case(lambda t: ops.gather(t, ids), (away_from_zero(rng, (6, 3)),), "ids (4,)"),
        Case(lambda t: ops.gather(t, ids2d), (away_from_zero(rng, (6, 2)),), "ids (2,3)"),
        Case(lambda t: ops.rowdot(ops.gather(t, ids), ops.gather(t, other)),
             (away_from_zero(rng, (5, 3)),), "table on two paths, both sparse"),
        Case(lambda t: ops.add(ops.sum(ops.gather(t, ids), axis=0), ops.sum(ops.square(t), axis=0)),
             (away_from_zero(rng, (5, 3)),), "table on two paths, sparse+dense"),
    ]


def _power_cases(rng: np.random.Generator) -> list[Case]:
    return ([Case(lambda x, p=p: ops.power(x, p), (away_from_zero(rng, (3, 4)),), f"p={p}")
             for p in (2, 3, -1)]
            + [Case(lambda x: ops.power(x, 0.5), (np.abs(away_from_zero(rng, (4,))),), "p=0.5"),
               Case(lambda x: ops.mul(ops.power(x, 3), x), (away_from_zero(rng, (2, 3)),),
                    "p=3 x on two paths")])


# pragma: no mutate start
def _reduction(op: Callable) -> CaseMaker:
    return _cases((lambda x: op(x), [(3, 4)], "all axes"),
                  (lambda x: op(x, axis=0), [(3, 4)], "axis=0"),
                  (lambda x: op(x, axis=(0, 2)), [(2, 3, 4)], "axis=(0,2)"),
                  (lambda x: op(x, axis=-1, keepdims=True), [(2, 3, 4)], "axis=-1 keepdims"),
                  (lambda x: ops.mul(op(x, axis=1, keepdims=True), x), [(3, 4)],
                   "x on two paths"))


def _softmax_like(op: Callable) -> CaseMaker:
    return _cases((lambda x: op(x), [(3, 5)], "axis=-1"),
                  (lambda x: op(x, axis=0), [(3, 5)], "axis=0"),
                  (lambda x: op(x), [(2, 3, 4)], "axis=-1"),
                  (lambda x: ops.mul(op(x), x), [(4, 3)], "x on two paths"))


def _register_primitives() -> None:
    for op in (ops.add, ops.sub, ops.mul, ops.div):
        register_check(op.name, _binary(op))
    for op in (ops.neg, ops.square, ops.abs, ops.exp, ops.sigmoid, ops.tanh, ops.relu,
               ops.swish, ops.softplus, ops.log_sigmoid):
        register_check(op.name, _unary(op))
    register_check("log", _unary(ops.log, positive=True))
    register_check("leaky_relu", lambda rng: _unary(ops.leaky_relu)(rng)
                   + _unary(ops.leaky_relu, slope=0.3)(rng)[:1])
    register_check("elu", lambda rng: _unary(ops.elu)(rng) + _unary(ops.elu, alpha=0.5)(rng)[:1])
    register_check("power", _power_cases)
    register_check("matmul", _cases(
        (ops.matmul, [(3, 4), (4, 2)], ""), (ops.matmul, [(4,), (4, 2)], ""),
        (ops.matmul, [(3, 4), (4,)], ""), (ops.matmul, [(2, 3, 4), (4, 5)], "batched"),
        (ops.matmul, [(2, 3, 4), (1, 4, 2)], "batch broadcast"),
        (ops.matmul, [(2, 3, 4), (4,)], "batched times a vector"),
        (lambda x: ops.matmul(x, x), [(3, 3)], "x on two paths")))
    register_check("transpose", _cases(
        (lambda x: ops.transpose(x), [(3, 4)], ""),
        (lambda x: ops.transpose(x, (1, 2, 0)), [(2, 3, 4)], "axes=(1,2,0)"),
        (lambda x: ops.matmul(ops.transpose(x), x), [(3, 2)], "x on two paths")))
    register_check("reshape", _cases(
        (lambda x: ops.reshape(x, (2, 6)), [(3, 4)], "to (2,6)"),
        (lambda x: ops.reshape(x, (-1,)), [(2, 3, 2)], "to (-1,)"),
        (lambda x: ops.mul(ops.reshape(x, (3, 2)), ops.reshape(x, (3, 2))), [(6,)],
         "x on two paths")))
    register_check("sum", _reduction(ops.sum))
    register_check("mean", _reduction(ops.mean))
    register_check("softmax", _softmax_like(ops.softmax))
    register_check("log_softmax", _softmax_like(ops.log_softmax))
    register_check("softmax_cross_entropy", _loss_cases(ops.softmax_cross_entropy))
    register_check("svm_hinge", _loss_cases(ops.svm_hinge))
    register_check("mse", _cases(
        (ops.mse, [(3, 4), (3, 4)], ""), (ops.mse, [(3, 4), (4,)], ""),
        (ops.mse, [(5,), ()], ""),
        (lambda x: ops.mse(x, ops.square(x)), [(3, 4)], "x on two paths")))
    register_check("l1_penalty", _unary(ops.l1_penalty))
    register_check("l2_penalty", _unary(ops.l2_penalty))
    register_check("gather", _gather_cases)
    register_check("rowdot", _cases(
        (ops.rowdot, [(3, 4), (3, 4)], ""), (ops.rowdot, [(3, 4), (4,)], ""),
        (ops.rowdot, [(2, 3, 4), (3, 4)], ""),
        (lambda x: ops.rowdot(x, x), [(3, 4)], "x on two paths")))


_register_primitives()
# pragma: no mutate end
