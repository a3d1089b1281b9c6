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

from typing import NamedTuple

import numpy as np

from embedkit.core.gradcheck import Case, register_check
from embedkit.core.scatter import sparse_times, take_rows
from embedkit.core.tensor import SparseRows, primitive
from embedkit.text.subwords import expand_rows
from embedkit.w2v.sgns import _bag_weights, context_bags, sgns_loss, window_loss


class WordRows(NamedTuple):
    """A minibatch's input words as rows of the input matrix, laid out once: the two sorts
    that the gather of :func:`subword_mean` and fastText's update of the rows
    (:func:`row_touches`, :func:`fasttext_rows`) share.

    Attributes
    ----------
    inverse : ndarray of int, shape (B,)
        Per position of the minibatch, its distinct word.
    counts : ndarray of int, shape (n_words,)
        Per distinct word, its positions (the pairs it stands for).
    indptr : ndarray of int, shape (n_words + 1,)
        Per distinct word, its entries.
    members : ndarray of int
        Per entry, its row of the input matrix.
    rows : ndarray of int
        The distinct rows, ascending.
    local : ndarray of int, shape (len(members),)
        Per entry, the number of its row among ``rows``.
    """

    inverse: np.ndarray
    counts: np.ndarray
    indptr: np.ndarray
    members: np.ndarray
    rows: np.ndarray
    local: np.ndarray


def word_rows(ids: np.ndarray, indptr: np.ndarray, members: np.ndarray) -> WordRows:
    """The :class:`WordRows` of words ``ids`` (repeats allowed), whose rows are
    ``members[indptr[w]:indptr[w + 1]]``: one sort of the words, one of their entries."""
    unique, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    word_indptr, word_members = expand_rows(indptr, members, unique)
    rows, local = np.unique(word_members, return_inverse=True)
    return WordRows(inverse.reshape(-1), counts, word_indptr, word_members, rows,
                    local.reshape(-1))


@primitive(saves=True)
def subword_mean(rows, ids, indptr, members, layout=None):
    """The input vector of each word of ``ids``: the mean of its rows.

    Parameters
    ----------
    rows : ndarray, shape (n_rows, d)
        The input matrix (word rows, then n-gram rows).
    ids : ndarray of int, shape (B,)
        Words (repeats allowed).
    indptr, members : ndarray of int
        Word ``w``'s rows are ``members[indptr[w]:indptr[w + 1]]`` (at least one each).
    layout : WordRows, optional
        :func:`word_rows` of ``ids`` (None: computed here).

    Returns
    -------
    ndarray, shape (B, d)
    """
    layout = word_rows(ids, indptr, members) if layout is None else layout
    weights = _bag_weights(layout.indptr, True, rows.dtype)
    # the distinct rows copied out of the big matrix first (one pass of its scattered rows,
    # each once), then summed from that copy: 2.5x faster than summing straight from the
    # matrix, where a shared n-gram's row is fetched once per word holding it
    means = sparse_times(layout.indptr, layout.local, weights, take_rows(rows, layout.rows),
                         len(layout.counts))
    return take_rows(means, layout.inverse), (layout, weights)


def _subword_mean_vjp(g, saved, rows, ids, indptr, members, layout=None):
    layout, weights = saved
    groups = layout.inverse
    if isinstance(g, SparseRows):  # from a loss that reads the vectors by index: one value
        # row per id, summed straight into their words (no dense copy)
        assert g.indptr is None
        groups, g = groups[g.ids.reshape(-1)], g.values.reshape(len(g.ids.reshape(-1)), -1)
    # the gradient of each distinct word: the sum over its positions
    per_word = sparse_times(np.arange(len(groups) + 1), groups,
                            np.ones(len(groups), dtype=g.dtype), g, len(layout.counts),
                            transpose=True)
    return SparseRows(layout.members, per_word, rows.shape, layout.indptr, weights)


subword_mean.defvjp(_subword_mean_vjp)


def bag_rows(indptr: np.ndarray, members: np.ndarray, bag_indptr: np.ndarray,
             contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CBOW bags of words as bags of rows: bag ``b`` holds every row of every word of
    ``contexts[bag_indptr[b]:bag_indptr[b + 1]]``, in order (fastText's ``bow``)."""
    word_indptr, rows = expand_rows(indptr, members, contexts)
    return word_indptr[bag_indptr], rows


#: Per model, a row's minibatch step is the sum of the gradients of at most this many
#: training pairs, shared out among the Hogwild workers (see :func:`fasttext_rows`).
#: Skip-gram at fastText's rate 0.05 diverged on an 84-word corpus at 16 with one worker and at
#: 8 with two running at once; at 8 CBOW placed one unseen form of that corpus fewer by its
#: stem than its test asks. Counted by norm (:func:`fasttext_rows`), as skip-gram's is, the
#: cap of 4 costs little on real text (README).
ROW_PAIRS = {"skipgram": 4, "cbow": 16}


def row_touches(grad: SparseRows, group_pairs: np.ndarray | None = None,
                rows: np.ndarray | None = None) -> np.ndarray:
    """Per entry of ``grad``, how many of the minibatch's pairs hold its row, counted with
    repeats (a row twice in a word counts twice).

    Parameters
    ----------
    grad : SparseRows
        The input matrix's gradient: entries grouped by ``grad.indptr``, a group per distinct
        input word (:func:`subword_mean`) or per CBOW bag (one entry per row of each member
        word: :func:`bag_rows`).
    group_pairs : ndarray of int, shape (n_groups,), optional
        The pairs each group stands for (a distinct word's positions in the minibatch); None:
        one each (a bag's entries are one per member word already).
    rows : ndarray of int, shape (len(grad.ids),), optional
        Per entry, the number of its row among the distinct rows (:func:`distinct_rows`);
        None: computed here.

    Returns
    -------
    ndarray, shape (len(grad.ids),)
    """
    weights = None
    if group_pairs is not None:
        assert grad.indptr is not None  # subword_mean's: a group of entries per word
        weights = np.repeat(group_pairs, np.diff(grad.indptr))
    rows = distinct_rows(grad) if rows is None else rows
    return np.bincount(rows, weights=weights)[rows]


def distinct_rows(grad: SparseRows) -> np.ndarray:
    """Per entry of ``grad``, the number of its row among the distinct rows, in row order."""
    # one sort of the entries' ids (a fifth of the time of re-expanding the words' rows and
    # looking the entries up: CBOW spent 29% of its time there, on the glosses)
    return np.unique(grad.ids, return_inverse=True)[1].reshape(-1)


def fasttext_rows(grad: SparseRows, touches: np.ndarray, pairs: float,
                  rows: np.ndarray | None = None, by_norm: bool = False) -> SparseRows:
    """fastText's update of the input rows, taken a minibatch at a time: the gradient of the
    means with a step gain per row.

    fastText moves every row of a word (of a CBOW bag) by the whole gradient of their mean
    (``Model::update`` adds the hidden gradient to each input row; it divides by the input
    size for supervised models only), not by the ``1 / size`` share the exact VJP gives it:
    a word's vector then moves as far as a word2vec row would, and its n-grams learn as fast
    as the word. So each entry's weight is 1 here instead of ``1 / size``.

    fastText takes one step per pair, each from where the last one left the rows; a minibatch
    adds the gradients of all its pairs, taken at one point. An n-gram row shared by many
    words of a small vocabulary is in most pairs of a minibatch, gets hundreds of aligned
    gradients at once, overshoots, and training diverges (every model reached inf at 2
    workers on an 84-word corpus). A row ``touches`` times in the minibatch therefore moves by
    ``min(1, pairs / touches)`` of the sum, ``pairs`` being the model's :data:`ROW_PAIRS`
    over the number of workers. Hogwild workers each sum their minibatch against the same
    rows, so while one takes its step the others take theirs: with each capped at its share,
    a row moves by at most :data:`ROW_PAIRS` pairs' worth in that time, as with one worker.
    On the 84-word corpus one worker at k times the batch stands for k workers' simultaneous
    steps: at word2vec's rates (CBOW 0.05, skip-gram 0.025) and a cap of 16, CBOW diverged
    from k = 3 and skip-gram from k = 4, at 8 neither did up to k = 6; at fastText's (0.05
    for both, noise ∝ count^0.5) skip-gram diverged at k = 1 with 16, k = 2 with 8, k = 4
    with 4, while CBOW trained up to k = 6 at 8. Dividing every row's sum by its touches
    instead (the mean) is stable but much worse on real text (README): frequent n-grams must
    move as far as fastText moves them.

    ``by_norm`` counts by the gradients' norms instead: a row's step is at most ``pairs``
    times the mean norm of the gradients it sums, a group's pairs (a word's positions, a bag)
    counted as all pointing its group's way. A row whose words' gradients agree (a word's own
    rows, an n-gram of the few words of a small vocabulary, which point alike) moves as by the
    count; one shared by words whose gradients disagree (a frequent n-gram of a large
    vocabulary: 55 distinct words in one minibatch of the glosses) moves further, up to its
    whole sum. Its pairs' gradients taken one by one would count a word's disagreeing pairs
    too: on the 84-word corpus that moved its words' rows so far that fewer unseen forms came
    out nearest their stems.

    Parameters
    ----------
    grad : SparseRows
        The gradient of the input matrix from :func:`subword_mean` or
        :func:`~embedkit.w2v.sgns.context_bags` over :func:`bag_rows`.
    touches : ndarray, shape (len(grad.ids),)
        Per entry, how many of the minibatch's pairs hold its row (:func:`row_touches`).
    pairs : float
        Pairs' worth of its summed gradient a row moves by at most.
    rows : ndarray of int, shape (len(grad.ids),), optional
        :func:`distinct_rows` of ``grad`` (None: computed here).
    by_norm : bool
        Count pairs' worth by norms (see above), not by ``touches`` alone.

    Returns
    -------
    SparseRows
        One entry per distinct row, ascending: its summed gradient (every entry at weight
        1) and its gain as the weight, so the step writes each row of the big matrix once.
    """
    assert grad.indptr is not None  # a group of entries per word or per bag
    local = distinct_rows(grad) if rows is None else rows
    n_rows = int(local.max()) + 1 if len(local) else 0
    ids = np.empty(n_rows, dtype=grad.ids.dtype)
    ids[local] = grad.ids
    row_touches = np.empty(n_rows)
    row_touches[local] = touches
    values = grad.values.reshape(len(grad.indptr) - 1, -1)
    # fastText's weight 1 per entry: each row's sum, in the minibatch's small copy
    summed = sparse_times(grad.indptr, local, np.ones(len(local), dtype=values.dtype), values,
                          n_rows, transpose=True)
    gain = np.minimum(1.0, pairs / np.maximum(row_touches, 1))
    if by_norm:
        # a row of one entry has one group's gradient: the same by norm as by count. Of the
        # others (skip-gram on the glosses: 45% of the entries), the norm of the summed
        # gradient and their groups' summed norms (a group's pairs counted as one way)
        multi = np.bincount(local, minlength=n_rows) > 1
        norms = np.bincount(local, weights=np.repeat(np.linalg.norm(values, axis=1),
                                                     np.diff(grad.indptr)),
                            minlength=n_rows)[multi]
        limit = pairs * norms / np.maximum(row_touches[multi], 1)
        gain[multi] = np.minimum(1.0, limit / np.maximum(np.linalg.norm(summed[multi], axis=1),
                                                         np.finfo(values.dtype).tiny))
    return SparseRows(ids, summed, grad.shape, np.arange(n_rows + 1),
                      gain.astype(values.dtype))


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
