"""THEORY.md sections 1 and 2: every worked gradient reproduced by the backprop core."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.core import Tensor, ops
from embedkit.core.optim import SGD


def leaf(a) -> Tensor:
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_x_plus_y_times_z():
    x, y, z = leaf(-2.0), leaf(5.0), leaf(-4.0)
    q = x + y
    f = q * z
    f.backward()
    assert q.item() == 3 and f.item() == -12
    assert x.grad == -4 and y.grad == -4 and z.grad == 3


def test_relu_passes_upstream_where_input_positive_and_zero_at_zero():
    x = leaf([1.0, -2.0, 3.0, -1.0, 0.0])
    ops.relu(x).backward(np.array([4.0, -1.0, 5.0, 9.0, 7.0]))
    np.testing.assert_array_equal(x.grad, [4, 0, 5, 0, 0])


def test_matmul_gradients_are_the_adjoints(rng):
    x, w = leaf(rng.standard_normal((5, 3))), leaf(rng.standard_normal((3, 4)))
    ybar = rng.standard_normal((5, 4))
    (x @ w).backward(ybar)
    np.testing.assert_allclose(x.grad, ybar @ w.data.T)
    np.testing.assert_allclose(w.grad, x.data.T @ ybar)
    # <ȳ, x w> = <ȳ wᵀ, x>: right-multiplication's adjoint is right-multiplication by wᵀ
    assert np.isclose(np.sum(ybar * (x.data @ w.data)), np.sum(x.grad * x.data))


def test_tied_linear_autoencoder_gradient_sums_both_paths(rng):
    m, n = 3, 6
    w, x = leaf(rng.standard_normal((m, n))), rng.standard_normal(n)
    b_t = ops.transpose(w) @ (w @ x) - x
    loss = 0.5 * ops.sum(ops.square(b_t))
    loss.backward()
    b = b_t.data
    expected = np.outer(w.data @ x, b) + np.outer(w.data @ b, x)
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)
    # each path alone gives only one of the two terms
    assert not np.allclose(w.grad, np.outer(w.data @ x, b))


def test_sum_of_sigmoids_gradient_and_descent_step(rng):
    k, d, y, eta = 4, 3, 0.7, 0.1
    w, b = leaf(rng.standard_normal((k, d))), leaf(rng.standard_normal(k))
    x = rng.standard_normal(d)

    def f():
        return ops.square(y - ops.sum(ops.sigmoid(w @ x + b)))

    loss = f()
    loss.backward()
    s = 1 / (1 + np.exp(-(w.data @ x + b.data)))
    r = s.sum() - y
    np.testing.assert_allclose(w.grad, 2 * r * (s * (1 - s))[:, None] * x[None, :])
    np.testing.assert_allclose(b.grad, 2 * r * s * (1 - s))
    w_before = w.data.copy()
    SGD([w, b], lr=eta).step()
    np.testing.assert_allclose(w.data, w_before - eta * 2 * r * np.outer(s * (1 - s), x))
    assert f().item() < loss.item()


def test_phi_net_gradients_with_tanh(rng):
    w1, b = leaf(rng.standard_normal((4, 3))), leaf(rng.standard_normal(4))
    w2, x = leaf(rng.standard_normal((2, 4))), leaf(rng.standard_normal(3))
    y = rng.standard_normal(2)
    loss = 0.5 * ops.sum(ops.square(w2 @ ops.tanh(w1 @ x + b) - y))
    loss.backward()
    x1 = w1.data @ x.data + b.data
    x2 = np.tanh(x1)
    r = w2.data @ x2 - y
    x1bar = (1 - x2 ** 2) * (w2.data.T @ r)
    np.testing.assert_allclose(w2.grad, np.outer(r, x2))
    np.testing.assert_allclose(w1.grad, np.outer(x1bar, x.data))
    np.testing.assert_allclose(b.grad, x1bar)
    np.testing.assert_allclose(x.grad, w1.data.T @ x1bar)


def test_phi_net_identity_descent_step(rng):
    eta = 0.05
    w1, b = leaf(rng.standard_normal((4, 3))), leaf(rng.standard_normal(4))
    w2 = leaf(rng.standard_normal((2, 4)))
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    W1, W2, B = w1.data.copy(), w2.data.copy(), b.data.copy()
    (0.5 * ops.sum(ops.square(w2 @ (w1 @ x + b) - y))).backward()
    SGD([w1, b, w2], lr=eta).step()
    r = W2 @ (W1 @ x + B) - y
    np.testing.assert_allclose(w1.data, W1 - eta * np.outer(W2.T @ r, x))
    np.testing.assert_allclose(w2.data, W2 - eta * np.outer(r, W1 @ x + B))


def test_two_layer_sigmoid_net(rng):
    w1, b1 = leaf(rng.standard_normal((5, 3))), leaf(rng.standard_normal(5))
    w2, b2 = leaf(rng.standard_normal((2, 5))), leaf(rng.standard_normal(2))
    x, t = rng.standard_normal(3), rng.standard_normal(2)
    h_t = ops.sigmoid(w1 @ x + b1)
    y_t = w2 @ h_t + b2
    (0.5 * ops.sum(ops.square(y_t - t))).backward()
    h, ybar = h_t.data, y_t.data - t
    zbar = h * (1 - h) * (w2.data.T @ ybar)
    np.testing.assert_allclose(w2.grad, np.outer(ybar, h))
    np.testing.assert_allclose(b2.grad, ybar)
    np.testing.assert_allclose(w1.grad, np.outer(zbar, x))
    np.testing.assert_allclose(b1.grad, zbar)


def test_swish_hidden_layer_softmax_cross_entropy(rng):
    w1, b1 = leaf(rng.standard_normal((5, 3))), leaf(rng.standard_normal(5))
    w2, b2 = leaf(rng.standard_normal((4, 5))), leaf(rng.standard_normal(4))
    x, label = rng.standard_normal(3), 2
    z1 = w1 @ x + b1
    h1 = ops.swish(z1)
    z2 = w2 @ h1 + b2
    loss = ops.softmax_cross_entropy(ops.reshape(z2, (1, 4)), np.array([label]))
    loss.backward()
    yhat = np.exp(z2.data) / np.exp(z2.data).sum()
    onehot = np.eye(4)[label]
    assert np.isclose(loss.item(), -np.log(yhat[label]))
    s = 1 / (1 + np.exp(-z1.data))
    z1bar = (w2.data.T @ (yhat - onehot)) * (s + z1.data * s * (1 - s))
    np.testing.assert_allclose(b2.grad, yhat - onehot)
    np.testing.assert_allclose(w2.grad, np.outer(yhat - onehot, h1.data))
    np.testing.assert_allclose(w1.grad, np.outer(z1bar, x))
    np.testing.assert_allclose(b1.grad, z1bar)


def test_regression_net_with_scaled_relu(rng):
    # ∂ℓ/∂ŷ = 2(ŷ − y)
    yhat, y = leaf(rng.standard_normal(3)), rng.standard_normal(3)
    ops.sum(ops.square(yhat - y)).backward()
    np.testing.assert_allclose(yhat.grad, 2 * (yhat.data - y))
    # ∂z₂/∂z₁ for z₂ = 5 ReLU(z₁) is diagonal: 5 where z₁ > 0, 0 elsewhere
    z1, v = leaf([0.5, -1.0, 2.0, -0.3]), rng.standard_normal(4)
    (5 * ops.relu(z1)).backward(v)
    np.testing.assert_allclose(z1.grad, v * np.array([5, 0, 5, 0]))
    # the whole net
    w1, b1 = leaf(rng.standard_normal((4, 3))), leaf(rng.standard_normal(4))
    w2, b2 = leaf(rng.standard_normal((2, 4))), leaf(rng.standard_normal(2))
    x, target = rng.standard_normal(3), rng.standard_normal(2)
    out = w2 @ (5 * ops.relu(w1 @ x + b1)) + b2
    ops.sum(ops.square(out - target)).backward()
    pre = w1.data @ x + b1.data
    z1bar = 5 * (pre > 0) * (w2.data.T @ (2 * (out.data - target)))
    np.testing.assert_allclose(w1.grad, np.outer(z1bar, x))
    np.testing.assert_allclose(w2.grad, np.outer(2 * (out.data - target), 5 * np.maximum(pre, 0)))


def test_tanh_and_sigmoid_derivatives(rng):
    x = leaf(rng.standard_normal(6))
    ops.sum(ops.tanh(x)).backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh(x.data) ** 2)
    x.zero_grad()
    ops.sum(ops.sigmoid(x)).backward()
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad, s * (1 - s))


# scores of three examples (cat, car, frog) and their labels
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])


def test_svm_hinge_value_and_gradient():
    scores = leaf(SCORES)
    loss = ops.svm_hinge(scores, LABELS)
    # per example: 2.9, 0, 12.9
    assert np.isclose(loss.item(), (2.9 + 0 + 12.9) / 3)
    loss.backward()
    expected = np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3
    np.testing.assert_allclose(scores.grad, expected)


def test_softmax_loss_value():
    loss = ops.softmax_cross_entropy(leaf(SCORES[:1]), LABELS[:1])
    assert np.isclose(loss.item(), 2.04, atol=0.005)


def test_full_multiclass_loss_with_weight_decay(rng):
    lam = 0.1
    w, x = leaf(rng.standard_normal((4, 3))), rng.standard_normal((6, 4))
    labels = rng.integers(0, 3, 6)
    loss = ops.svm_hinge(x @ w, labels) + lam * ops.l2_penalty(w)
    loss.backward()
    s = x @ w.data
    margins = s - s[np.arange(6), labels][:, None] + 1
    margins[np.arange(6), labels] = 0
    assert np.isclose(loss.item(), np.maximum(margins, 0).sum() / 6 + lam * np.sum(w.data ** 2))
    active = (margins > 0).astype(float)
    active[np.arange(6), labels] = -active.sum(1)
    np.testing.assert_allclose(w.grad, x.T @ active / 6 + 2 * lam * w.data)


ACTIVATIONS = [(ops.sigmoid, ops.sigmoid_derivative), (ops.tanh, ops.tanh_derivative),
               (ops.relu, ops.relu_derivative), (ops.leaky_relu, ops.leaky_relu_derivative),
               (ops.elu, ops.elu_derivative), (ops.swish, ops.swish_derivative)]


@pytest.mark.parametrize("op, derivative", ACTIVATIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_derivative_with_its_defaults_is_the_ops_gradient(op, derivative, dtype):
    # the contractive penalty calls f'(a, f(a)) with its defaults: a slope or alpha other than
    # the forward op's would penalise a different function; a float64 f' upcasts float32 models
    x = np.array([-2.0, -0.7, -0.1, 0.3, 1.5], dtype=dtype)
    t = Tensor(x.copy(), requires_grad=True)
    op(t).backward(np.ones_like(x))
    slope = derivative(x, op(Tensor(x)).data)
    assert slope.dtype == dtype
    np.testing.assert_allclose(slope, t.grad, rtol=1e-6)


def test_elu_derivative_as_a_graph_has_the_second_derivative():
    # the contractive penalty differentiates f'(a): for ELU below 0 that is alpha·eˣ
    x = np.array([-1.5, -0.4, 0.5, 2.0])
    for alpha in (1.0, 0.5):
        a = leaf(x)
        ops.sum(ops.elu_derivative(a, ops.elu(a, alpha), alpha)).backward()
        np.testing.assert_allclose(a.grad, np.where(x > 0, 0, alpha * np.exp(x)))


@pytest.mark.parametrize("loss", [ops.svm_hinge, ops.softmax_cross_entropy])
def test_losses_take_labels_as_a_column(loss):
    column = loss(leaf(SCORES), LABELS[:, None])
    assert column.shape == ()
    np.testing.assert_allclose(column.data, loss(leaf(SCORES), LABELS).data)
