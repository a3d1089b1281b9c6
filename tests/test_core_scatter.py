"""The row-summing kernels of embedkit.core.scatter against NumPy and SciPy's public API."""

import numpy as np
import pytest
from scipy import sparse

from embedkit.core.scatter import scatter_add, scatter_rows, sparse_times


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_kernels_equal_the_public_scipy_product(transpose, dtype):
    # SciPy's private sparsetools kernels are called for speed: a SciPy release that
    # changes them must fail here, not train garbage.
    rng = np.random.default_rng(0)
    # A is 40 x 30 in compressed-row form; the product is A @ values or A.T @ values
    a = sparse.random(40, 30, density=0.2, format="csr", random_state=1, dtype=dtype)
    values = rng.standard_normal((40 if transpose else 30, 7)).astype(dtype)
    expected = (a.T if transpose else a) @ values
    got = sparse_times(a.indptr, a.indices, a.data, values, 30 if transpose else 40,
                       transpose=transpose)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    index = rng.integers(0, 9, 50)
    rows = rng.standard_normal((50, 4)).astype(dtype)
    dense = np.zeros((9, 4), dtype=dtype)
    np.add.at(dense, index, rows)
    np.testing.assert_allclose(scatter_rows(rows, index, 9), dense, rtol=1e-5, atol=1e-6)


def test_scatter_add_scales_and_sums_repeated_rows_in_place():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((6, 3)).astype(np.float32)
    expected = table.copy()
    index = np.array([4, 1, 4, 4, 0])
    rows = rng.standard_normal((5, 3)).astype(np.float32)
    np.add.at(expected, index, -0.5 * rows)
    out = scatter_add(table, index, rows, -0.5)
    assert out is table
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    np.testing.assert_array_equal(table[[2, 3, 5]], expected[[2, 3, 5]])  # untouched rows
