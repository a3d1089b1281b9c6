"""Nearest neighbours and analogies by cosine similarity, many queries per BLAS call.

A query is a set of words added (``positive``) and subtracted (``negative``). With the
``add`` method (3CosAdd) its vector is the mean of the signed unit vectors, normalised, and
candidates are ranked by cosine with it; with ``cosmul`` (3CosMul, Levy and Goldberg 2014)
candidates are ranked by the product of their shifted cosines ``(1 + cos) / 2`` with the
positive words divided by that with the negative words (plus 1e-6). Both follow gensim's
``most_similar`` and ``most_similar_cosmul``; the query words are never returned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.streaming import RowReader, block_rows, is_mapped
from embedkit.text.tokenize import normalize_word
from embedkit.vectors.keyed import KeyedVectors

METHODS = ("add", "cosmul")
#: Similarity scores held at once (queries x vocabulary), bounding memory to ~128 MB.
SCORE_BUDGET = 1 << 25
#: Columns per block in the two-level top-k search.
BLOCK = 64
#: Bytes of a memory-mapped matrix whose best answers each thread finds at once (their
#: scores are held: this over the row width, times the queries of a batch).
STREAM_BYTES = 32 * 2**20
#: Bytes of rows each thread reads into its buffer at a time: scored while still in the
#: CPU's cache (a core's L2 holds 1 MB).
READ_BYTES = 2**20
#: Threads scoring blocks of a memory-mapped matrix.
STREAM_THREADS = 2
#: Smoothing of 3CosMul's denominator, as in Levy and Goldberg and gensim.
COSMUL_EPSILON = 1e-6


@dataclass(frozen=True)
class Query:
    """Rows added and subtracted, in order, and the text the query came from."""

    text: str
    positive: tuple[int, ...]
    negative: tuple[int, ...] = ()


def parse_query(kv: KeyedVectors, text: str) -> Query:
    """A query from a line of words: ``-word`` subtracts ``word``; the rest are added.
    Words are compared in NFC (:func:`~embedkit.text.tokenize.normalize_word`).

    Raises
    ------
    UnknownWordError
        When a word is not in the vocabulary.
    EmbedkitError
        When the line has no word to add.
    """
    text = normalize_word(text)
    words = text.split()
    positive = [w for w in words if not (w.startswith("-") and len(w) > 1)]
    negative = [w[1:] for w in words if w.startswith("-") and len(w) > 1]
    if not positive:
        raise EmbedkitError("no word to add: every word is subtracted (-word)")
    return Query(text.strip(), tuple(kv.rows(positive)), tuple(kv.rows(negative)))


def analogy_query(kv: KeyedVectors, a: str, b: str, c: str) -> Query:
    """The query answering ``a : b :: c : ?`` (``b - a + c``)."""
    row_a, row_b, row_c = kv.rows([a, b, c])  # unknown words reported in reading order
    return Query(f"{a} {b} {c}", (row_b, row_c), (row_a,))


def parse_analogy(kv: KeyedVectors, text: str) -> Query:
    """An analogy query from a line ``a b c`` (words compared in NFC)."""
    words = normalize_word(text).split()
    if len(words) != 3:
        raise EmbedkitError(f"expected three words 'a b c' (a : b :: c : ?), "
                            f"found {len(words)}")
    return analogy_query(kv, *words)


#: How queries are answered: (queries, k) -> (rows, similarities), as :func:`top_k` returns.
Search = Callable[[Sequence[Query], int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Answer:
    """The neighbours found for one query, or why it could not be answered."""

    query: str
    neighbors: list[tuple[str, float]]
    error: str | None = None


def answer(kv: KeyedVectors, lines: Sequence[str], k: int = 10, method: str = "add",
           parse: Callable[[KeyedVectors, str], Query] = parse_query,
           search: Search | None = None) -> list[Answer]:
    """Answer query lines together: one :func:`top_k` call for all the valid ones.

    Blank lines are dropped; a line that ``parse`` rejects (unknown word, wrong shape) gets an
    :class:`Answer` with its ``error`` set and no neighbours. ``search(queries, k)``, when
    given, replaces exact search (``method`` is then unused): an approximate index's
    ``top_k`` (:class:`embedkit.vectors.ann.VectorIndex`).
    """
    parsed: list[Query | Answer] = []
    for line in lines:
        if line.strip():
            try:
                parsed.append(parse(kv, line))
            except EmbedkitError as exc:
                parsed.append(Answer(line.strip(), [], f"query {line.strip()!r}: {exc}"))
    valid = [q for q in parsed if isinstance(q, Query)]
    if search is None:
        search = functools.partial(top_k, kv, method=method)
    rows, similarities = (search(valid, k) if valid
                          else (np.empty((0, k), dtype=np.intp), np.empty((0, k))))
    answers, done = [], 0
    for item in parsed:
        if isinstance(item, Answer):
            answers.append(item)
            continue
        found = [(kv.words[row], float(sim)) for row, sim
                 in zip(rows[done].tolist(), similarities[done].tolist(), strict=True) if row >= 0]
        answers.append(Answer(item.text, found))
        done += 1
    return answers


def query_vectors(kv: KeyedVectors, queries: Sequence[Query]) -> np.ndarray:
    """The normalised mean of each query's signed unit vectors, shape (len(queries), dim).

    Terms are summed in order, positive then negative, in float32, and the mean is normalised
    in float64, exactly as gensim's ``get_mean_vector`` does, so scores agree bit for bit.
    """
    terms, signs = padded(queries)
    mean = np.zeros((len(queries), kv.dim), dtype=np.float32)
    for slot in range(terms.shape[1]):
        mean += signs[:, slot, None] * kv.unit(terms[:, slot])
    mean /= np.abs(signs).sum(axis=1, dtype=np.float32)[:, None]
    as64 = mean.astype(np.float64)
    length = np.sqrt((as64 * as64).sum(axis=1, keepdims=True))
    return (as64 / np.where(length > 0, length, 1)).astype(np.float32)


def padded(queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray]:
    """Each query's rows (positive then negative) padded with row 0, and signs (0 = padding)."""
    width = max(len(q.positive) + len(q.negative) for q in queries)
    terms = np.zeros((len(queries), width), dtype=np.intp)
    signs = np.zeros((len(queries), width), dtype=np.float32)
    for i, q in enumerate(queries):
        rows = q.positive + q.negative
        terms[i, :len(rows)] = rows
        signs[i, :len(q.positive)] = 1
        signs[i, len(q.positive):len(rows)] = -1
    return terms, signs


def scores(kv: KeyedVectors, queries: Sequence[Query], method: str = "add",
           restrict: int | None = None) -> np.ndarray:
    """Similarity of each of the first ``restrict`` words (all by default) with every query.

    Returns
    -------
    ndarray, shape (restrict, len(queries))
        Cosines (``add``) or 3CosMul scores (``cosmul``), one column per query, from one
        matrix product for all queries. Words run down the columns so that the per-block
        maxima of :func:`top_k` reduce whole contiguous rows.
    """
    end = _end(kv, method, restrict)
    return _block_scores(kv.vectors[:end], kv.norms[:end], _prepared(kv, queries, method))


def _end(kv: KeyedVectors, method: str, restrict: int | None) -> int:
    """The number of rows searched, after checking ``method``."""
    if method not in METHODS:
        raise EmbedkitError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    return len(kv) if restrict is None else min(restrict, len(kv))


def _prepared(kv: KeyedVectors, queries: Sequence[Query], method: str):
    """What :func:`_block_scores` multiplies rows by: the query vectors (``add``), or the unit
    vectors of the queries' distinct words with where each query's terms are among them and
    their signs (``cosmul``)."""
    if method == "add":
        return query_vectors(kv, queries)
    terms, signs = padded(queries)
    unique, where = np.unique(terms, return_inverse=True)
    return kv.unit(unique), where.reshape(terms.shape), signs


def _block_scores(matrix: np.ndarray, norms: np.ndarray, prepared) -> np.ndarray:
    """:func:`scores` of the rows ``matrix`` (of lengths ``norms``), shape (rows, queries)."""
    if isinstance(prepared, np.ndarray):
        result = matrix @ prepared.T
        return np.divide(result, norms[:, None], out=result)
    units, where, signs = prepared
    shifted = matrix @ units.T
    shifted = (1 + np.divide(shifted, norms[:, None], out=shifted)) / 2
    numerator = np.ones((len(matrix), where.shape[0]), dtype=np.float32)
    denominator = np.ones((len(matrix), where.shape[0]), dtype=np.float32)
    for slot in range(where.shape[1]):
        factor = shifted[:, where[:, slot]]
        factor[:, signs[:, slot] == 0] = 1
        positive = signs[:, slot] > 0
        numerator[:, positive] *= factor[:, positive]
        denominator[:, ~positive] *= factor[:, ~positive]
    return numerator / (denominator + COSMUL_EPSILON)


def top_k(kv: KeyedVectors, queries: Sequence[Query], k: int = 10, method: str = "add",
          restrict: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best words for each query among the first ``restrict``, excluding the query's
    own words.

    Queries are scored in batches that fit :data:`SCORE_BUDGET`, each through one matrix
    product and a two-level partial sort (see :func:`_candidate_rows`). A memory-mapped
    matrix is streamed instead: blocks of :data:`STREAM_BYTES` of rows are scored
    (read a piece at a time into a small buffer, see :func:`_streamed`) and a running top
    ``k`` is kept, so resident memory is the norms, the buffers and the scores of a block
    per thread, never the matrix.

    Returns
    -------
    rows : ndarray of intp, shape (len(queries), min(k, rows searched))
        Rows of the answers, best first (``k`` beyond the rows searched asks for nothing
        more: it is not allocated).
    similarities : ndarray of float32, same shape
        Their scores. Fewer candidates than that leave rows of -1 and scores of -inf.
    """
    if k < 1:
        raise EmbedkitError(f"-k must be at least 1, got {k}")
    end = _end(kv, method, restrict)
    k = min(k, max(end, 1))
    rows = np.full((len(queries), k), -1, dtype=np.intp)
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    if is_mapped(kv.vectors):
        batch = max(1, SCORE_BUDGET // block_rows(kv.vectors[:1], STREAM_BYTES))
    else:
        batch = max(1, SCORE_BUDGET // max(end, 1))
    for start in range(0, len(queries), batch):
        chunk = queries[start:start + batch]
        if is_mapped(kv.vectors):
            found, values = _streamed(kv, chunk, k, method, end)
        else:
            found, values = _best(scores(kv, chunk, method, restrict), chunk, k)
        rows[start:start + len(chunk), :found.shape[1]] = found
        best[start:start + len(chunk), :found.shape[1]] = values
    rows[~np.isfinite(best)] = -1
    return rows, best


def _streamed(kv: KeyedVectors, queries: Sequence[Query], k: int, method: str,
              end: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_best` of :func:`scores`, one block of mapped rows at a time, merging each
    block's best ``k`` into the best so far in row order (the same answers, ties included,
    whatever the number of threads).

    :data:`STREAM_THREADS` blocks are scored at once, each read :data:`READ_BYTES` at a
    time into its thread's buffer by :class:`~embedkit.streaming.RowReader` (from the file
    with ``pread``, not by mapping its pages, which cost more than the arithmetic); reading
    and NumPy's products run without the GIL. Resident memory: the buffers and one block's
    scores per thread, never the matrix.
    """
    prepared = _prepared(kv, queries, method)
    # Rows composed where read (a fastText model's): their norms come from the same blocks,
    # so that one pass composes each row once.
    composed = kv.composed
    norms = np.empty(end, dtype=np.float32) if composed else kv.norms
    matrix = kv.vectors[:end]
    step = block_rows(matrix, STREAM_BYTES)
    # composing costs more per call than a cache-sized piece saves: whole blocks at once
    piece = step if composed else min(step, block_rows(matrix, READ_BYTES))

    def block_best(start: int) -> tuple[np.ndarray, np.ndarray]:
        stop = min(start + step, end)
        buffer = np.empty((piece, matrix.shape[1]), dtype=matrix.dtype)
        scored: np.ndarray | None = None
        for first in range(start, stop, piece):
            rows = reader.read(first, buffer[:stop - first])
            if composed:
                norms[first:first + len(rows)] = kv.norms_of(
                    np.arange(first, first + len(rows)), rows)
            part = _block_scores(rows, norms[first:first + len(rows)], prepared)
            if scored is None:
                scored = np.empty((stop - start, part.shape[1]), dtype=part.dtype)
            scored[first - start:first - start + len(rows)] = part
        assert scored is not None  # start < stop
        return _best(scored, queries, k, start)

    rows = np.full((len(queries), k), -1, dtype=np.intp)
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    starts = range(0, end, step)
    with RowReader(matrix) as reader, \
            ThreadPoolExecutor(min(STREAM_THREADS, len(starts)) or 1) as pool:
        for start, (found, values) in zip(starts, pool.map(block_best, starts), strict=True):
            rows = np.concatenate([rows, found + start], axis=1)
            best = np.concatenate([best, values], axis=1)
            order = np.argsort(-best, axis=1, kind="stable")[:, :k]
            rows = np.take_along_axis(rows, order, axis=1)
            best = np.take_along_axis(best, order, axis=1)
    if composed and end == len(kv):
        kv.norms = norms  # every row's: the next pass need not find them again
    return rows, best


def _best(matrix: np.ndarray, queries: Sequence[Query], k: int,
          first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Exclude each query's words from its column (``matrix`` scores the rows from ``first``
    on), then take the ``k`` highest scores in order; rows are counted from ``first``."""
    terms, signs = padded(queries)
    terms -= first
    column = np.repeat(np.arange(len(queries)), terms.shape[1])
    own = (signs != 0).ravel() & (terms.ravel() >= 0) & (terms.ravel() < matrix.shape[0])
    matrix[terms.ravel()[own], column[own]] = -np.inf
    candidates = _candidate_rows(matrix, k)
    valid = candidates < matrix.shape[0]
    candidates = np.where(valid, candidates, 0)
    values = np.where(valid, matrix[candidates, np.arange(len(queries))[:, None]], -np.inf)
    k = min(k, candidates.shape[1])
    if k < candidates.shape[1]:
        top = np.argpartition(-values, k - 1, axis=1)[:, :k]
        candidates = np.take_along_axis(candidates, top, axis=1)
        values = np.take_along_axis(values, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(values, order, axis=1)


def _candidate_rows(matrix: np.ndarray, k: int) -> np.ndarray:
    """For each column, rows that include its ``k`` largest values (and a few more).

    Two levels, because a full ``argpartition`` of every column costs more than the matrix
    product: the maximum of each block of :data:`BLOCK` rows (one fast pass), then all rows
    of the ``k`` blocks with the largest maxima, which must hold the ``k`` largest values.
    Rows past the end of a short last block are returned as ``len(matrix)``.
    """
    height, columns = matrix.shape
    blocks = -(-height // BLOCK)
    if blocks <= k:
        return np.broadcast_to(np.arange(height), (columns, height))
    full = height // BLOCK * BLOCK
    maxima = matrix[:full].reshape(full // BLOCK, BLOCK, columns).max(axis=1)
    if full < height:
        maxima = np.concatenate([maxima, matrix[full:].max(axis=0, keepdims=True)])
    chosen = np.argpartition(-maxima.T, k - 1, axis=1)[:, :k]
    rows = (chosen[:, :, None] * BLOCK + np.arange(BLOCK)).reshape(columns, k * BLOCK)
    return np.minimum(rows, height)
