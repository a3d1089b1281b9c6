"""The statistics autoencoders and the PCA comparison need, one block of rows at a time
(:mod:`embedkit.streaming`): column means, centred rows and Gram matrices, digests, and the
seeded order of runs of rows used to train on memory-mapped files."""

from __future__ import annotations

import hashlib

import numpy as np

from embedkit.streaming import Progress, block_rows, iter_blocks


def column_mean(X: np.ndarray, progress: Progress | None = None) -> np.ndarray:
    """Mean of each column, accumulated in float64 block by block (shape (n_features,))."""
    total = np.zeros(X.shape[1], dtype=np.float64)
    for _, block in iter_blocks(X, progress=progress):
        total += block.sum(axis=0, dtype=np.float64)
    return total / max(1, len(X))


def centred_gram(X: np.ndarray, mean: np.ndarray, dtype: np.dtype | None = None,
                 progress: Progress | None = None) -> np.ndarray:
    """``(X − mean)ᵀ(X − mean)``, the rows centred as :func:`centred_rows` does (in ``dtype``,
    default ``X``'s), shape (n_features, n_features), float64.

    Each block's product is formed in ``dtype`` (float32 training: float32, as
    :func:`moments` does, twice the speed and no float64 copy of the block) and the blocks
    are summed in float64. The rows are centred before the product, so float32 loses little:
    within about 4e-8 of the largest entry on 200 blocks of data a thousand standard
    deviations off the origin (float32 sums of the blocks: 5e-7; tests).
    """
    dtype = np.dtype(dtype or X.dtype)
    gram = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
    rows = block_rows(X)
    centred = np.empty((min(rows, len(X)), X.shape[1]), dtype)  # reused across blocks
    for _, block in iter_blocks(X, rows, progress):
        part = centred_rows(block, slice(None), mean, dtype, out=centred[:len(block)])
        gram += part.T @ part
    return gram


def moments(X: np.ndarray, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The column means and the centred Gram matrix ``(X − μ)ᵀ(X − μ)`` in one pass, float64.

    The rows are summed around the first block's mean ``s`` and corrected at the end,
    ``Σ(x − s)(x − s)ᵀ − n (μ − s)(μ − s)ᵀ``: ``s`` is close to ``μ``, so the correction
    cancels little (Chan, Golub & LeVeque 1983, shifted data). Each block is shifted into one
    reused buffer and its product and column sums are formed in ``X``'s precision (float32
    data in float32, as scikit-learn's covariance solver does: twice the speed and no float64
    copy of the block); the blocks are summed in float64.
    """
    dtype = np.result_type(X.dtype, np.float32)
    shift = None
    total = np.zeros(X.shape[1], dtype=np.float64)
    gram = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
    rows = block_rows(X)
    shifted = np.empty((min(rows, len(X)), X.shape[1]), dtype)  # reused: fresh memory faults in
    for _, block in iter_blocks(X, rows, progress):
        if shift is None:
            shift = block.mean(axis=0, dtype=np.float64).astype(dtype)
        centred = np.subtract(block, shift, out=shifted[:len(block)], dtype=dtype)
        total += centred.sum(axis=0)  # of rows near their mean: small sums, little rounding
        gram += centred.T @ centred
    offset = total / max(1, len(X))
    gram -= len(X) * np.outer(offset, offset)
    return (offset if shift is None else shift + offset), gram


def centred_rows(X: np.ndarray, rows: np.ndarray | slice, mean: np.ndarray, dtype: np.dtype,
                 out: np.ndarray | None = None) -> np.ndarray:
    """``X[rows] − mean`` (subtracted in ``X``'s dtype), in ``dtype``.

    Element for element the same values as centring the whole matrix first and indexing it
    afterwards, without a centred copy of the data. ``out`` (shape (len(rows), n_features),
    ``dtype``) receives the result when given. Row ids must lie in ``range(len(X))``: into
    an ``out`` of ``X``'s dtype they are gathered unchecked (neither refused nor wrapped).
    """
    shift = mean.astype(X.dtype, copy=False)
    if out is not None and out.dtype == X.dtype:
        # in place: one gather and one subtraction, no temporaries (a training batch); the
        # rows are in range, and mode "clip" gathers straight into out ("raise" gathers into
        # a buffer first); nothing to subtract from data that come centred
        if isinstance(rows, slice):
            return np.subtract(X[rows], shift, out=out)
        np.take(X, rows, axis=0, out=out, mode="clip")
        return np.subtract(out, shift, out=out) if shift.any() else out
    picked = X[rows] if isinstance(rows, slice) else np.take(X, rows, axis=0)
    centred = np.subtract(picked, shift)
    if out is None:
        return centred.astype(dtype, copy=False)
    out[...] = centred
    return out


def digest(X: np.ndarray, mean: np.ndarray, dtype: np.dtype,
           progress: Progress | None = None) -> str:
    """SHA-256 of the shape, the training dtype and the centred values, block by block (to
    recognise the same data when a run resumes)."""
    sha = hashlib.sha256(f"{X.shape}{np.dtype(dtype)}".encode())
    for _, block in iter_blocks(X, progress=progress):
        sha.update(np.ascontiguousarray(centred_rows(block, slice(None), mean, dtype)).data)
    return sha.hexdigest()


def epoch_order(rows: np.ndarray, rng: np.random.Generator, block: int | None = None
                ) -> np.ndarray:
    """The order in which an epoch visits ``rows`` (sorted row ids).

    Without ``block`` (in-memory data), a uniform permutation. With ``block`` (streamed
    data), the rows are cut into runs of ``block`` consecutive ids, the runs are visited in a
    random order and the rows of each run in a random order: each run is read from the file
    once, sequentially. Minibatches then mix rows of one run only, so a file sorted by some
    property trains on batches less mixed than a full shuffle's (see the README).
    """
    if block is None or len(rows) <= block:
        return rows[rng.permutation(len(rows))]
    starts = np.arange(0, len(rows), block)
    runs = [rows[s:s + block] for s in starts[rng.permutation(len(starts))]]
    return np.concatenate([run[rng.permutation(len(run))] for run in runs])
