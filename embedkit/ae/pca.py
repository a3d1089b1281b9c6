"""How close a learned subspace is to PCA's: principal angles, errors, variance, eigen-gap."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.decomposition import PCA

from embedkit.ae.estimator import Autoencoder
from embedkit.errors import EmbedkitError


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


def compare_with_pca(model: Autoencoder, X: np.ndarray) -> Comparison:
    """Compare a fitted autoencoder's subspace with PCA's on the same data.

    PCA is scikit-learn's, with the model's ``k``, on ``X`` centred (as PCA does). The model's
    subspace is ``model.components_`` (the decoder's column space).

    Parameters
    ----------
    model : Autoencoder
        Fitted, with ``k`` below the number of features and of rows.
    X : ndarray, shape (n_rows, n_features)
        The data, preprocessed as for training.

    Returns
    -------
    Comparison
        All ``k`` principal angles (degrees, ascending), both mean squared reconstruction
        errors, PCA's explained-variance ratios, the share of the total variance inside the
        model's subspace, and the relative eigen-gap at ``k``.
    """
    k = len(model.components_)
    if X.shape[1] != model.n_features_in_:
        raise EmbedkitError(f"data have {X.shape[1]} features, the model expects "
                            f"{model.n_features_in_}")
    if k >= min(X.shape):
        raise EmbedkitError(f"comparing with PCA needs k={k} below the number of features and "
                            f"of rows, got a {X.shape[0]} × {X.shape[1]} matrix")
    X = np.asarray(X, dtype=np.float64)
    pca = PCA(n_components=k + 1, svd_solver="full").fit(X)
    centred = X - pca.mean_
    top = pca.components_[:k]
    total = float(np.sum(centred ** 2))
    basis = np.linalg.qr(model.components_.T.astype(np.float64))[0]
    captured = float(np.sum((centred @ basis) ** 2)) / total if total else 1.0
    return Comparison(
        k=k,
        principal_angles_deg=np.degrees(principal_angles(top.T, basis)).tolist(),
        pca_mse=float(np.mean((centred - centred @ top.T @ top) ** 2)),
        model_mse=-float(model.score(X)),
        explained_variance_ratio=pca.explained_variance_ratio_[:k].tolist(),
        captured_variance_ratio=captured,
        eigengap=relative_eigengap(pca.explained_variance_, k),
    )
