"""The linear polish checked directly: the covariance factor reproduces every linear model's
error on the data, and the polish reaches PCA's subspace from a rough model, whatever the
data's scale, untied, and in the model's dtype."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from embedkit.ae import Autoencoder
from embedkit.ae.models import Architecture
from embedkit.ae.pca import principal_angles
from embedkit.ae.polish import covariance_factor, polish_linear


def low_rank(n_rows=1000, n_features=12, noise=0.3, scale=1.0, seed=0):
    """Rows near a 3-dimensional subspace, off the origin."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_features, 3)))[0]
    X = (rng.standard_normal((n_rows, 3)) * np.array([3.0, 2.0, 1.5])) @ basis.T
    return scale * (X + noise * rng.standard_normal(X.shape) + 5.0)


def error(R, W):
    """Mean squared error of the tied linear model ``W`` on the rows of ``R``."""
    return np.mean((R - R @ W.T @ W) ** 2)


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_the_factor_gives_every_linear_model_the_error_it_has_on_the_centred_data(scale):
    # nearly exact low-rank data: the model below leaves only the noise, so a ridge much
    # larger than its documented 1e-10 of the mean eigenvalue would show in the error
    X = low_rank(n_features=20, noise=5e-4, scale=scale)
    mean = X.mean(axis=0)
    R = covariance_factor(X, mean)
    assert R.shape == (20, 20) and R.dtype == np.float64
    np.testing.assert_array_equal(R, np.triu(R))
    top = np.linalg.svd(X - mean, full_matrices=False)[2][:3]
    rough = np.random.default_rng(1).standard_normal((3, 20))
    for W in (top, rough, np.zeros((3, 20))):
        assert error(R, W) == pytest.approx(error(X - mean, W), rel=1e-3)
    # without a mean the rows are taken as they are
    uncentred = covariance_factor(X)
    assert error(uncentred, top) == pytest.approx(error(X, top), rel=1e-3)


def test_the_factor_is_in_the_asked_dtype_and_computed_in_it():
    X32 = low_rank().astype(np.float32)
    mean = X32.mean(axis=0, dtype=np.float64)
    assert covariance_factor(X32, mean).dtype == np.float32
    assert covariance_factor(X32[:5], mean).dtype == np.float32  # fewer rows than features
    # float32 data polished for a float64 model: the products are formed in float64
    R = covariance_factor(X32, mean, dtype=np.float64)
    assert R.dtype == np.float64
    centred = X32.astype(np.float64) - mean.astype(np.float32)
    np.testing.assert_allclose(R.T @ R, centred.T @ centred * (12 / len(X32)), rtol=1e-9,
                               atol=1e-9 * np.abs(centred).max() ** 2)


@pytest.mark.parametrize("n_rows", [5, 12])
def test_with_no_more_rows_than_columns_the_factor_is_the_centred_data(n_rows):
    X = low_rank(n_rows=n_rows)
    mean = X.mean(axis=0)
    np.testing.assert_array_equal(covariance_factor(X, mean), X - mean)


def rough_start(X, tied, seed=1):
    """PCA's top 3 directions, disturbed far (about 65 degrees) off."""
    top = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][:3]
    W = top + 0.3 * np.random.default_rng(seed).standard_normal(top.shape)
    return top, ({"W": W} if tied else {"W": W, "U": W.T.copy()})


@pytest.mark.parametrize("scale", [1.0, 1e-2])
@pytest.mark.parametrize("tied", [True, False])
def test_the_polish_reaches_pcas_subspace_from_a_rough_model(tied, scale):
    # 200 features: the spectral norm sets the step (a Frobenius norm would be several times
    # too small) and the untied model needs the momentum to get there in the default steps
    X = low_rank(n_features=200, scale=scale)
    top, params = rough_start(X, tied)
    polish_linear(Architecture("linear", tied), params, X, mean=X.mean(axis=0))
    assert np.degrees(principal_angles(params["W"].T, top.T)).max() < 1e-3
    # and the weights are the orthogonal projection onto it
    np.testing.assert_allclose(params["W"] @ params["W"].T, np.eye(3), atol=1e-12)
    if not tied:
        np.testing.assert_array_equal(params["U"], params["W"].T)


@pytest.mark.parametrize("tied", [True, False])
def test_the_polish_keeps_the_models_dtype(tied):
    X = low_rank()
    _, params = rough_start(X, tied)
    params = {name: value.astype(np.float32) for name, value in params.items()}
    polish_linear(Architecture("linear", tied), params, X, mean=X.mean(axis=0))
    assert {name: value.dtype for name, value in params.items()} == dict.fromkeys(params,
                                                                                 np.float32)


def test_constant_data_is_projected_without_a_descent_or_a_warning():
    X = np.full((50, 6), 2.5)
    params = {"W": np.random.default_rng(0).standard_normal((2, 6))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        polish_linear(Architecture("linear"), params, X, mean=X.mean(axis=0))
    np.testing.assert_allclose(params["W"] @ params["W"].T, np.eye(2), atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_autoencoder_fits_constant_data_without_a_warning(dtype):
    # float64: the polish's factor of constant data is its tiny ridge, whose step overflowed
    # (two RuntimeWarnings and 300 steps of NaN before this was fixed)
    X = np.full((50, 6), 2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Autoencoder(2, epochs=2, dtype=dtype, random_state=0).fit(X)
    np.testing.assert_allclose(model.components_ @ model.components_.T, np.eye(2), atol=1e-6)


def exact_low_rank(n_rows, n_features, rank, seed=0):
    """Rows exactly on a ``rank``-dimensional subspace: ``XᵀX`` has zero eigenvalues, which
    rounding leaves slightly negative (the Cholesky factorisation of the polish failed)."""
    rng = np.random.RandomState(seed)
    return rng.randn(n_rows, rank) @ rng.randn(rank, n_features)


def pca_error(X, k):
    """Mean squared error of PCA's rank-``k`` reconstruction of ``X``."""
    centred = X - X.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return np.sum(singular[k:] ** 2) / centred.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_factor_of_rank_deficient_data_still_gives_every_model_its_error(dtype):
    # in float32 the zero eigenvalues round to about -1e-7 of the largest, far beyond the
    # ridge: the Cholesky factorisation failed there
    X = exact_low_rank(200, 8, 2)
    mean = X.mean(axis=0)
    R = covariance_factor(X, mean, dtype)
    assert R.shape == (8, 8) and R.dtype == dtype and np.isfinite(R).all()
    gram = (X - mean).T @ (X - mean) * (8 / 200)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(R.T.astype(np.float64) @ R, gram, rtol=0,
                               atol=(100 * eps + 1e-8) * np.abs(gram).max())  # + the ridge
    for W in (np.random.default_rng(1).standard_normal((1, 8)),
              np.linalg.svd(X - mean, full_matrices=False)[2][:1]):
        assert error(R, W) == pytest.approx(error(X - mean, W), rel=1e-4)


@pytest.mark.parametrize(("shape", "rank", "hidden"),
                         [((30, 4), 1, 1), ((200, 8), 2, 1), ((200, 8), 2, 2),
                          ((200, 8), 2, 3)])
def test_an_autoencoder_of_rank_deficient_data_has_pcas_error(shape, rank, hidden):
    X = exact_low_rank(*shape, rank)
    model = Autoencoder(hidden, epochs=3, random_state=0).fit(X)
    # PCA's error is 0 from k = rank on: the scale is the data's variance then
    tolerance = 1e-9 * X.var(axis=0).sum() + 1e-6 * pca_error(X, hidden)
    assert -model.score(X) == pytest.approx(pca_error(X, hidden), abs=tolerance)


@pytest.mark.parametrize("hidden", [1, 2])
def test_the_cli_fits_and_compares_rank_deficient_data(cli, tmp_path, hidden):
    np.save(tmp_path / "rank2.npy", exact_low_rank(200, 8, 2))
    result = cli("autoencode", tmp_path / "rank2.npy", "--hidden", hidden, "--epochs", 3,
                 "-o", tmp_path / "m.npz")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.npz").exists()
    for args in ([tmp_path / "m.npz"], ["--fit", hidden]):
        result = cli("compare-pca", *args, tmp_path / "rank2.npy", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        scale = np.var(exact_low_rank(200, 8, 2), axis=0).sum()
        assert report["model_mse"] == pytest.approx(report["pca_mse"],
                                                    abs=1e-9 * scale, rel=1e-6)
