"""The primitives: each forward beside its vector-Jacobian products.

Conventions: ``g`` is the gradient of the loss with respect to the output, ``ans`` the output
(or what the forward saved), then the forward's own arguments. A VJP returns an array with its
argument's shape (``unbroadcast`` undoes broadcasting) and the forward's dtype, so float32
stays float32.
"""

from __future__ import annotations

import numpy as np

from embedkit.core.scatter import take_rows
from embedkit.core.tensor import SparseRows, Tensor, primitive, unbroadcast


def _same(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g`` brought back to the shape of argument ``x`` (which may be a Python scalar)."""
    return unbroadcast(g, np.shape(x))


# ---------------------------------------------------------------- arithmetic (broadcasting)

@primitive
def add(x, y):
    return np.add(x, y)


add.defvjp(lambda g, ans, x, y: _same(g, x), lambda g, ans, x, y: _same(g, y))


@primitive
def sub(x, y):
    return np.subtract(x, y)


sub.defvjp(lambda g, ans, x, y: _same(g, x), lambda g, ans, x, y: _same(-g, y))


@primitive
def neg(x):
    return np.negative(x)


neg.defvjp(lambda g, ans, x: -g)


@primitive
def mul(x, y):
    return np.multiply(x, y)


mul.defvjp(lambda g, ans, x, y: _same(g * y, x), lambda g, ans, x, y: _same(g * x, y))


@primitive
def div(x, y):
    return np.divide(x, y)


div.defvjp(lambda g, ans, x, y: _same(g / y, x), lambda g, ans, x, y: _same(-g * ans / y, y))


@primitive
def power(x, p):
    """``x ** p`` for a constant exponent ``p`` (gradient with respect to ``x`` only)."""
    return np.power(x, p)


power.defvjp(lambda g, ans, x, p: _same(g * p * np.power(x, p - 1), x))


@primitive
def square(x):
    return np.square(x)


square.defvjp(lambda g, ans, x: g * 2 * x)


@primitive
def abs(x):  # noqa: A001 - the NumPy name
    return np.abs(x)


abs.defvjp(lambda g, ans, x: g * np.sign(x))


@primitive
def exp(x):
    return np.exp(x)


exp.defvjp(lambda g, ans, x: g * ans)


@primitive
def log(x):
    return np.log(x)


log.defvjp(lambda g, ans, x: g / x)


# ---------------------------------------------------------------- linear algebra and shape

def _as_matrices(g, x, y):
    """``g``, ``x``, ``y`` with 1-D operands promoted to matrices, as ``np.matmul`` treats them."""
    if x.ndim == 1:
        x, g = x[np.newaxis, :], np.expand_dims(g, -2)
    if y.ndim == 1:
        y, g = y[:, np.newaxis], np.expand_dims(g, -1)
    return g, x, y


def _matmul_vjp_x(g, ans, x, y):
    g2, x2, y2 = _as_matrices(g, x, y)
    return unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape)


def _matmul_vjp_y(g, ans, x, y):
    g2, x2, y2 = _as_matrices(g, x, y)
    return unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape)


@primitive
def matmul(x, y):
    """Matrix product: ``x̄ = ȳ yᵀ`` and ``ȳ = xᵀ ȳ``, batched over (broadcast) leading axes.

    One VJP per argument, so a constant operand (a data batch) costs no matmul.
    """
    return np.matmul(x, y)


matmul.defvjp(_matmul_vjp_x, _matmul_vjp_y)


@primitive
def transpose(x, axes=None):
    return np.transpose(x, axes)


transpose.defvjp(lambda g, ans, x, axes=None:
                 np.transpose(g, None if axes is None else np.argsort(axes)))


@primitive
def reshape(x, shape):
    return np.reshape(x, shape)


reshape.defvjp(lambda g, ans, x, shape: np.reshape(g, np.shape(x)))


def _restore_reduced(g, x, axis, keepdims):
    """Broadcast the gradient of a reduction back over the reduced axes of ``x``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


@primitive
def sum(x, axis=None, keepdims=False):  # noqa: A001 - the NumPy name
    return np.sum(x, axis=axis, keepdims=keepdims)


sum.defvjp(lambda g, ans, x, axis=None, keepdims=False:
           _restore_reduced(g, x, axis, keepdims).copy())


@primitive
def mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


mean.defvjp(lambda g, ans, x, axis=None, keepdims=False:
            _restore_reduced(g, x, axis, keepdims) * np.asarray(
                np.size(ans) / np.size(x), dtype=np.result_type(x)))


# ---------------------------------------------------------------- activations
#
# Each activation's derivative f'(x) is written once, as a function of the input ``x`` and the
# output ``y = f(x)`` that works on arrays (the VJP: ``g * f'(x)``) and on tensors (a graph, for
# penalties that differentiate f' itself, like the contractive autoencoder's).

def _sigmoid(x):
    # exp of a non-positive number only, so neither branch overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _piecewise(x, positive, other):
    """``positive`` where ``x > 0``, else ``other``, in the kind and dtype of ``x``: an array, or
    a constant tensor (no gradient flows through a step)."""
    data = x.data if isinstance(x, Tensor) else x
    values = np.where(data > 0, positive, other).astype(data.dtype)
    return Tensor(values) if isinstance(x, Tensor) else values


def sigmoid_derivative(x, y):
    return y * (1 - y)


def tanh_derivative(x, y):
    return 1 - y * y


def relu_derivative(x, y):  # 0 at exactly 0
    return _piecewise(x, 1, 0)


def leaky_relu_derivative(x, y, slope=0.1):
    return _piecewise(x, 1, slope)


def elu_derivative(x, y, alpha=1.0):
    # e^x·alpha = y + alpha below 0
    return _piecewise(x, 1, 0) + (y + alpha) * _piecewise(x, 0, 1)


def swish_derivative(x, y):
    s = sigmoid(x) if isinstance(x, Tensor) else _sigmoid(x)
    return s + x * s * (1 - s)


@primitive
def sigmoid(x):
    return _sigmoid(x)


sigmoid.defvjp(lambda g, ans, x: g * sigmoid_derivative(x, ans))


@primitive
def tanh(x):
    return np.tanh(x)


tanh.defvjp(lambda g, ans, x: g * tanh_derivative(x, ans))


@primitive
def relu(x):
    return np.maximum(x, 0)


relu.defvjp(lambda g, ans, x: g * relu_derivative(x, ans))


@primitive
def leaky_relu(x, slope=0.1):
    """``max(slope·x, x)`` (THEORY.md uses slope 0.1)."""
    return np.where(x > 0, x, slope * x)


leaky_relu.defvjp(lambda g, ans, x, slope=0.1: g * leaky_relu_derivative(x, ans, slope))


@primitive
def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


elu.defvjp(lambda g, ans, x, alpha=1.0: g * elu_derivative(x, ans, alpha))


@primitive
def swish(x):
    """``x σ(x)``; its derivative is ``σ(x) + x σ(x)(1 − σ(x))``."""
    return x * _sigmoid(x)


swish.defvjp(lambda g, ans, x: g * swish_derivative(x, ans))


@primitive
def softplus(x):
    """``log(1 + eˣ)``, computed without overflow."""
    return np.logaddexp(0, x)


softplus.defvjp(lambda g, ans, x: g * _sigmoid(x))


@primitive
def log_sigmoid(x):
    """``log σ(x) = −softplus(−x)``, stable for large ``|x|``."""
    return -np.logaddexp(0, -x)


log_sigmoid.defvjp(lambda g, ans, x: g * _sigmoid(-x))


@primitive
def softmax(x, axis=-1):
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


softmax.defvjp(lambda g, ans, x, axis=-1:
               ans * (g - np.sum(g * ans, axis=axis, keepdims=True)))


@primitive
def log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


log_softmax.defvjp(lambda g, ans, x, axis=-1:
                   g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True))


# ---------------------------------------------------------------- losses and penalties

def _class_ids(labels, n):
    return np.asarray(labels).reshape(n)


@primitive(saves=True)
def softmax_cross_entropy(scores, labels):
    """Mean over rows of ``−log softmax(scores)[label]``; ``labels`` are class ids (a constant).

    The gradient is ``(ŷ − y) / N``.
    """
    n = scores.shape[0]
    logp = log_softmax.__wrapped__(scores)
    ids = _class_ids(labels, n)
    loss = -np.mean(logp[np.arange(n), ids])
    return np.asarray(loss, dtype=scores.dtype), (logp, ids)


def _softmax_ce_vjp(g, saved, scores, labels):
    logp, ids = saved
    grad = np.exp(logp)
    grad[np.arange(len(ids)), ids] -= 1
    return grad * (g / len(ids))


softmax_cross_entropy.defvjp(_softmax_ce_vjp)


@primitive(saves=True)
def svm_hinge(scores, labels, margin=1.0):
    """Mean over rows of ``Σ_{j≠y} max(0, s_j − s_y + margin)`` (multiclass SVM loss)."""
    n = scores.shape[0]
    ids = _class_ids(labels, n)
    rows = np.arange(n)
    margins = scores - scores[rows, ids][:, np.newaxis] + margin
    margins[rows, ids] = 0
    active = (margins > 0).astype(scores.dtype)
    loss = np.sum(margins * active) / n
    return np.asarray(loss, dtype=scores.dtype), (active, ids)


def _svm_hinge_vjp(g, saved, scores, labels, margin=1.0):
    active, ids = saved
    grad = active.copy()
    grad[np.arange(len(ids)), ids] = -active.sum(axis=1)
    return grad * (g / len(ids))


svm_hinge.defvjp(_svm_hinge_vjp)


@primitive(saves=True)
def mse(prediction, target):
    """Mean of squared differences over all entries.

    The difference is saved for the VJPs, and its square summed by a dot product, so the op
    makes three passes over the batch instead of seven (it dominated a linear autoencoder's
    step after the matrix products).
    """
    d = np.subtract(prediction, target)
    flat = d.reshape(-1)
    return np.dot(flat, flat) / flat.size, d


mse.defvjp(lambda g, d, p, t: _same(d * (2 * g / d.size), p),
           lambda g, d, p, t: _same(d * (-2 * g / d.size), t))


@primitive
def l1_penalty(x):
    """``Σ |x|`` (sparsity on codes; subgradient 0 at 0)."""
    return np.sum(np.abs(x))


l1_penalty.defvjp(lambda g, ans, x: g * np.sign(x))


@primitive
def l2_penalty(x):
    """``Σ x²`` (weight decay)."""
    return np.sum(x * x)


l2_penalty.defvjp(lambda g, ans, x: g * 2 * x)


# ---------------------------------------------------------------- sparse rows

@primitive
def gather(table, ids):
    """Rows ``table[ids]`` (embedding lookup). The gradient is :class:`SparseRows`: the touched
    row ids and their gradient rows, never a dense ``|V| × d`` array."""
    return take_rows(table, ids)


gather.defvjp(lambda g, ans, table, ids: SparseRows(
    np.asarray(ids).reshape(-1), g.reshape((-1,) + table.shape[1:]), table.shape))


@primitive
def rowdot(x, y):
    """Row-wise dot product over the last axis: ``out[i] = x[i] · y[i]`` (broadcasting rows)."""
    return np.einsum("...d,...d->...", x, y)


rowdot.defvjp(lambda g, ans, x, y: _same(g[..., np.newaxis] * y, x),
              lambda g, ans, x, y: _same(g[..., np.newaxis] * x, y))
