"""A final full-batch polish for linear autoencoders, still on the core.

Minibatch Adam reaches PCA's error quickly but then wanders at its noise floor, degrees away
from the optimum subspace (MEASUREMENTS.md). A linear model's loss depends on the data only
through ``XᵀX``, so the full-data loss equals the same loss on a square factor ``R`` with
``RᵀR = XᵀX · n/N`` (a Cholesky factor, ``n`` = number of features): full-batch steps then cost
``n²k`` instead of ``Nnk``. Heavy-ball gradient descent on ``R`` removes the noise, then the
weights are replaced by the orthogonal projection onto the learned subspace.
"""

from __future__ import annotations

import numpy as np

from embedkit import streaming
from embedkit.ae import blocks
from embedkit.ae.models import Architecture
from embedkit.ae.regularizers import Penalties, objective
from embedkit.core import Tensor
from embedkit.core.optim import SGD

#: Full-batch steps of the polish.
POLISH_STEPS = 300
#: Momentum of the polish; the step is ``STEP_SCALE · n / λ_max`` (λ_max of the covariance), a
#: safe fraction of the stability limit of heavy-ball descent on this loss.
MOMENTUM = 0.9
STEP_SCALE = 0.2


def covariance_factor(X: np.ndarray, mean: np.ndarray | None = None,
                      dtype: np.dtype | None = None,
                      progress: streaming.Progress | None = None) -> np.ndarray:
    """A matrix ``R`` whose rows reproduce the mean squared error of any linear model on the
    data ``X − mean`` (cast to ``dtype``, default ``X``'s).

    Returns that data itself when it has no more rows than columns, otherwise the ``n × n``
    upper Cholesky factor of ``XᵀX · n/N`` (a tiny ridge keeps it defined for constant
    columns; a multiple of the identity does not move eigenvectors). ``XᵀX`` is summed one
    block at a time (:func:`~embedkit.ae.blocks.centred_gram`), so a memory-mapped ``X`` is
    streamed, never loaded.

    Data of lower rank than ``n`` (rows on a plane in 8 dimensions) leave eigenvalues of
    ``XᵀX`` at zero, which rounding makes slightly negative, beyond the ridge: the Cholesky
    factorisation then fails and the factor is ``diag(√λ) Vᵀ`` from the eigendecomposition
    ``V diag(λ) Vᵀ`` instead, negative ``λ`` clipped to zero (not triangular, but
    ``RᵀR = XᵀX · n/N`` all the same). Full-rank data keep the Cholesky factor.
    """
    n_rows, n_features = X.shape
    mean = np.zeros(n_features) if mean is None else mean
    dtype = np.dtype(dtype or X.dtype)
    if n_rows <= n_features:
        return blocks.centred_rows(X, slice(None), mean, dtype)
    gram = blocks.centred_gram(X, mean, dtype, progress) * (n_features / n_rows)
    ridge = 1e-10 * max(np.trace(gram) / n_features, np.finfo(np.float64).tiny)
    gram[np.diag_indices_from(gram)] += ridge
    try:
        return np.linalg.cholesky(gram).T.astype(dtype)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(gram)
        return (np.sqrt(np.clip(values, 0, None))[:, None] * vectors.T).astype(dtype)


def polish_linear(arch: Architecture, params: dict[str, np.ndarray], X: np.ndarray,
                  penalties: Penalties = Penalties(), steps: int = POLISH_STEPS,
                  mean: np.ndarray | None = None,
                  progress: streaming.Progress | None = None) -> None:
    """Refine a trained linear model in place: full-batch descent, then exact projection.

    Parameters
    ----------
    arch : Architecture
        A linear architecture (tied or untied).
    params : dict of ndarray
        Its trained weights, replaced in place.
    X : ndarray
        The training data (in memory or memory-mapped).
    penalties : Penalties
        The same penalties as in training (the descent minimises the same objective).
    steps : int
        Full-batch steps before the projection (0 for the projection alone).
    mean : ndarray, optional
        Subtracted from the rows of ``X`` (the centring of training).
    progress : callable, optional
        Called with the row count of each block read to sum ``XᵀX``.

    Notes
    -----
    The projection: for a subspace with orthonormal basis ``Q`` the least-squares
    reconstruction is ``Q Qᵀ x``, which descent only approaches; so the tied model gets
    ``W = Qᵀ`` and the untied one ``W = Qᵀ, U = Q``, with ``Q`` spanning the decoder's columns.
    Skipped when penalties are active (the projection would not minimise their sum).
    """
    if any((penalties.l1, penalties.contractive, penalties.weight_decay)):
        return
    # project first as well: balanced weights (‖U‖ = ‖W‖ = 1) keep the fixed step stable
    _project(arch, params)
    R = covariance_factor(X, mean, params["W"].dtype, progress)
    largest = np.linalg.norm(R, 2) ** 2 / len(R)
    # constant data leave only the ridge (a float64 denormal): no step, and no descent
    with np.errstate(divide="ignore", over="ignore"):
        lr = STEP_SCALE * R.shape[1] / largest
    if steps and np.isfinite(lr):
        # copies: a diverging descent must leave the trained weights untouched
        tensors = {name: Tensor(value.copy(), requires_grad=True)
                   for name, value in params.items()}
        optimizer = SGD(list(tensors.values()), lr=lr, momentum=MOMENTUM)
        data = Tensor(R)
        for _ in range(steps):
            loss, _ = objective(arch, tensors, data, data, penalties)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if all(np.isfinite(t.data).all() for t in tensors.values()):
            params.update({name: t.data for name, t in tensors.items()})
    _project(arch, params)


def _project(arch: Architecture, params: dict[str, np.ndarray]) -> None:
    """Weights of the orthogonal projection onto the decoder's column space."""
    decoder = params["W"].T if arch.tied else params["U"]
    basis, _ = np.linalg.qr(decoder.astype(np.float64))
    params["W"] = np.ascontiguousarray(basis.T).astype(params["W"].dtype)
    if not arch.tied:
        params["U"] = basis.astype(params["U"].dtype)
