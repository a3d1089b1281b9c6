"""The row kernels of embedkit.core.scatter, and SparseRows.add_to built on them, against
NumPy and SciPy's public API."""

import numpy as np
import pytest
from scipy import sparse

from embedkit.core import SparseRows
from embedkit.core.scatter import sparse_times, take_rows


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
    np.testing.assert_allclose(SparseRows(index, rows, (9, 4)).to_dense(), dense, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("indptr_type, indices_type", [
    (np.int32, np.int32), (np.int64, np.int32), (np.int32, np.int64), (np.int64, np.int64),
    (np.int64, np.uint16)])
def test_sparse_times_gives_the_same_sums_for_any_index_type(transpose, indptr_type,
                                                             indices_type):
    # int32 indices reach the kernel as they are (no int64 copy); every mix must sum alike
    a = sparse.random(40, 30, density=0.2, format="csr", random_state=4, dtype=np.float32)
    values = np.random.default_rng(4).standard_normal((40 if transpose else 30, 5),
                                                      dtype=np.float32)
    expected = (a.T if transpose else a) @ values
    got = sparse_times(a.indptr.astype(indptr_type), a.indices.astype(indices_type), a.data,
                       values, 30 if transpose else 40, transpose=transpose)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("id_type", [np.int32, np.int64, np.uint8, np.int16])
def test_add_to_takes_ids_of_any_integer_type(id_type):
    # more ids than a uint8 counts: the one-row-per-id layout must not count in the ids' type
    rng = np.random.default_rng(5)
    index = rng.integers(0, 9, 300).astype(id_type)
    rows = rng.standard_normal((300, 3)).astype(np.float32)
    expected = np.zeros((9, 3), np.float32)
    np.add.at(expected, index.astype(np.int64), 2.0 * rows)
    got = SparseRows(index, rows, (9, 3)).add_to(np.zeros((9, 3), np.float32), 2.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_add_to_scales_and_sums_repeated_rows_in_place():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((6, 3)).astype(np.float32)
    expected = table.copy()
    index = np.array([4, 1, 4, 4, 0])
    rows = rng.standard_normal((5, 3)).astype(np.float32)
    np.add.at(expected, index, -0.5 * rows)
    out = SparseRows(index, rows, table.shape).add_to(table, -0.5)
    assert out is table
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    np.testing.assert_array_equal(table[[2, 3, 5]], expected[[2, 3, 5]])  # untouched rows


def test_add_to_with_shared_rows_equals_the_rows_copied_per_id():
    # bag b's row goes to each of its members, times the member's weight (CBOW's gradient)
    rng = np.random.default_rng(3)
    table = rng.standard_normal((7, 2))
    indptr, ids = np.array([0, 3, 3, 5]), np.array([6, 1, 6, 2, 1])  # an empty bag
    weights = np.array([0.5, 2.0, -1.0, 3.0, 0.25])
    bags = rng.standard_normal((3, 2))
    expected = table.copy()
    np.add.at(expected, ids, -0.1 * weights[:, None] * np.repeat(bags, np.diff(indptr), axis=0))
    SparseRows(ids, bags, table.shape, indptr, weights).add_to(table, -0.1)
    np.testing.assert_allclose(table, expected, rtol=1e-12)
    np.testing.assert_array_equal(table[[0, 3, 4, 5]], expected[[0, 3, 4, 5]])


@pytest.mark.parametrize("contiguous", [True, False])
def test_take_rows_copies_rows_for_any_shape_of_ids(contiguous):
    table = np.arange(40.0).reshape(10, 4)
    if not contiguous:
        table = table[:, ::2]
    ids = np.array([[3, 0], [9, 3]])
    got = take_rows(table, ids)
    np.testing.assert_array_equal(got, table[ids])
    got[0, 0] = -1
    assert table[3, 0] != -1  # a copy, not a view


@pytest.mark.parametrize("transpose", [False, True])
def test_without_the_private_kernels_the_public_product_gives_the_same_sums(transpose,
                                                                             monkeypatch):
    from embedkit.core import scatter

    rng = np.random.default_rng(4)
    a = sparse.random(20, 15, density=0.3, format="csr", random_state=2)
    values = rng.standard_normal((20 if transpose else 15, 3))
    start = rng.standard_normal((15 if transpose else 20, 3))
    args = (a.indptr, a.indices, a.data, values, len(start))
    kernel = sparse_times(*args, transpose=transpose, out=start.copy())
    monkeypatch.setattr(scatter, "_kernels", None)
    public = sparse_times(*args, transpose=transpose, out=start.copy())
    np.testing.assert_allclose(public, kernel, rtol=1e-12, atol=1e-12)
    assert not np.allclose(public, start)  # the product was added


def test_embedkit_imports_and_trains_when_scipy_moves_its_private_kernels():
    import subprocess
    import sys

    code = """
import sys
import scipy.sparse
sys.modules["scipy.sparse._sparsetools"] = None  # as if a SciPy release had moved it
from embedkit.core import SparseRows, scatter
assert scatter._kernels is None
import numpy as np
print(SparseRows(np.array([2, 0, 2]), np.ones((3, 2)), (3, 2)).to_dense().tolist())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]"


def test_without_the_private_kernels_rows_past_the_last_id_stay_in_shape(monkeypatch):
    # a gradient that touches none of the table's last rows (words absent from the batch):
    # SciPy must be told the shape, not left to infer it from the largest id
    from embedkit.core import scatter

    monkeypatch.setattr(scatter, "_kernels", None)
    rows = np.arange(6.0).reshape(2, 3)
    dense = SparseRows(np.array([2, 0]), rows, (6, 3)).to_dense()
    np.testing.assert_array_equal(dense, [[3, 4, 5], [0, 0, 0], [0, 1, 2]] + [[0, 0, 0]] * 3)
    bags = sparse_times(np.array([0, 1, 3]), np.array([0, 1, 0]), np.ones(3),
                        np.eye(4), 2)  # two bags of rows 0 and 1 out of four
    np.testing.assert_array_equal(bags, [[1, 0, 0, 0], [1, 1, 0, 0]])


@pytest.mark.parametrize("transpose", [False, True])
def test_sparse_times_refuses_an_output_the_kernel_would_write_past(transpose):
    # a reader once passed 17 rows for 18 words: the compiled kernel corrupted the heap
    a = sparse.random(6, 5, density=0.5, format="csr", random_state=2, dtype=np.float32)
    values = np.ones((6 if transpose else 5, 3), dtype=np.float32)
    rows = 5 if transpose else 6
    for out in (np.zeros((rows - 1, 3), np.float32), np.zeros((rows, 3), np.float32)[:, :2],
                np.zeros((3, rows), np.float32).T):
        with pytest.raises(ValueError, match="sparse_times: out of shape"):
            sparse_times(a.indptr, a.indices, a.data, values, rows, transpose=transpose, out=out)
