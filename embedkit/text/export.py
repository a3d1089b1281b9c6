"""Writing training samples for inspection: TSV lines or a ``.npz`` of arrays."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO

import numpy as np

from embedkit.io import STDIO, atomic_output, check_suffix
from embedkit.text.noise import NoiseDistribution
from embedkit.text.vocab import Vocabulary
from embedkit.text.windows import CbowSamples, SkipgramPairs

Samples = SkipgramPairs | CbowSamples

def windows_format(path: str | os.PathLike | None) -> str:
    """``"npz"`` for a name ending in ``.npz``, ``"tsv"`` for stdout (None, ``-``) and any
    other name (``.tsv``, ``.txt``, none; compressed after ``.gz``/``.bz2``).

    Raises
    ------
    EmbedkitError
        For a name whose suffix says another format (:func:`~embedkit.io.check_suffix`): a
        ``.npy`` would hold text.
    """
    if path is None or os.fspath(path) == STDIO:
        return "tsv"
    check_suffix(path, (".npz", ".tsv", ".txt"), "samples are .npz arrays or tab-separated text")
    name = os.fspath(path)
    base, compression = os.path.splitext(name)
    if compression.lower() not in (".gz", ".bz2"):
        base = name
    # an .npz.gz is refused by the writer (a zip archive is compressed already)
    return "npz" if base.lower().endswith(".npz") else "tsv"


def _as_rows(samples: Samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centres, indptr, contexts): skip-gram pairs are rows with one context each."""
    if isinstance(samples, CbowSamples):
        return samples.centres, samples.indptr, samples.contexts
    return samples.centres, np.arange(len(samples.centres) + 1), samples.contexts


def write_windows_tsv(out: IO[str], batches: Iterable[Samples], labels: list[str]) -> int:
    """Write one sample per line: ``centre<TAB>context`` (skip-gram) or
    ``centre<TAB>context context ...`` (CBOW), each id written as ``labels[id]`` (the
    vocabulary's words, or the ids as decimal strings).

    Returns
    -------
    int
        The number of lines written.
    """
    names = np.array(labels, dtype=object)
    lines = 0
    for batch in batches:
        centres, indptr, contexts = _as_rows(batch)
        if not len(centres):
            continue
        # Interleave context labels with their separators, then put "centre<TAB>" in front
        # of each bag: one join per batch instead of one per line.
        separators = np.full(len(contexts), " ", dtype=object)
        separators[indptr[1:] - 1] = "\n"
        pieces = np.empty(2 * len(contexts), dtype=object)
        pieces[0::2] = names[contexts]
        pieces[1::2] = separators
        pieces = np.insert(pieces, 2 * indptr[:-1], names[centres] + "\t")
        out.write("".join(pieces))
        lines += len(centres)
    return lines


def save_windows_npz(path: str | os.PathLike | None, batches: Iterable[Samples],
                     vocab: Vocabulary, noise: NoiseDistribution) -> int:
    """Save all samples with the vocabulary and noise distribution as one ``.npz``.

    Arrays: ``centres`` and ``contexts`` (int32), ``indptr`` (int64; row ``i`` of a CBOW
    file is ``contexts[indptr[i]:indptr[i+1]]``, a skip-gram file has one context per row),
    ``words``, ``counts`` and ``noise`` (the noise probabilities). All samples are held in
    memory before writing: the file is as large as the data.

    Returns
    -------
    int
        The number of samples (rows) saved.
    """
    centres, contexts, sizes = [], [], []
    for batch in batches:
        rows_centres, indptr, rows_contexts = _as_rows(batch)
        centres.append(rows_centres)
        contexts.append(rows_contexts)
        sizes.append(np.diff(indptr))
    all_centres = np.concatenate(centres or [np.empty(0, np.int32)]).astype(np.int32)
    all_sizes = np.concatenate(sizes or [np.empty(0, np.int64)])
    with atomic_output(path, binary=True) as out:
        np.savez(out, centres=all_centres,
                 contexts=np.concatenate(contexts or [np.empty(0, np.int32)]).astype(np.int32),
                 indptr=np.concatenate([[0], np.cumsum(all_sizes)]).astype(np.int64),
                 words=np.array(vocab.words, dtype=str), counts=vocab.counts,
                 noise=noise.probabilities)
    return len(all_centres)
