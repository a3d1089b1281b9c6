"""fastText's input layer on the core: a word's input vector is the mean of its own row and its
n-gram rows (Bojanowski et al. 2017, "Enriching Word Vectors with Subword Information").

The input matrix holds the ``V`` word rows then the hashed n-gram rows; each vocabulary word's
rows are a compressed-row layout over it (:func:`embedkit.text.subwords.subword_rows`).
:func:`subword_mean` gives the input vector of each word of a minibatch: the rows of its
distinct words are summed once by one sparse product (no loop per word or n-gram) and copied
to the word's positions; the VJP sums the gradients of a word's positions, then spreads them
over its rows as :class:`~embedkit.core.tensor.SparseRows` sharing one value row per word
(never one copy per n-gram), which the sparse SGD step adds into the matrix.

CBOW's hidden layer is fastText's too: the mean of all the rows of all the context words (the
bag of their own rows and n-grams), :func:`~embedkit.w2v.sgns.context_bags` over the bags
:func:`bag_rows` lays out.
"""

from __future__ import annotations

import numpy as np

from embedkit.core.gradcheck import Case, register_check
from embedkit.core.scatter import sparse_times, take_rows
from embedkit.core.tensor import SparseRows, primitive
from embedkit.text.subwords import expand_rows
from embedkit.w2v.sgns import _bag_weights, context_bags, sgns_loss, window_loss


@primitive(saves=True)
def subword_mean(rows, ids, indptr, members):
    """The input vector of each word of ``ids``: the mean of its rows.

    Parameters
    ----------
    rows : ndarray, shape (n_rows, d)
        The input matrix (word rows, then n-gram rows).
    ids : ndarray of int, shape (B,)
        Words (repeats allowed).
    indptr, members : ndarray of int
        Word ``w``'s rows are ``members[indptr[w]:indptr[w + 1]]`` (at least one each).

    Returns
    -------
    ndarray, shape (B, d)
    """
    unique, inverse = np.unique(ids, return_inverse=True)
    word_indptr, word_members = expand_rows(indptr, members, unique)
    weights = _bag_weights(word_indptr, True, rows.dtype)
    means = sparse_times(word_indptr, word_members, weights, rows, len(unique))
    return take_rows(means, inverse), (inverse, word_indptr, word_members, weights, len(unique))


def _subword_mean_vjp(g, saved, rows, ids, indptr, members):
    inverse, word_indptr, word_members, weights, n_words = saved
    if isinstance(g, SparseRows):  # from a loss that reads the vectors by index
        g = g.to_dense()
    # the gradient of each distinct word: the sum over its positions
    per_word = sparse_times(np.arange(len(inverse) + 1), inverse,
                            np.ones(len(inverse), dtype=g.dtype), g, n_words, transpose=True)
    return SparseRows(word_members, per_word, rows.shape, word_indptr, weights)


subword_mean.defvjp(_subword_mean_vjp)


def bag_rows(indptr: np.ndarray, members: np.ndarray, bag_indptr: np.ndarray,
             contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CBOW bags of words as bags of rows: bag ``b`` holds every row of every word of
    ``contexts[bag_indptr[b]:bag_indptr[b + 1]]``, in order (fastText's ``bow``)."""
    word_indptr, rows = expand_rows(indptr, members, contexts)
    return word_indptr[bag_indptr], rows


def whole_rows(grad: SparseRows) -> SparseRows:
    """fastText's update of the input rows: every row of a word (bag) moves by the whole
    gradient of the mean (``Model::update`` adds the hidden gradient to each input row), not
    by its ``1 / size`` share, so a word's vector moves as far as a word2vec row would."""
    return SparseRows(grad.ids, grad.values, grad.shape, grad.indptr)


# ---------------------------------------------------------------- gradient checks

def _subword_cases(rng: np.random.Generator) -> list[Case]:  # pragma: no mutate block
    # 3 words over 4 word rows + 5 n-gram rows; word 1 has its own row only; n-gram row 6
    # shared by words 0 and 2 and twice in word 2
    indptr = np.array([0, 3, 4, 8])
    members = np.array([0, 5, 6, 1, 2, 6, 8, 6])
    ids = np.array([2, 0, 2, 1, 0])                     # repeated words
    centres = np.array([1, 3, 0, 2, 2])
    groups = np.array([[0, 3], [2, 2], [1, 0]])
    windows = np.array([0, 2, 5])
    targets = np.array([[1, 3, 0], [2, 0, 0]])
    return [
        Case(lambda x: subword_mean(x, ids, indptr, members), (rng.normal(0, 0.7, (9, 3)),),
             "word means"),
        Case(lambda x, y: sgns_loss(subword_mean(x, ids, indptr, members), y, None, centres,
                                    groups, 5 / 2),
             (rng.normal(0, 0.7, (9, 3)), rng.normal(0, 0.7, (4, 3))), "skip-gram pairs"),
        Case(lambda x, y: window_loss(subword_mean(x, ids, indptr, members), y, windows,
                                      np.arange(len(ids)), targets),
             (rng.normal(0, 0.7, (9, 3)), rng.normal(0, 0.7, (4, 3))), "skip-gram windows"),
        Case(lambda x, y: sgns_loss(context_bags(x, *bag_rows(indptr, members, windows, ids)),
                                    y, None, centres[:2], groups[:1]),
             (rng.normal(0, 0.7, (9, 3)), rng.normal(0, 0.7, (4, 3))), "CBOW bags of rows"),
    ]


register_check("w2v.subword_loss", _subword_cases)
