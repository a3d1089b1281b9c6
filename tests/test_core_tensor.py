"""The Tensor type and SparseRows gradients: Python's operators, which tensors get gradients,
how gradients accumulate, and sums of sparse gradients."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.core import PRIMITIVES, SparseRows, Tensor, primitive


def leaf(a, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


X = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.5]])


@pytest.mark.parametrize("expression, value, gradient", [
    (lambda x: 2 + x, lambda x: 2 + x, lambda x: np.ones_like(x)),
    (lambda x: 2 / x, lambda x: 2 / x, lambda x: -2 / x ** 2),
    (lambda x: -x, lambda x: -x, lambda x: -np.ones_like(x)),
    (lambda x: x ** 3, lambda x: x ** 3, lambda x: 3 * x ** 2),
    (lambda x: 1 - x, lambda x: 1 - x, lambda x: -np.ones_like(x)),
    (lambda x: 3 * x, lambda x: 3 * x, lambda x: 3 * np.ones_like(x)),
], ids=["radd", "rtruediv", "neg", "pow", "rsub", "rmul"])
def test_python_operators_on_tensors(expression, value, gradient):
    x = leaf(X)
    out = expression(x)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, value(X))
    out.backward(np.ones_like(X))
    np.testing.assert_allclose(x.grad, gradient(X))


def test_reductions_and_reshape_as_methods():
    x = leaf(X)
    assert x.sum().shape == () and x.sum().item() == X.sum()
    np.testing.assert_allclose(x.sum(axis=0).data, X.sum(axis=0))
    assert x.sum(axis=1, keepdims=True).shape == (2, 1)
    assert x.mean().item() == pytest.approx(X.mean())
    np.testing.assert_allclose(x.mean(axis=1).data, X.mean(axis=1))
    assert x.mean(axis=0, keepdims=True).shape == (1, 3)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.reshape(-1).shape == (6,)
    x.mean(axis=1).backward(np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad, [[1 / 3] * 3, [2 / 3] * 3])


def test_repr_says_whether_a_gradient_is_wanted():
    assert repr(leaf([1.0])) == "Tensor(array([1.]), requires_grad=True)"
    assert repr(Tensor(np.array([1.0]))) == "Tensor(array([1.]))"


def test_constants_get_no_gradient_and_any_array_like_becomes_an_array():
    c = Tensor(X)
    assert not c.requires_grad
    x = leaf(X)
    (x * c).sum().backward()
    assert c.grad is None  # a data batch: its gradient would be wasted work on every step
    np.testing.assert_allclose(x.grad, X)
    for value in (3.0, [1, 2], (0.5,)):
        t = Tensor(value)
        assert isinstance(t.data, np.ndarray) and t.shape == np.shape(value)


def test_gradients_accumulate_over_backward_calls_and_keep_the_leafs_shape_and_dtype():
    x = leaf([[2.0]], dtype=np.float32)
    (x * 3).backward()  # one element of shape (1, 1): the default gradient is 1
    assert x.grad.shape == (1, 1) and x.grad.dtype == np.float32
    (x * 3).backward()
    np.testing.assert_array_equal(x.grad, [[6.0]])
    y = leaf(X, dtype=np.float32)
    (y * 2).backward(np.ones(X.shape))  # a float64 gradient into a float32 graph
    assert y.grad.dtype == np.float32
    x.zero_grad()
    assert x.grad is None


def test_backward_without_a_gradient_needs_a_scalar():
    with pytest.raises(ValueError, match=r"needs a scalar, got shape \(2, 3\)"):
        (leaf(X) * 2).backward()


def test_a_tensor_argument_without_a_vjp_is_an_error_not_a_silent_zero():
    @primitive(name="_test_half_vjp")
    def scale(x, y):
        return x * y

    scale.defvjp(lambda g, ans, x, y: g * y)  # none for y
    try:
        scale(leaf(X), Tensor(X))  # y constant: fine
        with pytest.raises(NotImplementedError,
                           match="VJP of _test_half_vjp for argument 1 is not defined"):
            scale(leaf(X), leaf(X))
    finally:
        PRIMITIVES.pop("_test_half_vjp")


def test_primitive_registers_itself_and_keeps_the_forwards_name_and_doc():
    @primitive
    def _test_twice(x):
        """Twice x."""
        return 2 * x

    @primitive(name="_test_pair", saves=True)
    def pair(x):
        return 2 * x, x

    pair.defvjp(lambda g, saved, x: 2 * g)
    _test_twice.defvjp(lambda g, ans, x: 2 * g)
    def unnamed(x):
        return 3 * x, x

    direct = primitive(unnamed, name="_test_direct", saves=True)  # the call form, no decorator
    try:
        assert PRIMITIVES["_test_direct"] is direct and direct.name == "_test_direct"
        np.testing.assert_array_equal(direct(Tensor(np.array([1.0]))).data, [3.0])
        assert PRIMITIVES["_test_twice"] is _test_twice and PRIMITIVES["_test_pair"] is pair
        assert _test_twice.__doc__ == "Twice x." and _test_twice.__wrapped__(3) == 6
        np.testing.assert_array_equal(pair(leaf([1.0, 2.0])).data, [2.0, 4.0])
        np.testing.assert_array_equal(_test_twice(leaf([1.0, 2.0])).data, [2.0, 4.0])
    finally:
        PRIMITIVES.pop("_test_twice")
        PRIMITIVES.pop("_test_pair")
        PRIMITIVES.pop("_test_direct")


# ---------------------------------------------------------------- SparseRows

def sparse(ids, shape=(6, 2, 3), dtype=np.float64, **kwargs) -> SparseRows:
    ids = np.asarray(ids)
    rows = np.arange(np.size(ids) * 6, dtype=dtype).reshape(ids.shape + (2, 3))
    return SparseRows(ids, rows, shape, **kwargs)


def test_sums_of_sparse_gradients_with_ids_of_any_shape():
    a, b, c = sparse([[4, 1], [1, 0]]), sparse([5, 1]), sparse([[2], [4]])
    for x, y in ((a, b), (b, a), (b, c), (a, c)):
        total = x + y
        assert isinstance(total, SparseRows)
        np.testing.assert_array_equal(total.to_dense(), x.to_dense() + y.to_dense())
    dense = np.ones((6, 2, 3))
    np.testing.assert_array_equal(a + dense, dense + a.to_dense())
    np.testing.assert_array_equal(dense + a, dense + a.to_dense())


def test_dense_plus_sparse_for_a_table_not_in_c_order():
    table = np.asfortranarray(np.ones((6, 2, 3)))
    np.testing.assert_array_equal(table + sparse([2, 2]), np.ones((6, 2, 3)) +
                                  sparse([2, 2]).to_dense())


def test_shared_rows_without_weights_count_once_per_id():
    # indptr without weights: every id of bag b receives values[b] with weight 1
    shared = sparse([0, 1], indptr=np.array([0, 2, 3]))
    shared.ids = np.array([3, 4, 3])
    dense = shared.to_dense()
    np.testing.assert_array_equal(dense[3], shared.values[0] + shared.values[1])
    np.testing.assert_array_equal(dense[4], shared.values[0])
    np.testing.assert_array_equal((shared + sparse([5])).to_dense(),
                                  dense + sparse([5]).to_dense())


@pytest.mark.parametrize("ids", [[0, 2, 2, 3], [0, 3, 2], [5, 1]])
def test_coalesce_sums_repeats_and_sorts(ids):
    grad = sparse(ids, dtype=np.float32)
    merged = grad.coalesce()
    np.testing.assert_array_equal(merged.ids, np.unique(ids))
    assert merged.values.shape == (len(np.unique(ids)), 2, 3)
    np.testing.assert_array_equal(merged.to_dense(), grad.to_dense())
    assert merged.to_dense().dtype == np.float32
