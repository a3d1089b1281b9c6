"""Files for the TensorFlow Embedding Projector (standalone, or TensorBoard's projector plugin).

``tensors.tsv`` holds one vector per line, tab-separated; ``metadata.tsv`` a header line
``word<TAB>count`` and one line per vector (the count is the corpus frequency when the vector
file records it, as ``.npz`` files from ``train-w2v`` and ``.npy`` vocabularies with counts do;
otherwise the column is ``rank``: 1 for the first, most frequent, word); and
``projector_config.pbtxt`` the protocol-buffer text that tells TensorBoard where they are.
"""

from __future__ import annotations

import contextlib
import os

from embedkit.errors import EmbedkitError
from embedkit.formats.word2vec import TEXT_BLOCK, format_rows
from embedkit.io import atomic_output, atomic_outputs
from embedkit.vectors.keyed import KeyedVectors

TENSORS = "tensors.tsv"
METADATA = "metadata.tsv"
CONFIG = "projector_config.pbtxt"


def export_projector(kv: KeyedVectors, directory: str | os.PathLike,
                     name: str = "embedding") -> list[str]:
    """Write :data:`TENSORS`, :data:`METADATA` and :data:`CONFIG` into ``directory``.

    The files are written block by block (a memory-mapped matrix is never read whole) and land
    together: on any error none of them is left behind.

    Parameters
    ----------
    kv : KeyedVectors
        The vectors, in the order they are written.
    directory : str or path-like
        Created (with its parents) when missing.
    name : str
        The tensor's name in the projector.

    Returns
    -------
    list of str
        The three paths written.

    Raises
    ------
    EmbedkitError
        When a word holds a tab or a line break (it would break the TSV rows), or the
        directory cannot be made or written.
    """
    bad = next((word for word in kv.words if "\t" in word or "\n" in word or "\r" in word),
               None)
    if bad is not None:
        raise EmbedkitError(f"word {bad!r} (row {kv.index[bad] + 1}) holds a tab or a line "
                            "break: it cannot be written to metadata.tsv")
    directory = os.fspath(directory)
    made = not os.path.isdir(directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise EmbedkitError(f"{directory}: cannot make the directory "
                            f"({exc.strerror or exc})") from None
    paths = [os.path.join(directory, file) for file in (TENSORS, METADATA, CONFIG)]
    try:
        _write_files(kv, name, paths)
    except BaseException:
        if made:  # a failed export leaves nothing behind, not an empty directory
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise
    return paths


def _write_files(kv: KeyedVectors, name: str, paths: list[str]) -> None:
    with atomic_outputs(*paths) as (tensors, metadata, config):
        with atomic_output(tensors, binary=True) as out:
            for start in range(0, len(kv), TEXT_BLOCK):
                rows = format_rows(kv.vectors[start:start + TEXT_BLOCK])
                out.write(b"".join(rows).replace(b" ", b"\t"))
        with atomic_output(metadata) as out:
            column = "count" if kv.counts is not None else "rank"
            out.write(f"word\t{column}\n")
            for start in range(0, len(kv), TEXT_BLOCK):
                words = kv.words[start:start + TEXT_BLOCK]
                values = (kv.counts[start:start + TEXT_BLOCK].tolist() if kv.counts is not None
                          else range(start + 1, start + len(words) + 1))
                out.write("".join(f"{w}\t{v}\n" for w, v in zip(words, values, strict=True)))
        with atomic_output(config) as out:
            out.write(f'embeddings {{\n  tensor_name: "{_quoted(name)}"\n'
                      f"  tensor_shape: {len(kv)}\n  tensor_shape: {kv.dim}\n"
                      f'  tensor_path: "{TENSORS}"\n  metadata_path: "{METADATA}"\n}}\n')


def _quoted(text: str) -> str:
    """``text`` escaped for a protocol-buffer text string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
