"""Block statistics checked directly: column means and one-pass moments of float32 columns far
apart from each other and from the origin, a single row, progress reports, and rows centred in
the data's own dtype."""

from __future__ import annotations

import numpy as np

from embedkit.ae import blocks


def test_moments_of_float32_columns_far_from_the_origin_keep_their_precision():
    # each column is shifted by its own mean: one shift for all would leave values of 3e3 in
    # the float32 products (errors of the order of the variances themselves)
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((5000, 4)) + np.array([3e3, -3e3, 1e3, 0])).astype(np.float32)
    exact = X.astype(np.float64)
    centred = exact - exact.mean(axis=0)
    mean, gram = blocks.moments(X)
    assert mean.dtype == gram.dtype == np.float64
    np.testing.assert_allclose(mean, exact.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(gram, centred.T @ centred, rtol=0,
                               atol=1e-5 * np.abs(centred.T @ centred).max())


def test_moments_report_every_row_read():
    X = np.random.default_rng(1).standard_normal((1000, 3))
    seen = []
    blocks.moments(X, seen.append)
    assert sum(seen) == 1000 and all(n > 0 for n in seen)


def test_column_means_of_float32_data_are_summed_in_float64():
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((20000, 3)) + np.array([3e3, -3e3, 1e3])).astype(np.float32)
    # float32 sums of 20000 values near 3e3 would be off by about 1e-4 in the mean
    np.testing.assert_allclose(blocks.column_mean(X), X.astype(np.float64).mean(axis=0),
                               rtol=0, atol=1e-9)
    np.testing.assert_array_equal(blocks.column_mean(np.array([[1.5, -2.0]])), [1.5, -2.0])


def test_rows_are_centred_in_the_datas_own_dtype():
    """float32 rows minus a float64 mean: the mean is rounded to float32 first, as centring
    the float32 matrix would, whatever rows are picked and wherever the result goes."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, size=(50, 6)).astype(np.float32)
    mean = np.full(6, 1 / 3)  # not a float32 number
    expected = X - mean.astype(np.float32)
    rows = np.array([3, 0, 49, 3])
    np.testing.assert_array_equal(blocks.centred_rows(X, rows, mean, np.float32), expected[rows])
    out = np.empty((4, 6), np.float32)
    blocks.centred_rows(X, rows, mean, np.float32, out=out)
    np.testing.assert_array_equal(out, expected[rows])
    np.testing.assert_array_equal(blocks.centred_rows(X, slice(2, 5), mean, np.float64),
                                  expected[2:5])
