"""The negative-sampling loss of word2vec as fused primitives on the core, with their VJPs.

A minibatch is described by index arrays into the input and output matrices themselves: the
primitives read the rows they need and their gradients are :class:`~embedkit.core.tensor.SparseRows`
on those rows, repeated ids and all, which a plain SGD step adds straight into the matrices
(no ``np.unique``, no gathered copy, no merging pass):

- skip-gram: pair ``b`` scores input row ``pair_inputs[b]`` against output row
  ``pair_outputs[b]`` (the positive) and against the noise rows of its group;
- CBOW: the input of sample ``b`` is the mean (or sum) of its context rows
  (:func:`context_bags`), then the same loss with ``pair_inputs=None``;
- :func:`window_loss` (the default kernel of training): a minibatch of windows, each
  centre's context rows scored against the centre's output row and ``k`` negatives drawn for
  that window alone, as batched matrix products over runs of windows of one size.

Negatives are shared by a group of consecutive pairs (Ji et al. 2016 share them across a
window): the ``S`` noise rows of a group form one matrix, so the noise scores of its pairs are
one small matrix product instead of ``k`` dot products per pair, and each pair's ``k``
word2vec negatives become the ``S`` shared ones weighted ``k / S`` (the same expected
gradient). Groups stay small because a noise row receives the summed gradient of its whole
group in one step: shared by thousands of pairs it would take steps thousands of times
larger than word2vec's, and training diverges. Rows are summed by sparse matrix products
(:mod:`embedkit.core.scatter`), never ``np.add.at``.
"""

from __future__ import annotations

import itertools

import numpy as np

from embedkit.core.gradcheck import Case, register_check
from embedkit.core.scatter import sparse_times, take_rows
from embedkit.core.tensor import SparseRows, primitive


def _softplus_and_sigmoid(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(1 + eᶻ)`` and ``σ(z)`` from one exponential, without overflow."""
    e = np.exp(-np.abs(z))
    softplus = np.log1p(e)
    softplus += np.maximum(z, 0)
    sigmoid = np.where(z >= 0, 1, e)
    sigmoid /= 1 + e
    return softplus, sigmoid


def _group_matmul(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Row block ``i`` of ``a`` (rows ``i·size`` onwards) times ``b[i]``.

    ``a`` is ``(B, m)``, ``b`` is ``(ceil(B / size), m, p)``; the result is ``(B, p)``. The
    full blocks go through one batched matrix product, the last partial block through another.
    """
    full = len(a) // size * size
    n_full = full // size
    out = np.empty((len(a), b.shape[2]), dtype=np.result_type(a, b))
    np.matmul(a[:full].reshape(n_full, size, -1), b[:n_full],
              out=out[:full].reshape(n_full, size, -1))
    if full < len(a):
        np.matmul(a[full:], b[n_full], out=out[full:])
    return out


def _group_outer(a: np.ndarray, c: np.ndarray, size: int, out: np.ndarray | None = None
                 ) -> np.ndarray:
    """Per row block ``i``: ``a_iᵀ c_i``, stacked into ``(ceil(B / size), p, q)`` (written
    into ``out`` when given)."""
    full = len(a) // size * size
    n_full = full // size
    n_groups = -(-len(a) // size)
    if out is None:
        out = np.empty((n_groups, a.shape[1], c.shape[1]), dtype=np.result_type(a, c))
    np.matmul(a[:full].reshape(n_full, size, -1).transpose(0, 2, 1),
              c[:full].reshape(n_full, size, -1), out=out[:n_full])
    if full < len(a):
        np.matmul(a[full:].T, c[full:], out=out[n_full])
    return out


@primitive(saves=True)
def sgns_loss(inputs, outputs, pair_inputs, pair_outputs, negatives, negative_weight=1.0):
    """Summed negative-sampling loss of a minibatch, in float64.

    ``Σ_b [−log σ(x_b·y_b) − w Σ_s log σ(−x_b·n_{g(b),s})]`` with
    ``x_b = inputs[pair_inputs[b]]`` (or ``inputs[b]`` when ``pair_inputs`` is None),
    ``y_b = outputs[pair_outputs[b]]``, ``n_{g,s} = outputs[negatives[g, s]]`` and
    ``w = negative_weight``. Pairs are split into ``G = len(negatives)`` groups of
    ``ceil(B / G)`` consecutive pairs; pair ``b`` is in group ``g(b) = b // ceil(B / G)``.

    Parameters
    ----------
    inputs : ndarray, shape (n_in, d)
        Input rows (the input matrix for skip-gram, the context means for CBOW).
    outputs : ndarray, shape (n_out, d)
        Output rows (the output matrix).
    pair_inputs : ndarray of int, shape (B,), or None
        Input row of each pair; None means row ``b`` for pair ``b``.
    pair_outputs : ndarray of int, shape (B,)
        Positive output row of each pair.
    negatives : ndarray of int, shape (G, S)
        Output rows of the noise words each group of pairs shares.
    negative_weight : float
        Weight of each shared negative (``k / S`` stands in for ``k`` per-pair negatives).
    """
    x = inputs if pair_inputs is None else take_rows(inputs, pair_inputs)
    y = take_rows(outputs, pair_outputs)
    noise = take_rows(outputs, negatives)
    size = -(-len(x) // len(negatives))
    if -(-len(x) // size) != len(negatives):
        raise ValueError(f"{len(negatives)} noise groups cannot split {len(x)} pairs into "
                         "equal consecutive groups")
    # column 0: minus the positive score; then the noise scores (one pass for both)
    scores = np.empty((len(x), 1 + negatives.shape[1]), dtype=x.dtype)
    np.einsum("bd,bd->b", x, y, out=scores[:, 0])
    np.negative(scores[:, 0], out=scores[:, 0])
    scores[:, 1:] = _group_matmul(x, noise.transpose(0, 2, 1), size)
    softplus, sigmoid = _softplus_and_sigmoid(scores)
    loss = (np.sum(softplus[:, 0], dtype=np.float64)
            + negative_weight * np.sum(softplus[:, 1:], dtype=np.float64))
    # d loss / d score: σ(z) − 1 = −σ(−z) for the positives, w σ(z) for the negatives
    d_positive = np.negative(sigmoid[:, 0])
    d_negative = sigmoid[:, 1:]
    d_negative *= negative_weight
    return np.asarray(loss), (x, y, noise, size, d_positive, d_negative)


def _scaled(g, d_positive, d_negative):
    """The score gradients times the incoming gradient (1 in training: no copy then)."""
    scale = float(g)
    if scale == 1.0:
        return d_positive, d_negative
    return d_positive * scale, d_negative * scale


def _sgns_inputs_vjp(g, saved, inputs, outputs, pair_inputs, pair_outputs, negatives,
                     negative_weight=1.0):
    x, y, noise, size, d_positive, d_negative = saved
    d_positive, d_negative = _scaled(g, d_positive, d_negative)
    d_x = _group_matmul(d_negative, noise, size)
    d_x += d_positive[:, None] * y
    return d_x if pair_inputs is None else SparseRows(pair_inputs, d_x, inputs.shape)


def _sgns_outputs_vjp(g, saved, inputs, outputs, pair_inputs, pair_outputs, negatives,
                      negative_weight=1.0):
    x, y, noise, size, d_positive, d_negative = saved
    d_positive, d_negative = _scaled(g, d_positive, d_negative)
    # the positives' rows, then the noise rows, written in place (no concatenated copy)
    rows = np.empty((len(x) + negatives.size, x.shape[1]), dtype=np.result_type(d_negative, x))
    np.multiply(d_positive[:, None], x, out=rows[:len(x)])
    _group_outer(d_negative, x, size, out=rows[len(x):].reshape(*negatives.shape, x.shape[1]))
    return SparseRows(np.concatenate([pair_outputs, negatives.reshape(-1)]), rows,
                      outputs.shape)


sgns_loss.defvjp(_sgns_inputs_vjp, _sgns_outputs_vjp)


def _bag_weights(indptr: np.ndarray, mean: bool, dtype: np.dtype) -> np.ndarray:
    """The entry of each bag member in the bag matrix: ``1 / bag size`` (mean) or 1 (sum)."""
    sizes = np.diff(indptr)
    if not mean:
        return np.ones(indptr[-1] - indptr[0], dtype=dtype)
    return np.repeat((1.0 / np.maximum(sizes, 1)).astype(dtype), sizes)


@primitive(saves=True)
def context_bags(rows, indptr, members, mean=True, distinct=None):
    """CBOW's hidden layer: per bag, the mean (or sum) of its member rows.

    The bags form a sparse ``B × n`` matrix (row ``b``: ``1 / size`` or 1 at its members), so
    the forward is one sparse product and the VJP its transpose: no ``B × window × d`` array.

    Parameters
    ----------
    rows : ndarray, shape (n, d)
        Unique context rows.
    indptr, members : ndarray of int
        Compressed-row layout: bag ``b`` holds ``rows[members[indptr[b]:indptr[b + 1]]]``
        (``indptr[0] == 0``). Empty bags give zero rows.
    mean : bool
        Average (word2vec's default) instead of summing.
    distinct : ndarray of int, optional
        Members number rows of ``rows[distinct]`` instead (distinct rows, each copied out of
        a big matrix once, then summed from that small copy: subword bags hold a shared
        n-gram's row many times).
    """
    weights = _bag_weights(indptr, mean, rows.dtype)  # saved: the VJP needs them again
    table = rows if distinct is None else take_rows(rows, distinct)
    return sparse_times(indptr, members, weights, table, len(indptr) - 1), weights


context_bags.defvjp(lambda g, weights, rows, indptr, members, mean=True, distinct=None:
                    SparseRows(members if distinct is None else distinct[members], g,
                               rows.shape, indptr, weights))


def _equal_size_runs(indptr: np.ndarray) -> list[tuple[int, int, int]]:
    """``(first window, end window, size)`` of each run of consecutive windows of one size."""
    sizes = indptr[1:] - indptr[:-1]
    if not len(sizes):
        return []
    starts = [0, *(np.flatnonzero(sizes[1:] != sizes[:-1]) + 1).tolist(), len(sizes)]
    return [(a, b, int(sizes[a])) for a, b in itertools.pairwise(starts)]


@primitive(saves=True)
def window_loss(inputs, outputs, indptr, members, targets):
    """Summed negative-sampling loss of a minibatch of windows whose words share negatives.

    Window ``b`` has input rows ``x = inputs[members[indptr[b]:indptr[b + 1]]]`` (its context
    words; with ``members`` None, the single row ``inputs[b]``) and output rows
    ``y = outputs[targets[b]]``: its centre word (column 0, the positive) then its ``k``
    negatives. Every input row of the window is scored against all of them::

        Σ_b Σ_{i ∈ b} [−log σ(x_i·y_b0) − Σ_{s≥1} log σ(−x_i·y_bs)]

    which is word2vec's loss over the window's pairs with the ``k`` noise words drawn once per
    window instead of once per pair (pWord2Vec's formulation, Ji et al. 2016, "Parallelizing
    Word2Vec in Shared and Distributed Memory"). The scores of a run of windows of one size
    ``c`` are one batched product ``(n, c, d) × (n, d, 1 + k)``, and both gradients are two
    more; each window's ``1 + k`` output rows are read, and their gradients written, once
    per window rather than once per pair. Windows sorted by size give one run per size.

    Parameters
    ----------
    inputs : ndarray, shape (n_in, d)
        Input rows: the input matrix (skip-gram) or the minibatch's context means (CBOW).
    outputs : ndarray, shape (n_out, d)
        The output matrix.
    indptr : ndarray of int, shape (B + 1,)
        Compressed-row layout of the windows' input rows (``indptr[0] == 0``); ignored with
        ``members`` None. Empty windows contribute nothing.
    members : ndarray of int, shape (indptr[-1],), or None
        Input row ids, window after window; None: window ``b`` is input row ``b``.
    targets : ndarray of int, shape (B, 1 + k)
        Per window, its positive output row then its negatives (repeats allowed).

    Returns
    -------
    Tensor
        The loss, float64, summed over pairs.
    """
    n_windows, n_outputs = targets.shape
    if members is None:
        x, runs = inputs, [(0, n_windows, 1)]
    else:
        x, runs = take_rows(inputs, members), _equal_size_runs(indptr)
    y = take_rows(outputs, targets)                       # (B, 1 + k, d)
    y_t = y.transpose(0, 2, 1)
    scores = np.empty((len(x), n_outputs), dtype=x.dtype)  # one row per (window, input row)
    for a, b, size in runs:
        if size:
            first, last = (a, b) if members is None else (indptr[a], indptr[b])
            np.matmul(x[first:last].reshape(b - a, size, -1), y_t[a:b],
                      out=scores[first:last].reshape(b - a, size, n_outputs))
    scores[:, 0] *= -1                                    # column 0: minus the positive score
    softplus, sigmoid = _softplus_and_sigmoid(scores)
    sigmoid[:, 0] *= -1                                   # d loss / d score: −σ(−z), then σ(z)
    return np.asarray(np.sum(softplus, dtype=np.float64)), (x, y, runs, sigmoid)


def _window_runs(saved, indptr, members):
    """Per run of one size: windows ``a:b``, rows ``first:last`` of x and of the score
    gradients, and the run's size."""
    for a, b, size in saved[2]:
        if size:
            yield (a, b, *((a, b) if members is None else (indptr[a], indptr[b])), size)


def _window_inputs_vjp(g, saved, inputs, outputs, indptr, members, targets):
    x, y, _, d_scores = saved
    d_scores = d_scores * float(g) if float(g) != 1.0 else d_scores
    d_x = np.empty_like(x)
    for a, b, first, last, size in _window_runs(saved, indptr, members):
        np.matmul(d_scores[first:last].reshape(b - a, size, -1), y[a:b],
                  out=d_x[first:last].reshape(b - a, size, -1))
    return d_x if members is None else SparseRows(members, d_x, inputs.shape)


def _window_outputs_vjp(g, saved, inputs, outputs, indptr, members, targets):
    x, y, _, d_scores = saved
    d_scores = d_scores * float(g) if float(g) != 1.0 else d_scores
    empty = any(not size for *_, size in saved[2])
    d_y = np.zeros_like(y) if empty else np.empty_like(y)  # an empty window's rows stay zero
    for a, b, first, last, size in _window_runs(saved, indptr, members):
        if size == 1:  # an outer product per window: matmul's loop over (k, 1) x (1, d) is
            # 4-7x slower than einsum's (CBOW is all such windows)
            np.einsum("bk,bd->bkd", d_scores[first:last], x[first:last], out=d_y[a:b])
        else:
            np.matmul(d_scores[first:last].reshape(b - a, size, -1).transpose(0, 2, 1),
                      x[first:last].reshape(b - a, size, -1), out=d_y[a:b])
    return SparseRows(targets, d_y, outputs.shape)


window_loss.defvjp(_window_inputs_vjp, _window_outputs_vjp)


# ---------------------------------------------------------------- gradient checks

def _sgns_cases(rng: np.random.Generator) -> list[Case]:  # pragma: no mutate block
    pair_inputs = np.array([0, 2, 0, 1, 2])      # input rows repeat: their gradients add up
    pair_outputs = np.array([1, 1, 3, 0, 2])
    shared = np.array([[4, 2, 4]])               # a noise word drawn twice, one also a positive
    groups = np.array([[4, 2], [0, 4], [3, 3]])  # groups of 2, 2 and 1 pairs
    cases = [
        Case(lambda x, y: sgns_loss(x, y, pair_inputs, pair_outputs, shared, 5 / 3),
             (rng.normal(0, 0.7, (3, 4)), rng.normal(0, 0.7, (5, 4))), "skip-gram, w=5/3"),
        Case(lambda x, y: sgns_loss(x, y, pair_inputs, pair_outputs, groups, 0.5),
             (rng.normal(0, 0.7, (3, 4)), rng.normal(0, 0.7, (5, 4))), "3 groups"),
        Case(lambda x, y: sgns_loss(x, y, None, pair_outputs, shared),
             (rng.normal(0, 0.7, (5, 4)), rng.normal(0, 0.7, (5, 4))), "pairs by row"),
    ]
    indptr = np.array([0, 2, 5, 6])
    members = np.array([0, 1, 1, 2, 3, 0])       # a row twice in one bag, a row in two bags
    for mean in (True, False):
        cases.append(Case(
            lambda x, y, mean=mean: sgns_loss(context_bags(x, indptr, members, mean=mean), y,
                                              None, pair_outputs[:3], groups[:2], 0.5),
            (rng.normal(0, 0.7, (4, 3)), rng.normal(0, 0.7, (5, 3))),
            f"CBOW {'mean' if mean else 'sum'}"))
    # members numbering distinct rows 5, 1, 3, 4 of a 6-row table (rows 0 and 2 untouched)
    cases.append(Case(
        lambda x, y: sgns_loss(context_bags(x, indptr, members, distinct=np.array([5, 1, 3, 4])),
                               y, None, pair_outputs[:3], groups[:2], 0.5),
        (rng.normal(0, 0.7, (6, 3)), rng.normal(0, 0.7, (5, 3))), "CBOW over distinct rows"))
    return cases


register_check("w2v.sgns_loss", _sgns_cases)


def _window_cases(rng: np.random.Generator) -> list[Case]:
    # windows of sizes 2, 3, 0, 3, 1 (runs of one size: 2 | 3 | 0 | 3 | 1); word 1 twice in
    # the second window; the third window is empty
    indptr = np.array([0, 2, 5, 5, 8, 9])
    members = np.array([0, 2, 1, 3, 1, 2, 0, 3, 1])
    targets = np.array([[1, 4, 2], [0, 0, 3],    # second window: a negative equal to its centre
                        [2, 3, 4], [4, 2, 2],    # fourth: a noise word drawn twice
                        [3, 1, 0]])
    cases = [Case(lambda x, y: window_loss(x, y, indptr, members, targets),
                  (rng.normal(0, 0.7, (4, 4)), rng.normal(0, 0.7, (5, 4))),
                  "skip-gram windows of uneven sizes"),
             Case(lambda x, y: window_loss(x, y, None, None, targets[:4]),
                  (rng.normal(0, 0.7, (4, 4)), rng.normal(0, 0.7, (5, 4))), "one row each")]
    bags = np.array([0, 2, 5, 6])
    for mean in (True, False):
        cases.append(Case(
            lambda x, y, mean=mean: window_loss(context_bags(x, bags, members[:6], mean=mean),
                                                y, None, None, targets[:3]),
            (rng.normal(0, 0.7, (4, 3)), rng.normal(0, 0.7, (5, 3))),
            f"CBOW {'mean' if mean else 'sum'}"))
    return cases


register_check("w2v.window_loss", _window_cases)
