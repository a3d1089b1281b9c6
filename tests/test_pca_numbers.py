"""compare_with_pca's numbers on small matrices, each against an SVD computed here: the
reference of every solver, both ways of summing the model's error (from the Gram matrix for a
linear model, over the rows otherwise), the principal angles at both ends of their range, the
eigen-gap and the one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import streaming
from embedkit.ae import Autoencoder, pca
from embedkit.ae.pca import compare_with_pca, pca_reference, principal_angles
from embedkit.errors import EmbedkitError, ParameterError


@pytest.fixture(scope="module")
def X():
    """40 rows of 5 features, off-centre, with distinct variances."""
    rng = np.random.default_rng(3)
    return rng.normal(size=(40, 5)) * [3.0, 2.0, 1.5, 0.7, 0.2] @ np.linalg.qr(
        rng.normal(size=(5, 5)))[0] + [4.0, -1.0, 0.5, 2.0, -3.0]


def svd_of(X):
    """Singular values and right singular vectors of the centred rows."""
    _, s, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    return s, vt


def same_rows_up_to_sign(a, b, rtol=1e-9):
    signs = np.sign(np.sum(a * b, axis=1))[:, None]
    np.testing.assert_allclose(a * signs, b, rtol=rtol, atol=rtol)


def expected_comparison(model, X):
    """Every number of the comparison, from the SVD and the model's reconstructions."""
    s, vt = svd_of(X)
    k = len(model.components_)
    n, f = X.shape
    centred = X - X.mean(axis=0)
    basis = np.linalg.qr(model.components_.T.astype(np.float64))[0]
    return {"k": k,
            "principal_angles_deg": np.degrees(principal_angles(vt[:k].T, basis)),
            "pca_mse": np.sum(s[k:] ** 2) / (n * f),
            "model_mse": np.mean(np.square(model.reconstruct(X) - X)),
            "explained_variance_ratio": s[:k] ** 2 / np.sum(s ** 2),
            "captured_variance_ratio": np.sum((centred @ basis) ** 2) / np.sum(centred ** 2),
            "eigengap": (s[k - 1] ** 2 - s[k] ** 2) / s[k - 1] ** 2}


def check(result, expected, rtol=1e-9):
    for key, value in expected.items():
        np.testing.assert_allclose(getattr(result, key), value, rtol=rtol, atol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("settings", [
    {"kind": "linear"}, {"kind": "linear", "tied": False}, {"kind": "nonlinear"}])
@pytest.mark.parametrize("solver", ["auto", "covariance", "full", "incremental", "randomized"])
def test_every_number_of_the_comparison(X, settings, solver):
    model = Autoencoder(2, epochs=3, lr=1e-2, dtype="float64", random_state=0, **settings
                        ).fit(X)
    result = compare_with_pca(model, X, solver=solver)
    check(result, expected_comparison(model, X), rtol=1e-6 if solver == "incremental" else 1e-9)
    assert result.to_dict() == {
        "k": 2, "principal_angles_deg": result.principal_angles_deg,
        "pca_mse": result.pca_mse, "model_mse": result.model_mse,
        "explained_variance_ratio": result.explained_variance_ratio,
        "captured_variance_ratio": result.captured_variance_ratio,
        "eigengap": result.eigengap}


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_the_model_error_on_data_around_another_mean(X, kind):
    """A linear model's error from the Gram matrix counts the offset between the data's mean
    and the one the model was trained with."""
    model = Autoencoder(2, kind=kind, epochs=2, dtype="float64", random_state=0).fit(X)
    shifted = X + [0.5, -1.0, 0.0, 2.0, 0.3]
    result = compare_with_pca(model, shifted)
    check(result, expected_comparison(model, shifted))


def test_float32_models_and_integer_data(X):
    model = Autoencoder(2, epochs=2, random_state=0).fit(X)  # float32
    assert model.params_["W"].dtype == np.float32
    result = compare_with_pca(model, X)
    expected = expected_comparison(model, X)
    expected["model_mse"] = np.mean(np.square(model.reconstruct(X).astype(np.float64) - X))
    check(result, expected, rtol=1e-5)
    whole = np.round(X * 10).astype(np.int64)
    check(compare_with_pca(model, whole), expected_comparison(model, whole.astype(float)),
          rtol=1e-5)


@pytest.mark.parametrize("kind, passes", [("linear", 1), ("nonlinear", 2)])
def test_progress_counts_the_rows_of_every_pass(X, kind, passes):
    model = Autoencoder(2, kind=kind, epochs=1, random_state=0).fit(X)
    seen = []
    compare_with_pca(model, X, progress=seen.append)
    assert sum(seen) == passes * len(X)


def test_the_data_must_fit_the_model(X):
    model = Autoencoder(2, epochs=0, random_state=0).fit(X)
    with pytest.raises(EmbedkitError) as caught:
        compare_with_pca(model, X[:, :4], name="x.npy")
    assert str(caught.value) == "x.npy: rows of 4 features, the model expects 5"
    with pytest.raises(EmbedkitError) as caught:
        compare_with_pca(model, X[:2])
    assert str(caught.value) == ("data: comparing with PCA needs k=2 below the number of "
                                 "features and of rows, got a 2 × 5 matrix")
    compare_with_pca(model, X[:3])  # k=2 below 3 rows: fine
    with pytest.raises(EmbedkitError, match="^x.npy: all 40 rows are the same"):
        compare_with_pca(model, np.ones_like(X), name="x.npy")


@pytest.mark.parametrize("solver", ["covariance", "full", "incremental", "randomized"])
def test_the_reference_of_every_solver(X, solver):
    s, vt = svd_of(X)
    seen = []
    reference = pca_reference(X, 3, solver, progress=seen.append)
    np.testing.assert_allclose(reference.mean, X.mean(axis=0), rtol=1e-12)
    same_rows_up_to_sign(reference.components, vt[:3],
                         rtol=1e-6 if solver == "incremental" else 1e-9)
    np.testing.assert_allclose(reference.variances, s[:3] ** 2 / 39,
                               rtol=1e-6 if solver == "incremental" else 1e-9)
    assert sum(seen) == len(X)
    if solver == "covariance":
        centred = X - X.mean(axis=0)
        np.testing.assert_allclose(reference.gram, centred.T @ centred, rtol=1e-9)
    else:
        assert reference.gram is None


def test_two_rows_have_one_degree_of_freedom():
    X = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, -1.0]])
    reference = pca_reference(X, 1, "covariance")
    assert reference.variances[0] == pytest.approx(np.sum((X[0] - X[1]) ** 2) / 2, rel=1e-12)


def test_variances_of_a_rank_deficient_matrix_are_not_negative():
    X = np.outer(np.arange(7.0), [1.0, 2.0, -1.0, 0.5])
    reference = pca_reference(X, 4, "covariance")
    assert reference.variances[0] == pytest.approx(np.var(np.arange(7.0), ddof=1) * 6.25)
    assert np.all(reference.variances[1:] >= 0)
    assert np.all(np.diff(reference.variances) <= 0)


def test_the_randomized_reference_follows_its_seed(X):
    wide = np.random.default_rng(0).normal(size=(30, 1200))
    first, again = (pca_reference(wide, 2, "randomized", seed=4) for _ in range(2))
    np.testing.assert_array_equal(first.components, again.components)


def test_an_unknown_solver_is_named():
    with pytest.raises(ParameterError) as caught:
        pca_reference(np.eye(3), 1, "qr")
    assert str(caught.value) == ("solver 'qr' is not one of auto, covariance, randomized, "
                                 "incremental, full")
    assert caught.value.params == ("solver",)


def test_the_solver_chosen_by_width_size_and_mapping(tmp_path, monkeypatch):
    assert pca.choose_solver(np.zeros((3, 1000))) == "covariance"
    assert pca.choose_solver(np.zeros((3, 1001))) == "randomized"
    monkeypatch.setattr(pca, "RANDOMIZED_MAX_BYTES", 3 * 1001 * 8)
    assert pca.choose_solver(np.zeros((3, 1001))) == "randomized"
    assert pca.choose_solver(np.zeros((4, 1001))) == "incremental"
    monkeypatch.undo()
    np.save(tmp_path / "x.npy", np.zeros((3, 1001)))
    assert pca.choose_solver(np.load(tmp_path / "x.npy", mmap_mode="r")) == "incremental"


@pytest.mark.parametrize("n_rows, sizes", [(25, [10, 10, 5]), (30, [10, 10, 10]),
                                           (24, [10, 14]), (9, [9])])
def test_incremental_blocks_have_at_least_k_rows(monkeypatch, n_rows, sizes):
    """Blocks of 10 rows; k=5: a last block shorter than k joins the one before, one of k
    rows stays a block."""
    X = np.arange(n_rows * 4.0).reshape(n_rows, 4)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 10 * 4 * 8)
    seen = []
    blocks = list(pca._blocks_of_at_least(X, 5, seen.append))
    assert [len(b) for b in blocks] == sizes
    np.testing.assert_array_equal(np.concatenate(blocks), X)
    assert sum(seen) == n_rows
    # rows beyond a block: the block grows to hold them
    assert [len(b) for b in pca._blocks_of_at_least(X, 12, None)][0] == min(12, n_rows)


@pytest.mark.parametrize("degrees", [[1e-6, 30.0, 89.99999], [10.0, 45.0, 80.0]])
def test_angles_are_accurate_near_0_and_90_degrees(degrees):
    rng = np.random.default_rng(2)
    q = np.linalg.qr(rng.standard_normal((8, 6)))[0]
    theta = np.radians(degrees)
    rotated = q[:, :3] * np.cos(theta) + q[:, 3:] * np.sin(theta)
    angles = np.degrees(principal_angles(q[:, :3] @ rng.standard_normal((3, 3)), rotated))
    np.testing.assert_allclose(angles, degrees, rtol=1e-6)
    # either argument may span more dimensions; float32 input is compared in float64
    np.testing.assert_allclose(np.degrees(principal_angles(q[:, [0, 1, 2, 5]], rotated[:, :2])),
                               degrees[:2], rtol=1e-6)
    single = (q[:, :3].astype(np.float32), rotated.astype(np.float32))
    np.testing.assert_allclose(principal_angles(*single),
                               principal_angles(*(a.astype(np.float64) for a in single)),
                               rtol=1e-9)


def test_a_space_has_zero_angles_with_itself():
    A = np.random.default_rng(0).standard_normal((6, 3))
    assert np.all(principal_angles(A, A) == 0) or np.allclose(principal_angles(A, A), 0,
                                                              atol=1e-7)
    assert np.all(np.isfinite(principal_angles(A, A)))


@pytest.mark.parametrize("values, k, gap", [([4.0, 1.0], 1, 0.75), ([4.0, 1.0], 2, 1.0),
                                            ([4.0, 3.0, 1.0], 2, 2 / 3), ([0.0, 0.0], 1, 0.0)])
def test_relative_eigengap(values, k, gap):
    assert pca.relative_eigengap(np.array(values), k) == pytest.approx(gap, rel=1e-12)


@pytest.fixture(scope="module")
def wide():
    """30 rows of 1,200 features with a flat spectrum: a randomized PCA is not exact here."""
    return np.random.default_rng(0).normal(size=(30, 1200))


def test_full_is_the_exact_svd_and_randomized_follows_its_seed(wide):
    s, vt = svd_of(wide)
    full = pca_reference(wide, 2, "full")
    same_rows_up_to_sign(full.components, vt[:2])
    np.testing.assert_allclose(full.variances, s[:2] ** 2 / 29, rtol=1e-9)
    assert pca_reference(wide, 2).gram is None  # auto: randomized for over 1,000 features
    first, again, other = (pca_reference(wide, 2, "randomized", seed=seed) for seed in (0, 0, 1))
    np.testing.assert_array_equal(first.components, again.components)
    assert np.abs(np.abs(first.components) - np.abs(other.components)).max() > 1e-3
    np.testing.assert_array_equal(pca_reference(wide, 2, "randomized").components,
                                  first.components)  # the default seed is 0
    # compare_with_pca passes its seed on, 0 by default
    model = Autoencoder(2, epochs=0, random_state=0).fit(wide)
    default, zero, one = (compare_with_pca(model, wide, **kwargs)
                          for kwargs in ({}, {"seed": 0}, {"seed": 1}))
    assert default.principal_angles_deg == zero.principal_angles_deg
    assert default.principal_angles_deg != one.principal_angles_deg


def test_full_reads_float32_data_in_float64_randomized_keeps_its_precision(X):
    X32 = X.astype(np.float32)
    s, vt = svd_of(X32.astype(np.float64))
    full = pca_reference(X32, 3, "full")
    same_rows_up_to_sign(full.components, vt[:3], rtol=1e-12)
    np.testing.assert_allclose(full.variances, s[:3] ** 2 / 39, rtol=1e-12)
    assert pca_reference(X32, 3, "randomized").components.dtype == np.float32  # no copy


def test_the_default_solver_is_auto(X):
    reference = pca_reference(X, 2)
    assert reference.gram is not None  # covariance: 5 features


def test_k_one_below_the_width_with_every_solver(X):
    """PCA of k + 1 components is needed (for the eigen-gap), and there are only k + 1."""
    model = Autoencoder(4, epochs=1, dtype="float64", random_state=0).fit(X)
    for solver in ("covariance", "full", "randomized", "incremental"):
        check(compare_with_pca(model, X, solver=solver), expected_comparison(model, X),
              rtol=1e-5)


def test_two_rows_have_all_their_variance_in_one_direction(X):
    model = Autoencoder(1, epochs=1, dtype="float64", random_state=0).fit(X[:2])
    result = compare_with_pca(model, X[:2])
    assert result.explained_variance_ratio == pytest.approx([1.0], rel=1e-12)
    assert result.eigengap == pytest.approx(1.0, rel=1e-12)


def test_data_of_rank_k_have_no_pca_error(X):
    rank2 = X[:, :2] @ np.random.default_rng(1).normal(size=(2, 5)) + 3.0
    model = Autoencoder(2, epochs=1, dtype="float64", random_state=0).fit(rank2)
    result = compare_with_pca(model, rank2)
    assert 0 <= result.pca_mse < 1e-12


@pytest.mark.filterwarnings("error")
def test_variances_that_underflow_give_zero_shares_not_nan(X):
    """Rows that differ by 1e-170: their squares underflow to 0, so the total variance is 0;
    the report says 0 explained and everything captured, without a warning."""
    tiny = X * 1e-170
    model = Autoencoder(2, epochs=1, dtype="float64", random_state=0).fit(tiny)
    result = compare_with_pca(model, tiny)
    assert result.explained_variance_ratio == [0.0, 0.0]
    assert result.captured_variance_ratio == 1.0


def test_the_rows_are_summed_over_every_block(X, monkeypatch):
    model = Autoencoder(2, kind="nonlinear", epochs=2, dtype="float64", random_state=0).fit(X)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 7 * 5 * 8)  # blocks of 7 rows
    check(compare_with_pca(model, X), expected_comparison(model, X))


def test_float32_rows_stay_float32(X):
    """Reconstructions of float32 data are float32, their errors summed in float64."""
    X32 = X.astype(np.float32)
    model = Autoencoder(2, kind="nonlinear", epochs=2, random_state=0).fit(X32)
    result = compare_with_pca(model, X32)
    rebuilt = model.reconstruct(X32)
    assert rebuilt.dtype == np.float32
    assert result.model_mse == pytest.approx(
        np.sum(np.square(rebuilt - X32), dtype=np.float64) / X32.size, rel=1e-12)


def test_an_untied_linear_model_is_read_through_its_own_decoder(X):
    model = Autoencoder(2, tied=False, epochs=3, lr=1e-2, polish=False, dtype="float64",
                        random_state=0).fit(X)
    assert not np.allclose(model.params_["U"], model.params_["W"].T)
    check(compare_with_pca(model, X, solver="covariance"), expected_comparison(model, X))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("seed", range(5))
def test_angles_of_equal_and_orthogonal_spaces_without_warnings(seed):
    """Rounding puts cosines and sines a little above 1 for most such bases; they are clipped
    (arccos and arcsin of them would warn, even where their value is not used)."""
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((6, 6)))[0]
    np.testing.assert_allclose(principal_angles(q[:, :3], q[:, :3]), 0, atol=1e-7)
    np.testing.assert_allclose(principal_angles(q[:, :3], q[:, 3:]), np.pi / 2, rtol=1e-12)


def test_angles_near_90_degrees_keep_their_distance_to_it():
    rng = np.random.default_rng(2)
    q = np.linalg.qr(rng.standard_normal((8, 4)))[0]
    theta = np.radians(90 - 1e-6)
    rotated = q[:, :1] * np.cos(theta) + q[:, 2:3] * np.sin(theta)
    angle = np.degrees(principal_angles(q[:, :2], rotated))
    assert 90 - angle[0] == pytest.approx(1e-6, rel=1e-6)
    # the narrower space first gives the same angle
    assert np.degrees(principal_angles(rotated, q[:, :2]))[0] == angle[0]
