"""Facebook fastText's binary model files (``.bin``), read and written.

The layout, all little-endian (``FastText::saveModel`` in facebookresearch/fastText; the same
that gensim's ``load_facebook_model`` reads):

- the magic number ``793712314`` (int32) and the version (int32, 12; 11 is read too);
- the arguments: twelve int32 (``dim ws epoch minCount neg wordNgrams loss model bucket minn
  maxn lrUpdateRate``) and ``t`` (float64);
- the dictionary: ``size nwords nlabels`` (int32), ``ntokens pruneidx_size`` (int64), then per
  entry its UTF-8 word, a NUL byte, its count (int64) and its type (int8: 0 word, 1 label);
- a byte saying whether the input matrix is quantised, the input matrix (rows, columns as
  int64, then float32 rows: ``nwords`` word rows and ``bucket`` n-gram rows), a byte saying
  whether the output matrix is quantised, and the output matrix likewise.

Quantised models (``.ftz``, made by ``fasttext quantize``) are refused. A regular file is
memory-mapped: the matrices are never read whole, and every size in the header is checked
against the file's length before anything of that size is allocated.
"""

from __future__ import annotations

import itertools
import mmap
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.formats.word2vec import decode_words
from embedkit.streaming import Matrix
from embedkit.text.subwords import MAX_NGRAM, SubwordModel, Subwords

MAGIC = 793712314
VERSION = 12
MAGIC_BYTES = struct.pack("<i", MAGIC)
#: The int32 arguments of the header, in order (then ``t``, a float64).
ARG_NAMES = ("dim", "ws", "epoch", "minCount", "neg", "wordNgrams", "loss", "model", "bucket",
             "minn", "maxn", "lrUpdateRate")
_ARGS = struct.Struct("<12id")
_DICT = struct.Struct("<iiiqq")
_MATRIX = struct.Struct("<qq")
#: fastText's enums: loss (hs, ns, softmax, ova) and model (cbow, sg, sup).
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
#: fastText's defaults for what embedkit does not record itself.
DEFAULT_ARGS = {"ws": 5, "epoch": 5, "minCount": 5, "neg": 5, "wordNgrams": 1, "loss": 2,
                "model": 2, "lrUpdateRate": 100, "t": 1e-4}
#: Largest dimension believed (a header claiming more is damaged).
MAX_DIM = 1 << 16
_ENTRY = re.compile(rb"([^\0]*)\0(.{9})", re.DOTALL)
_ENTRY_META = np.dtype([("count", "<i8"), ("type", "i1")])


@dataclass
class FastTextFile:
    """What a fastText model holds.

    Attributes
    ----------
    words : list of str
        The vocabulary (labels of supervised models left out), most frequent first.
    counts : ndarray of int64
    model : SubwordModel
        The words' own input rows, the n-gram rows (memory-mapped from a regular file), the
        n-gram settings and the other header arguments.
    output : ndarray, shape (rows, dim)
        The output matrix.
    """

    words: list[str]
    counts: np.ndarray
    model: SubwordModel
    output: np.ndarray


def buffer_of(stream: IO[bytes], mappable: bool) -> bytes | mmap.mmap:
    """The whole content: a read-only memory map of a regular file, else the bytes read."""
    if mappable:
        try:
            return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, AttributeError):
            pass  # empty files and pipes cannot be mapped
    return stream.read()


class _Cursor:
    """Reads fields from the buffer, each size checked against what is left first."""

    def __init__(self, data: bytes | mmap.mmap, name: str) -> None:
        self.data, self.name, self.pos = data, name, 0

    def need(self, size: int, what: str) -> int:
        """The position of the next ``size`` bytes, which must be there, then past them."""
        if size < 0 or self.pos + size > len(self.data):
            raise EmbedkitError(f"{self.name}: truncated or damaged fastText model: {what} "
                                f"needs {size:,} bytes at byte {self.pos:,}, but the file "
                                f"ends at byte {len(self.data):,}")
        start, self.pos = self.pos, self.pos + size
        return start

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack_from(self.data, self.need(layout.size, what))

    def matrix(self, what: str, rows: int, dim: int) -> np.ndarray:
        found_rows, found_dim = self.unpack(_MATRIX, f"the {what} matrix's shape")
        if found_rows != rows or found_dim != dim:
            raise EmbedkitError(f"{self.name}: damaged fastText model: the {what} matrix is "
                                f"{found_rows:,} x {found_dim:,}, expected {rows:,} x {dim:,} "
                                f"(from the header)")
        start = self.need(4 * rows * dim, f"the {what} matrix ({rows:,} x {dim:,} float32)")
        return np.frombuffer(self.data, dtype="<f4", count=rows * dim,
                             offset=start).reshape(rows, dim)


def is_fasttext(head: bytes) -> bool:
    """Whether content starting with ``head`` is a fastText model (its magic number)."""
    return head[:4] == MAGIC_BYTES


def read_fasttext(data: bytes | mmap.mmap, name: str, limit: int | None = None,
                  errors: str = "strict") -> FastTextFile:
    """Parse a fastText model from its whole content (a memory map or bytes).

    Parameters
    ----------
    data : bytes or mmap
        The file's content; matrices are views of it, never copies.
    name : str
        The file as named in messages.
    limit : int, optional
        Keep only the first ``limit`` words (the n-gram rows are kept whole).
    errors : str
        Undecodable bytes in words: ``strict``, ``replace`` or ``ignore``.

    Raises
    ------
    EmbedkitError
        For another magic number or a newer version, a quantised model, and a damaged or
        truncated file, naming the field and byte at fault.
    """
    cursor = _Cursor(data, name)
    magic, version = cursor.unpack(struct.Struct("<ii"), "the magic number and version")
    if magic != MAGIC:
        raise EmbedkitError(f"{name}: not a fastText model: magic number {magic}, expected "
                            f"{MAGIC}")
    if version not in (11, VERSION):
        raise EmbedkitError(f"{name}: fastText model version {version}: expected 11 or "
                            f"{VERSION}")
    *values, t = cursor.unpack(_ARGS, "the arguments")
    args = dict(zip(ARG_NAMES, values, strict=True)) | {"t": t}
    dim = args["dim"]
    if not 1 <= dim <= MAX_DIM or args["bucket"] < 0 or args["model"] not in MODELS \
            or args["loss"] not in LOSSES or not 0 <= args["minn"] <= MAX_NGRAM \
            or not 0 <= args["maxn"] <= MAX_NGRAM:
        raise EmbedkitError(f"{name}: damaged fastText model: arguments dim {dim}, bucket "
                            f"{args['bucket']}, model {args['model']}, loss {args['loss']}, "
                            f"minn {args['minn']}, maxn {args['maxn']} make no sense")
    # minn above maxn is no damage: fastText's `-maxn 0` (no n-grams) keeps the default minn 3
    if version == 11 and MODELS[args["model"]] == "supervised":
        args["maxn"] = 0  # fastText: old supervised models have no character n-grams
    size, nwords, nlabels, _, pruned = cursor.unpack(_DICT, "the dictionary's sizes")
    # every entry takes at least 10 bytes: a sentinel of absurd sizes before any allocation
    if not 0 <= nwords <= size or nlabels != size - nwords \
            or 10 * size > len(data) - cursor.pos:
        raise EmbedkitError(f"{name}: damaged fastText model: a dictionary of {size:,} "
                            f"entries ({nwords:,} words, {nlabels:,} labels) in "
                            f"{len(data) - cursor.pos:,} bytes")
    entries = list(itertools.islice(_ENTRY.finditer(data, cursor.pos), size))
    if len(entries) < size:  # the pattern matches where the last match ended, or nowhere
        raise EmbedkitError(f"{name}: truncated or damaged fastText model: {len(entries):,} "
                            f"of the {size:,} dictionary entries found")
    cursor.pos = entries[-1].end() if entries else cursor.pos
    meta = np.frombuffer(b"".join(m.group(2) for m in entries[:nwords]), dtype=_ENTRY_META)
    if (meta["type"] != 0).any():
        raise EmbedkitError(f"{name}: damaged fastText model: a label among the first "
                            f"{nwords:,} entries, which should be words")
    # fastText's isPruned (a size of 0: every n-gram pruned away, its hashes dropped), which
    # it refuses unquantised as an invalid model: its n-gram rows are not the vectors' parts
    if pruned >= 0:
        raise EmbedkitError(f"{name}: a pruned (quantised) fastText model: embedkit reads "
                            "unquantised .bin models only")
    quantised, = cursor.unpack(struct.Struct("<?"), "the quantisation flag")
    if quantised:
        raise EmbedkitError(f"{name}: a quantised fastText model (made by `fasttext "
                            "quantize`, usually .ftz): embedkit reads unquantised .bin models "
                            "only")
    buckets = args["bucket"] if args["maxn"] else 0
    input_rows = cursor.matrix("input", nwords + args["bucket"], dim)
    cursor.unpack(struct.Struct("<?"), "the output quantisation flag")
    output_rows = nwords if MODELS[args["model"]] != "supervised" else nlabels
    output = cursor.matrix("output", output_rows, dim)
    keep = nwords if limit is None else min(limit, nwords)
    words = decode_words([m.group(1) for m in entries[:keep]], name, errors,
                         lambda i: f"dictionary entry {i + 1}")
    subwords = Subwords(args["minn"], args["maxn"], buckets)
    kept_args = {k: v for k, v in args.items() if k not in ("dim", "bucket", "minn", "maxn")}
    model = SubwordModel(subwords, input_rows[:keep], input_rows[nwords:nwords + buckets],
                         kept_args)
    if MODELS[args["model"]] != "supervised":
        output = output[:keep]  # a row per word: the kept words' rows
    return FastTextFile(words, meta["count"][:keep].copy(), model, output)


def check_words(words: Sequence[str]) -> str | None:
    """Why some word cannot be written to a fastText model (a NUL ends each word), or None."""
    if not all(words):
        return f"an empty word (row {list(words).index('') + 1})"
    if "\0" in "".join(words):
        row = next(i for i, word in enumerate(words) if "\0" in word)
        return f"the word {words[row]!r} (row {row + 1}), which holds a NUL character"
    return None


#: Rows written per call, so a memory-mapped matrix is copied a block at a time.
WRITE_BLOCK = 65536


def write_fasttext(out: IO[bytes], words: Sequence[str], vectors: Matrix,
                   counts: np.ndarray | None, output: np.ndarray | None,
                   model: SubwordModel | None) -> None:
    """Write a fastText model that fastText's tool and gensim's ``load_facebook_model`` load.

    Parameters
    ----------
    words : sequence of str
    vectors : ndarray or ComputedRows, shape (len(words), dim)
        The word vectors: written as the words' input rows when there is no ``model``
        (a model without n-grams, ``maxn`` 0, whose word vectors are these rows); with a
        ``model`` only their shape is read.
    counts : ndarray, optional
        Word counts (1 each when absent: fastText needs some).
    output : ndarray, optional
        The output matrix (zeros when absent).
    model : SubwordModel, optional
        The words' own rows, n-gram rows and settings of a subword model.

    Notes
    -----
    A classifier's model (``fasttext supervised``, read without its labels) is written as a
    model of word vectors, the same vectors: skip-gram's arguments and ``output`` zeros (its
    rows were the labels'). Written as a classifier without labels, fastText's ``predict``
    crashed on it.
    """
    dim = vectors.shape[1]
    if model is None:
        model = SubwordModel(Subwords(0, 0, 0), np.asarray(vectors, dtype=np.float32),
                             np.zeros((0, dim), np.float32))
    settings = model.subwords
    args = {**DEFAULT_ARGS, **model.args, "dim": dim, "bucket": settings.buckets,
            "minn": settings.minn, "maxn": settings.maxn}
    if MODELS.get(args["model"]) == "supervised":
        args |= {key: DEFAULT_ARGS[key] for key in ("model", "loss", "wordNgrams")}
        output = None
    counts = np.ones(len(words), np.int64) if counts is None else np.asarray(counts, np.int64)
    out.write(struct.pack("<ii", MAGIC, VERSION))
    out.write(_ARGS.pack(*(int(args[k]) for k in ARG_NAMES), float(args["t"])))
    out.write(_DICT.pack(len(words), len(words), 0, int(counts.sum()), -1))
    meta = np.empty(len(words), dtype=_ENTRY_META)
    meta["count"], meta["type"] = counts, 0
    for start in range(0, len(words), WRITE_BLOCK):
        block = meta[start:start + WRITE_BLOCK]
        out.write(b"".join(word.encode() + b"\0" + record.tobytes() for word, record
                           in zip(words[start:start + WRITE_BLOCK], block, strict=True)))
    out.write(b"\0")
    out.write(_MATRIX.pack(len(words) + settings.buckets, dim))
    for matrix in (model.word_rows, model.ngrams):
        _write_rows(out, matrix)
    out.write(b"\0")
    output = np.zeros((len(words), dim), np.float32) if output is None else output
    out.write(_MATRIX.pack(*output.shape))
    _write_rows(out, output)


def _write_rows(out: IO[bytes], matrix: np.ndarray) -> None:
    for start in range(0, len(matrix), WRITE_BLOCK):
        out.write(np.ascontiguousarray(matrix[start:start + WRITE_BLOCK], dtype="<f4").tobytes())

