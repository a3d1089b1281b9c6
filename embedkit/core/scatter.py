"""Rows by index: copies of rows, and sums of rows (sparse-gradient merging, sparse optimizer
updates, CBOW's context bags) through SciPy's compressed-sparse C++ kernels.

``np.add.at`` is 10-30x slower at these sizes, and ``np.add.reduceat`` over sorted rows
about 10x; building a ``scipy.sparse`` matrix object costs more (index checks, dtype probing)
than the product itself at minibatch sizes. The kernels are called directly: one C loop over
the entries, in order, so results are deterministic. They check nothing, so every index must
lie inside the shapes (the callers build them; a test pins the kernels to SciPy's public
product).

The kernels are private to SciPy: if a release moves them, the public sparse product takes
over (same sums, slower), so ``import embedkit`` does not break.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import scipy.sparse


def _private_kernels() -> ModuleType | None:
    """SciPy's compressed-sparse kernels, or None where this SciPy has moved them."""
    try:
        return importlib.import_module("scipy.sparse._sparsetools")
    except ImportError:
        return None


_kernels = _private_kernels()
#: Positions and sizes below this fit the kernels' int32 index type.
_INT32_LIMIT = 2**31


def sparse_times(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                 values: np.ndarray, n_out: int, transpose: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
    """``A @ values`` (or ``Aᵀ @ values``) for a sparse ``A`` in compressed-row form, added
    to ``out`` (C-contiguous, ``(n_out, values.shape[1])``) or to zeros."""
    values = np.ascontiguousarray(values)
    if out is None:
        out = np.zeros((n_out, values.shape[1]), dtype=values.dtype)
    n_rows, n_cols = len(indptr) - 1, len(values)
    shape = (n_out, n_cols) if transpose else (n_rows, n_cols)
    # The kernels take int32 or int64 indices (one type for both arrays): int32 ids (word ids
    # are) go in as they are when every position, in the flat value arrays too, fits int32,
    # instead of being copied to int64.
    small = (indices.dtype == np.int32
             and max(len(indices), max(shape) * max(values.shape[1], 1)) < _INT32_LIMIT)
    index = np.int32 if small else np.int64
    indptr, indices = indptr.astype(index, copy=False), indices.astype(index, copy=False)
    data = data.astype(values.dtype, copy=False)
    if out.shape != (shape[0], values.shape[1]) or not out.flags.c_contiguous:
        # the compiled kernel writes shape[0] rows through a flat view: never past the end
        raise ValueError(f"sparse_times: out of shape {out.shape}, expected "
                         f"{(shape[0], values.shape[1])} and C-contiguous")
    if _kernels is None:
        matrix = scipy.sparse.csc_matrix if transpose else scipy.sparse.csr_matrix
        out += matrix((data, indices, indptr), shape=shape) @ values
        return out
    kernel = _kernels.csc_matvecs if transpose else _kernels.csr_matvecs
    kernel(*shape, values.shape[1], indptr, indices, data, values.reshape(-1), out.reshape(-1))
    return out


def take_rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]`` (a copy), for any shape of ``ids``."""
    # np.take copies rows ~30% faster than indexing, but copies a non-contiguous table whole
    return np.take(table, ids, axis=0) if table.flags.c_contiguous else table[ids]
