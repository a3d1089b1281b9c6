"""Approximate nearest neighbours: an HNSW graph index of a vector file, through usearch.

An optional extra (``pip install 'embedkit[ann]'``). usearch was chosen by measurement among
hnswlib, voyager, usearch, annoy and faiss-cpu (README, "Approximate neighbours"): at the same
recall its queries take a fraction of a millisecond like the others', and its index file is
memory-mapped when opened, so a query on a 3 M-word index starts in milliseconds and touches
only the pages of the graph it walks, where the others read the whole index into memory first.

The index holds the rows of the vector file under their row numbers, with the cosine metric
(so rows need not be unit length). A query is the same normalised mean of signed unit vectors
as an exact query (:func:`embedkit.vectors.query.query_vectors`); the query's own words are
dropped from the answers, as in exact search.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import atomic_outputs, describe, refuse_compressed_archive
from embedkit.streaming import check_finite, iter_blocks
from embedkit.vectors.keyed import ROW_BLOCK, KeyedVectors
from embedkit.vectors.query import Query, padded, query_vectors

#: What to install when the extra is missing.
INSTALL_HINT = "approximate neighbours need the 'ann' extra: pip install 'embedkit[ann]'"
#: Edges per node of the graph (HNSW's M).
CONNECTIVITY = 16
#: Candidates kept while inserting (efConstruction) and while searching (ef).
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64
#: Storage precision of the vectors inside the index.
PRECISIONS = ("f32", "f16")
#: Rows compared with the vector file when an index is opened, to catch an index of another
#: file (first, middle and last rows).
_PROBES = 3


def _usearch():
    try:
        from usearch import index
    except ImportError:
        raise EmbedkitError(INSTALL_HINT) from None
    return index


def available() -> bool:
    """Whether the ``ann`` extra (usearch) is installed."""
    try:
        _usearch()
    except EmbedkitError:
        return False
    return True


def build_index(kv: KeyedVectors, path: str | os.PathLike, *,
                connectivity: int = CONNECTIVITY, expansion_add: int = EXPANSION_ADD,
                precision: str = "f32", threads: int = 0) -> None:
    """Build an HNSW index of every row of ``kv`` and write it atomically to ``path``.

    Parameters
    ----------
    kv : KeyedVectors
        The vectors, shape (n, dim); rows are added in blocks of :data:`ROW_BLOCK`, so a
        memory-mapped matrix is never copied whole.
    path : str or path-like
        The index file (a regular file: the index is written by usearch, then renamed).
    connectivity : int
        Edges per node (HNSW's M): more gives higher recall, a bigger index, slower builds.
    expansion_add : int
        Candidates kept while inserting (efConstruction).
    precision : {"f32", "f16"}
        How the index stores the vectors: f16 halves its size for a small loss of recall.
    threads : int
        Threads used to insert (0: all cores).

    Raises
    ------
    EmbedkitError
        Without the ``ann`` extra, for bad parameters, for a NaN or infinite entry (named by
        row and column; nothing is written), or when ``path`` cannot be written.
    """
    if precision not in PRECISIONS:
        raise EmbedkitError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    for name, value in (("connectivity", connectivity), ("expansion_add", expansion_add)):
        if value < 2:
            raise EmbedkitError(f"{name} {value}: expected at least 2")
    check_index_output(path)
    usearch = _usearch()
    index = usearch.Index(ndim=kv.dim, metric="cos", dtype=precision,
                          connectivity=connectivity, expansion_add=expansion_add,
                          expansion_search=EXPANSION_SEARCH)
    for start, block in iter_blocks(kv.vectors, ROW_BLOCK):  # mapped pages released
        # a memory-mapped matrix is not checked when loaded; the block is read anyway
        check_finite(block, kv.name, lambda row: f"row {start + row + 1}")  # noqa: B023 (now)
        index.add(np.arange(start, start + len(block), dtype=np.uint64),
                  np.asarray(block, dtype=np.float32), threads=threads)
    with atomic_outputs(path) as (stand_in,):
        try:
            index.save(stand_in)
        except RuntimeError as exc:  # usearch says only that it failed (a full disk, say)
            raise EmbedkitError(f"{os.fspath(path)}: cannot write the index ({exc})") from None


def check_index_output(path: str | os.PathLike) -> None:
    """Refuse an index file name that cannot work: stdout, or a ``.gz``/``.bz2`` name (the
    index is memory-mapped when opened, so it is never compressed).

    Raises
    ------
    EmbedkitError
        Saying what to give instead.
    """
    name = os.fspath(path)
    if name == "-":
        raise EmbedkitError("the index is written to a file, not to stdout: give -o FILE")
    refuse_compressed_archive(name, name, "an index is memory-mapped when opened, so it is "
                              "not compressed")


class VectorIndex:
    """An index file opened (memory-mapped) for the vector file it was built from.

    Parameters
    ----------
    path : str or path-like
        An index written by :func:`build_index`.
    kv : KeyedVectors
        The vectors it indexes: same number of rows and dimension, and its first, middle and
        last rows stored in the index (to the index's precision).
    expansion_search : int
        Candidates kept while searching (ef): more gives higher recall, slower queries.

    Raises
    ------
    EmbedkitError
        Without the ``ann`` extra, for a file that is not such an index, or an index of other
        vectors.
    """

    def __init__(self, path: str | os.PathLike, kv: KeyedVectors,
                 expansion_search: int = EXPANSION_SEARCH) -> None:
        usearch = _usearch()
        name = describe(path)
        if expansion_search < 1:
            raise EmbedkitError(f"expansion_search {expansion_search}: expected at least 1")
        try:
            index = usearch.Index.restore(os.fspath(path), view=True)
        except (ValueError, RuntimeError) as exc:
            raise EmbedkitError(f"{name}: not an index written by `embedkit index` ({exc})") \
                from None
        if index is None:
            raise EmbedkitError(f"{name}: not an index written by `embedkit index`")
        if (len(index), index.ndim) != (len(kv), kv.dim):
            raise EmbedkitError(f"{name}: an index of {len(index)} vectors of dimension "
                                f"{index.ndim}, but the vector file has {len(kv)} of "
                                f"dimension {kv.dim}: build it again with `embedkit index`")
        probes = np.unique(np.linspace(0, len(kv) - 1, _PROBES).astype(np.int64))
        stored = np.array(index.get(probes.astype(np.uint64), dtype=np.float32))
        expected = np.asarray(kv.vectors[probes], dtype=np.float32)
        if stored.shape != expected.shape or not np.allclose(stored, expected, rtol=1e-3,
                                                             atol=1e-3 * np.abs(expected).max()):
            raise EmbedkitError(f"{name}: its vectors differ from the vector file's (row "
                                f"{probes[0] + 1}, ...): an index of another file? Build it "
                                f"again with `embedkit index`")
        index.expansion_search = expansion_search
        self.index = index
        self.kv = kv

    def top_k(self, queries: Sequence[Query], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` approximate best rows for each query, excluding the query's own words.

        Returns
        -------
        rows : ndarray of intp, shape (len(queries), min(k, number of vectors))
            Best first; -1 where fewer were found.
        similarities : ndarray of float32, same shape
            Cosines (-inf where no row was found).
        """
        if k < 1:
            raise EmbedkitError(f"-k must be at least 1, got {k}")
        k = min(k, max(len(self.kv), 1))
        rows = np.full((len(queries), k), -1, dtype=np.intp)
        best = np.full((len(queries), k), -np.inf, dtype=np.float32)
        if not queries:
            return rows, best
        terms, signs = padded(queries)
        wanted = min(k + terms.shape[1], len(self.kv))
        matches = self.index.search(query_vectors(self.kv, queries), wanted)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)
        cosines = 1 - np.asarray(matches.distances, dtype=np.float32).reshape(len(queries), -1)
        # One query gives a Matches of the rows found, several a BatchMatches with counts.
        counts = np.asarray(getattr(matches, "counts", keys.shape[1])).reshape(-1, 1)
        # Drop the query's own words and the empty slots past what was found; keep the order.
        dropped = (keys[:, :, None] == np.where(signs != 0, terms, -1)[:, None, :]).any(axis=2)
        dropped |= np.arange(keys.shape[1]) >= counts
        order = np.argsort(dropped, axis=1, kind="stable")[:, :k]
        kept = ~np.take_along_axis(dropped, order, axis=1)
        width = order.shape[1]
        rows[:, :width] = np.where(kept, np.take_along_axis(keys, order, axis=1), -1)
        best[:, :width] = np.where(kept, np.take_along_axis(cosines, order, axis=1), -np.inf)
        return rows, best
