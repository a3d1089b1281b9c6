"""How close a learned subspace is to PCA's: principal angles, errors, variance, eigen-gap."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from embedkit import streaming
from embedkit.ae import blocks
from embedkit.ae.estimator import Autoencoder
from embedkit.errors import EmbedkitError, ParameterError


def principal_angles(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of ``A`` and ``B``.

    The cosines are the singular values of ``Q₁ᵀQ₂`` (orthonormal bases from QR).
    ``arccos`` is inaccurate near 0, so angles whose cosine exceeds √½ come from the singular
    values of ``Q₂ − Q₁Q₁ᵀQ₂`` (their sines) instead, as in Björck & Golub.
    """
    q1, _ = np.linalg.qr(np.asarray(A, dtype=np.float64))
    q2, _ = np.linalg.qr(np.asarray(B, dtype=np.float64))
    if q1.shape[1] < q2.shape[1]:
        q1, q2 = q2, q1
    overlap = q1.T @ q2
    cosines = np.clip(np.linalg.svd(overlap, compute_uv=False), -1, 1)  # descending
    sines = np.clip(np.linalg.svd(q2 - q1 @ overlap, compute_uv=False)[::-1], -1, 1)
    return np.where(cosines ** 2 > 0.5, np.arcsin(sines), np.arccos(cosines))


def relative_eigengap(eigenvalues: np.ndarray, k: int) -> float:
    """``(λ_k − λ_{k+1}) / λ_k`` for descending ``eigenvalues`` (λ_{k+1} = 0 if absent)."""
    lam_k = float(eigenvalues[k - 1])
    lam_next = float(eigenvalues[k]) if len(eigenvalues) > k else 0.0
    return (lam_k - lam_next) / lam_k if lam_k > 0 else 0.0


@dataclass
class Comparison:
    """The numbers ``embedkit compare-pca`` reports (see :func:`compare_with_pca`)."""

    k: int
    principal_angles_deg: list[float]
    pca_mse: float
    model_mse: float
    explained_variance_ratio: list[float]
    captured_variance_ratio: float
    eigengap: float

    def to_dict(self) -> dict:
        return asdict(self)


#: The reference solvers: ``auto`` picks one by the data's shape (see :func:`choose_solver`).
SOLVERS = ("auto", "covariance", "randomized", "incremental", "full")
#: Up to this many features the covariance matrix is formed and fully diagonalised, as
#: scikit-learn's ``svd_solver="auto"`` does with ``covariance_eigh`` (1.5 and later).
COVARIANCE_MAX_FEATURES = 1000
#: A wider matrix in memory up to this size goes to scikit-learn's randomized PCA (which
#: copies it to centre it); a larger or memory-mapped one to ``IncrementalPCA`` over blocks.
RANDOMIZED_MAX_BYTES = 256 * 2**20


def choose_solver(X: np.ndarray) -> str:
    """The PCA solver :func:`compare_with_pca` uses on ``X`` with ``solver="auto"``.

    ``covariance`` for at most :data:`COVARIANCE_MAX_FEATURES` features: one streaming pass
    sums ``XᵀX`` (n × n), whose eigendecomposition gives every eigenvalue exactly; wider
    data in memory of at most :data:`RANDOMIZED_MAX_BYTES`: ``randomized`` (Halko et al.,
    scikit-learn's); anything else: ``incremental`` (scikit-learn's ``IncrementalPCA``, Ross
    et al. 2008), one block of rows at a time.
    """
    if X.shape[1] <= COVARIANCE_MAX_FEATURES:
        return "covariance"
    if X.nbytes <= RANDOMIZED_MAX_BYTES and not streaming.is_mapped(X):
        return "randomized"
    return "incremental"


@dataclass
class _Reference:
    """PCA of the data: mean, top components (rows) and the leading variances; the centred
    Gram matrix when the solver formed it."""

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    gram: np.ndarray | None = None


def pca_reference(X: np.ndarray, n_components: int, solver: str = "auto", seed: int = 0,
                  progress: streaming.Progress | None = None) -> _Reference:
    """The mean, the first ``n_components`` principal axes and their variances.

    Parameters
    ----------
    X : ndarray, shape (n_rows, n_features)
        In memory or memory-mapped (streamed by the ``covariance`` and ``incremental``
        solvers).
    n_components : int
    solver : {"auto", "covariance", "randomized", "incremental", "full"}
        ``full`` is scikit-learn's exact SVD of the whole matrix in float64 (the reference of
        the tests; it copies the data twice).
    seed : int
        Seeds the randomized solver.
    progress : callable, optional
        Called with the number of rows of each block read.

    Returns
    -------
    _Reference
        ``mean`` (n_features,), ``components`` (n_components, n_features) with orthonormal
        rows, ``variances`` (n_components,), descending, with ``n − 1`` degrees of freedom.
    """
    if solver == "auto":
        solver = choose_solver(X)
    if solver == "covariance":
        mean, gram = blocks.moments(X, progress)
        values, vectors = np.linalg.eigh(gram / max(1, len(X) - 1))
        top = np.argsort(values)[::-1][:n_components]
        return _Reference(mean, vectors[:, top].T, np.maximum(values[top], 0.0), gram)
    # imported here: the default covariance solver needs none of scikit-learn's decomposition
    from sklearn.decomposition import PCA, IncrementalPCA

    if solver == "incremental":
        pca = IncrementalPCA(n_components)
        for block in _blocks_of_at_least(X, n_components, progress):
            pca.partial_fit(block)
    elif solver in ("randomized", "full"):
        data = np.asarray(X, dtype=np.float64) if solver == "full" else np.asarray(X)
        pca = PCA(n_components, svd_solver=solver, random_state=seed).fit(data)
        if progress:
            progress(len(X))
    else:
        raise ParameterError(f"solver {solver!r} is not one of {', '.join(SOLVERS)}",
                             params=("solver",))
    return _Reference(pca.mean_, pca.components_, pca.explained_variance_)


def _blocks_of_at_least(X: np.ndarray, rows: int, progress: streaming.Progress | None):
    """Consecutive row blocks of ``X`` with at least ``rows`` rows each (IncrementalPCA's
    requirement): a short last block is joined to the one before."""
    pending = None
    for _, block in streaming.iter_blocks(X, max(rows, streaming.block_rows(X)), progress):
        if pending is not None:
            if len(block) < rows:
                block = np.concatenate([pending, block])
            else:
                yield pending
        pending = block
    if pending is not None:
        yield pending


def compare_with_pca(model: Autoencoder, X: np.ndarray, solver: str = "auto", seed: int = 0,
                     progress: streaming.Progress | None = None, name: str = "data"
                     ) -> Comparison:
    """Compare a fitted autoencoder's subspace with PCA's on the same data.

    PCA has the model's ``k`` and centres the data (as scikit-learn's does). The model's
    subspace is ``model.components_`` (the decoder's column space). The data are read one
    block at a time: a memory-mapped matrix is never loaded whole, and memory is the model,
    an ``n × n`` matrix and a block (see :func:`choose_solver` for the solver).

    Parameters
    ----------
    model : Autoencoder
        Fitted, with ``k`` below the number of features and of rows.
    X : ndarray, shape (n_rows, n_features)
        The data, preprocessed as for training (float32 stays float32).
    solver : {"auto", "covariance", "randomized", "incremental", "full"}
        How the PCA reference is computed (:func:`pca_reference`).
    seed : int
        Seeds the randomized solver.
    progress : callable, optional
        Called with the number of rows of each block read (over two or three passes).
    name : str
        What error messages call ``X`` (the CLI gives the file's name).

    Returns
    -------
    Comparison
        All ``k`` principal angles (degrees, ascending), both mean squared reconstruction
        errors, PCA's explained-variance ratios, the share of the total variance inside the
        model's subspace, and the relative eigen-gap at ``k``.

    Raises
    ------
    EmbedkitError
        When the data do not fit the model, ``k`` is not below both dimensions, or every row
        is the same (zero variance).
    """
    k = len(model.components_)
    if X.shape[1] != model.n_features_in_:
        raise EmbedkitError(f"{name}: rows of {X.shape[1]} features, the model expects "
                            f"{model.n_features_in_}")
    if k >= min(X.shape):
        raise EmbedkitError(f"{name}: comparing with PCA needs k={k} below the number of "
                            f"features and of rows, got a {X.shape[0]} × {X.shape[1]} matrix")
    streaming.check_variance(X, name)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    reference = pca_reference(X, k + 1, solver, seed, progress)
    basis = np.linalg.qr(model.components_.T.astype(np.float64))[0]
    if reference.gram is not None and model.architecture.linear:
        total, captured, model_error = _linear_sums_of_squares(
            model, reference.gram, reference.mean, len(X), basis)
    else:
        total, captured, model_error = _sums_of_squares(model, X, reference.mean, basis,
                                                        progress)
    n_rows, n_features = X.shape
    variance = total / max(1, n_rows - 1)
    top = reference.components[:k]
    return Comparison(
        k=k,
        principal_angles_deg=np.degrees(principal_angles(top.T, basis)).tolist(),
        pca_mse=max(0.0, total - float(np.sum(reference.variances[:k])) * (n_rows - 1))
        / (n_rows * n_features),
        model_mse=model_error / (n_rows * n_features),
        explained_variance_ratio=(reference.variances[:k] / variance if variance else
                                  np.zeros(k)).tolist(),
        captured_variance_ratio=captured / total if total else 1.0,
        eigengap=relative_eigengap(reference.variances, k),
    )


def _linear_sums_of_squares(model: Autoencoder, gram: np.ndarray, mean: np.ndarray,
                            n_rows: int, basis: np.ndarray) -> tuple[float, float, float]:
    """What :func:`_sums_of_squares` computes, exactly and without reading the data, from the
    centred Gram matrix ``G``: a linear model reconstructs ``x̂ = m + UW(x − m)`` (``m`` its
    training mean, ``U = Wᵀ`` when tied), so ``Σ‖x − x̂‖² = tr((I − UW)ᵀ(I − UW) S)`` with
    ``S = G + n(μ − m)(μ − m)ᵀ``, the Gram matrix around ``m``."""
    params = {name: value.astype(np.float64) for name, value in model.params_.items()}
    decoder = params["W"].T if model.tied else params["U"]
    residual = np.eye(len(gram)) - decoder @ params["W"]
    offset = mean - model.mean_.astype(np.float64)
    around_model_mean = gram + n_rows * np.outer(offset, offset)
    error = float(np.sum((residual @ around_model_mean) * residual))
    return float(np.trace(gram)), float(np.sum((gram @ basis) * basis)), error


def _sums_of_squares(model: Autoencoder, X: np.ndarray, mean: np.ndarray, basis: np.ndarray,
                     progress: streaming.Progress | None) -> tuple[float, float, float]:
    """In one pass: ``Σ‖x − μ‖²``, ``Σ‖Qᵀ(x − μ)‖²`` (``Q`` = ``basis``) and the model's
    ``Σ‖x − x̂‖²``, in float64."""
    total = captured = error = 0.0
    for _, block in streaming.iter_blocks(X, progress=progress):
        centred = block.astype(np.float64) - mean
        total += float(np.sum(centred ** 2))
        captured += float(np.sum((centred @ basis) ** 2))
        error += float(np.sum((model.reconstruct(block) - block) ** 2, dtype=np.float64))
    return total, captured, error
