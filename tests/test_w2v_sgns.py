"""The word2vec primitives on hand-sized inputs: CBOW's bag layer (mean and sum) and the
negative-sampling loss, values and gradients against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.core.tensor import Tensor
from embedkit.w2v.sgns import context_bags, sgns_loss

INDPTR = np.array([0, 2, 5, 6])
MEMBERS = np.array([0, 1, 1, 2, 3, 0])  # a row twice in one bag, a row in two bags


def _bags_by_hand(rows, mean):
    bags = [rows[MEMBERS[lo:hi]] for lo, hi in zip(INDPTR[:-1], INDPTR[1:], strict=True)]
    return np.stack([b.mean(axis=0) if mean else b.sum(axis=0) for b in bags])


@pytest.mark.parametrize("mean", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_context_bags_are_means_or_sums_of_their_rows(mean, dtype):
    rows = np.random.default_rng(0).normal(size=(4, 3)).astype(dtype)
    tensor = Tensor(rows, requires_grad=True)
    hidden = context_bags(tensor, INDPTR, MEMBERS, mean=mean)
    assert hidden.data.dtype == dtype
    np.testing.assert_allclose(hidden.data, _bags_by_hand(rows, mean), rtol=1e-6)
    # d sum(g * hidden) / d rows: each member row gets its bag's g (over the bag size)
    g = np.random.default_rng(1).normal(size=hidden.shape).astype(dtype)
    (hidden * Tensor(g)).sum().backward()
    expected = np.zeros_like(rows)
    for b, (lo, hi) in enumerate(zip(INDPTR[:-1], INDPTR[1:], strict=True)):
        for member in MEMBERS[lo:hi]:
            expected[member] += g[b] / ((hi - lo) if mean else 1)
    grad = tensor.grad if isinstance(tensor.grad, np.ndarray) else tensor.grad.to_dense()
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_cbow_mean_is_the_default():
    rows = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(context_bags(Tensor(rows), INDPTR, MEMBERS).data,
                               _bags_by_hand(rows, True))


def test_sgns_loss_is_the_negative_sampling_loss_by_hand():
    rng = np.random.default_rng(2)
    inputs, outputs = rng.normal(0, 0.5, (3, 4)), rng.normal(0, 0.5, (5, 4))
    pair_inputs, pair_outputs = np.array([0, 2, 0, 1, 2]), np.array([1, 1, 3, 0, 2])
    negatives = np.array([[4, 2], [0, 4], [3, 3]])  # groups of 2, 2 and 1 pairs
    weight = 0.75
    x_in, y_out = Tensor(inputs, requires_grad=True), Tensor(outputs, requires_grad=True)
    loss = sgns_loss(x_in, y_out, pair_inputs, pair_outputs, negatives, weight)

    def by_hand(inputs, outputs):
        def log_sigmoid(z):
            return -np.log1p(np.exp(-z))

        total = 0.0
        for b in range(5):
            x = inputs[pair_inputs[b]]
            total -= log_sigmoid(x @ outputs[pair_outputs[b]])
            total -= weight * sum(log_sigmoid(-x @ outputs[n]) for n in negatives[b // 2])
        return total

    assert loss.data.dtype == np.float64
    assert float(loss.data) == pytest.approx(by_hand(inputs, outputs), rel=1e-12)
    # gradients: central differences of the loss by hand
    loss.backward()
    for tensor, array, args in ((x_in, inputs, lambda a: (a, outputs)),
                                (y_out, outputs, lambda a: (inputs, a))):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            step = np.zeros_like(array)
            step[index] = 1e-6
            numeric[index] = (by_hand(*args(array + step)) - by_hand(*args(array - step))) / 2e-6
        grad = tensor.grad if isinstance(tensor.grad, np.ndarray) else tensor.grad.to_dense()
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_sgns_loss_rejects_groups_that_do_not_split_the_pairs():
    with pytest.raises(ValueError, match="4 noise groups cannot split 5 pairs"):
        sgns_loss(Tensor(np.ones((5, 2))), Tensor(np.ones((5, 2))), None, np.arange(5),
                  np.zeros((4, 1), dtype=int))


@pytest.mark.parametrize("z", [-800.0, -30.0, 0.0, 30.0, 800.0])
def test_sgns_loss_stays_finite_for_large_scores(z):
    # one pair, input row (z, 0) against output row (1, 0): the positive score is z
    loss = sgns_loss(Tensor(np.array([[z, 0.0]])), Tensor(np.array([[1.0, 0.0]])), None,
                     np.array([0]), np.zeros((1, 0), dtype=int))
    assert float(loss.data) == pytest.approx(np.logaddexp(0, -z), rel=1e-12, abs=1e-300)


def _gradients(scale, **weight):
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(0, 0.5, (3, 4)), requires_grad=True)
    y = Tensor(rng.normal(0, 0.5, (5, 4)), requires_grad=True)
    loss = sgns_loss(x, y, np.array([0, 2, 1]), np.array([1, 4, 3]), np.array([[2, 0]]),
                     **weight)
    (loss * scale if scale != 1 else loss).backward()
    return [t.grad if isinstance(t.grad, np.ndarray) else t.grad.to_dense() for t in (x, y)]


def test_sgns_gradients_scale_with_the_incoming_gradient():
    for scale in (3.0, 2.0):
        for plain, scaled in zip(_gradients(1.0, negative_weight=0.5),
                                 _gradients(scale, negative_weight=0.5), strict=True):
            np.testing.assert_allclose(scaled, scale * plain, rtol=1e-12)
    for plain, scaled in zip(_gradients(1.0), _gradients(-0.25), strict=True):
        np.testing.assert_allclose(scaled, -0.25 * plain, rtol=1e-12)


def test_sgns_default_negative_weight_is_one_in_both_directions():
    for default, explicit in zip(_gradients(1.0), _gradients(1.0, negative_weight=1.0),
                                 strict=True):
        np.testing.assert_array_equal(default, explicit)
    for default, explicit in zip(_gradients(1.0), _gradients(1.0, negative_weight=2.0),
                                 strict=True):
        assert not np.allclose(default, explicit)
