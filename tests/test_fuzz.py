"""Property-based fuzzing of the file readers: vector files, vocabularies and matrices.

Whatever the bytes, a reader either returns or raises :class:`EmbedkitError` (the one-line
error the CLI prints); any other exception, even another ``ValueError``, fails. Valid files
round-trip. Inputs are random bytes, valid files with bytes flipped, inserted or deleted, and
truncated valid files. The seed is fixed (``derandomize=True``): CI runs the same few thousand
examples every time.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedkit.ae.data import read_matrix, write_matrix
from embedkit.errors import EmbedkitError
from embedkit.text.vocab import Vocabulary
from embedkit.vectors import load_vectors
from embedkit.vectors.formats import save_vectors


def fuzz(examples: int):
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="embedkit-fuzz-") as path:
        yield path


def write(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as out:
        out.write(data)
    return path


def survives(reader, path: str):
    """The reader's result, or None when it raised EmbedkitError; anything else propagates."""
    try:
        return reader(path)
    except EmbedkitError:
        return None


# Words the word2vec formats can hold: no white space, no control characters, unique.
words_strategy = st.lists(st.text(st.characters(blacklist_categories=("Z", "Cc", "Cs")),
                                  min_size=1, max_size=8),
                          min_size=1, max_size=12, unique=True)
finite = st.floats(-2.0 ** 100, 2.0 ** 100, allow_nan=False, width=32)


@st.composite
def vector_sets(draw):
    words = draw(words_strategy)
    dim = draw(st.integers(1, 6))
    values = draw(st.lists(finite, min_size=len(words) * dim, max_size=len(words) * dim))
    return words, np.array(values, dtype=np.float32).reshape(len(words), dim)


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few bytes flipped, inserted or deleted, or cut short."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


def vector_file_bytes(words, vectors, fmt: str, directory: str) -> bytes:
    path = os.path.join(directory, f"valid.{fmt}")
    save_vectors(path, words, vectors)
    with open(path, "rb") as stream:
        return stream.read()


# -- word2vec text and binary ------------------------------------------------------------------

@pytest.mark.parametrize("extension", ["vec", "bin"])
@fuzz(200)
@given(data=st.binary(max_size=300))
def test_vector_reader_on_random_bytes(workdir, extension, data):
    survives(load_vectors, write(workdir, f"random.{extension}", data))


@pytest.mark.parametrize("extension", ["vec", "bin"])
@fuzz(200)
@given(data=st.binary(max_size=40))
def test_vector_reader_on_a_valid_header_then_random_bytes(workdir, extension, data):
    survives(load_vectors, write(workdir, f"header.{extension}", b"2 3\n" + data))


@pytest.mark.parametrize("extension", ["vec", "bin"])
@fuzz(250)
@given(content=vector_sets(), data=st.data())
def test_vector_reader_on_mutated_files(workdir, extension, content, data):
    valid = vector_file_bytes(*content, extension, workdir)
    kv = survives(load_vectors, write(workdir, f"mutated.{extension}", data.draw(mutated(valid))))
    if kv is not None:
        assert kv.vectors.ndim == 2 and len(kv.words) == kv.vectors.shape[0]
        assert np.isfinite(kv.vectors).all()


@pytest.mark.parametrize("extension", ["vec", "bin", "vec.gz"])
@fuzz(150)
@given(content=vector_sets(), cut=st.integers(0, 10_000))
def test_truncated_vector_files_fail_cleanly(workdir, extension, content, cut):
    valid = vector_file_bytes(*content, extension, workdir)
    cut %= len(valid)
    survives(load_vectors, write(workdir, f"cut.{extension}", valid[:cut]))


# -- fastText models ----------------------------------------------------------------------------

FASTTEXT_MODEL = (Path(__file__).parent / "data" / "fasttext" / "tiny.bin").read_bytes()


@fuzz(150)
@given(data=st.data())
def test_fasttext_reader_on_mutated_models(workdir, data):
    """A fastText model (trained by fastText's tool) with bytes flipped, inserted, deleted or
    cut: vectors of the right shape (finite or not: a flipped float may be infinite) or an
    EmbedkitError."""
    kv = survives(load_vectors, write(workdir, "mutated.model",
                                      data.draw(mutated(FASTTEXT_MODEL))))
    if kv is not None:
        assert kv.vectors.ndim == 2 and len(kv.words) == kv.vectors.shape[0]


@fuzz(200)
@given(content=vector_sets(), data=st.data(), mmap=st.booleans())
def test_npz_vector_reader_on_mutated_files(workdir, content, data, mmap):
    valid = vector_file_bytes(*content, "npz", workdir)
    path = write(workdir, "mutated.npz", data.draw(mutated(valid)))
    kv = survives(lambda p: load_vectors(p, mmap=mmap), path)
    if kv is not None:
        assert len(kv.words) == kv.vectors.shape[0]


@pytest.mark.parametrize("extension", ["vec", "bin", "npz"])
@fuzz(150)
@given(content=vector_sets())
def test_vector_files_round_trip(workdir, extension, content):
    words, vectors = content
    kv = load_vectors(write(workdir, f"round.{extension}",
                            vector_file_bytes(words, vectors, extension, workdir)))
    assert kv.words == words
    if extension != "vec":
        np.testing.assert_array_equal(kv.vectors, vectors)
    else:  # six significant digits
        np.testing.assert_allclose(kv.vectors, vectors, rtol=5e-6, atol=0)


# -- vocabulary TSV ----------------------------------------------------------------------------

vocab_words = st.lists(st.text(st.characters(blacklist_characters="\n\r",
                                             blacklist_categories=("Cs",)),
                               min_size=1, max_size=8),
                       min_size=1, max_size=12, unique=True)


@fuzz(250)
@given(data=st.one_of(st.binary(max_size=200),
                      st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_vocabulary_reader_on_random_input(workdir, data):
    survives(Vocabulary.load, write(workdir, "random.tsv", data))


def saved_vocabulary(workdir: str, words: list[str], data) -> tuple[str, list[int]]:
    """A vocabulary of ``words`` with drawn counts saved by :meth:`Vocabulary.save`."""
    counts = data.draw(st.lists(st.integers(0, 10**12), min_size=len(words),
                                max_size=len(words)))
    path = os.path.join(workdir, "valid.tsv")
    Vocabulary(words, np.array(counts)).save(path)
    return path, counts


@fuzz(200)
@given(words=vocab_words, data=st.data())
def test_vocabulary_reader_on_mutated_files(workdir, words, data):
    path, _ = saved_vocabulary(workdir, words, data)
    with open(path, "rb") as stream:
        valid = stream.read()
    vocab = survives(Vocabulary.load, write(workdir, "mutated.tsv", data.draw(mutated(valid))))
    if vocab is not None:
        assert len(vocab.words) == len(vocab.counts) == len(vocab.index)
        assert (vocab.counts >= 0).all()


@fuzz(200)
@given(words=vocab_words, data=st.data())
def test_vocabulary_round_trips(workdir, words, data):
    path, counts = saved_vocabulary(workdir, words, data)
    vocab = Vocabulary.load(path)
    assert vocab.words == words
    assert vocab.counts.tolist() == counts


# -- matrices: .npy and CSV --------------------------------------------------------------------

matrices = st.integers(1, 6).flatmap(lambda cols: st.lists(
    st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=cols, max_size=cols),
    min_size=1, max_size=8)).map(np.array)


def npy_bytes(matrix: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    return buffer.getvalue()


@pytest.mark.parametrize("extension", ["npy", "npz", "csv", "tsv", "txt"])
@fuzz(120)
@given(data=st.binary(max_size=300))
def test_matrix_reader_on_random_bytes(workdir, extension, data):
    survives(read_matrix, write(workdir, f"random.{extension}", data))


@fuzz(200)
@given(matrix=matrices, data=st.data())
def test_matrix_reader_on_mutated_npy(workdir, matrix, data):
    raw = data.draw(mutated(npy_bytes(matrix)))
    result = survives(read_matrix, write(workdir, "mutated.npy", raw))
    if result is not None:
        assert result.values.ndim == 2 and np.isfinite(result.values).all()


@fuzz(200)
@given(matrix=matrices, data=st.data())
def test_matrix_reader_on_mutated_npz(workdir, matrix, data):
    buffer = io.BytesIO()
    np.savez(buffer, x=matrix)
    result = survives(read_matrix, write(workdir, "mutated.npz",
                                         data.draw(mutated(buffer.getvalue()))))
    if result is not None:
        assert result.values.ndim == 2 and np.isfinite(result.values).all()


@fuzz(200)
@given(matrix=matrices, data=st.data(), header=st.booleans())
def test_matrix_reader_on_mutated_csv(workdir, matrix, data, header):
    text = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in matrix)
    if header:
        text = ",".join(f"f{j}" for j in range(matrix.shape[1])) + "\n" + text
    result = survives(read_matrix, write(workdir, "mutated.csv",
                                         data.draw(mutated(text.encode()))))
    if result is not None:
        assert result.values.ndim == 2 and np.isfinite(result.values).all()


@pytest.mark.parametrize("extension", ["npy", "csv"])
@fuzz(150)
@given(matrix=matrices)
def test_matrices_round_trip(workdir, extension, matrix):
    path = os.path.join(workdir, f"round.{extension}")
    write_matrix(path, matrix)
    values = read_matrix(path).values
    if extension == "npy":
        np.testing.assert_array_equal(values, matrix)
    else:  # written with nine significant digits
        np.testing.assert_allclose(values, matrix, rtol=1e-8, atol=0)
