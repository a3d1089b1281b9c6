"""A large fastText model opens without composing its word vectors: the matrices stay views of
the mapped file, a query composes its own words, a search composes each word once, block by
block; and every answer equals that of the vectors composed whole at load.

"Large" is :data:`embedkit.vectors.formats.COMPOSE_BYTES`, set to 0 here so that the small
models of the tests take the path of a 7 GB ``cc.*.300.bin``.
"""

from __future__ import annotations

import gzip
import io
import mmap
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.formats.fasttext import write_fasttext
from embedkit.text.subwords import ComposedVectors, SubwordModel, Subwords
from embedkit.text.tokenize import normalize_words
from embedkit.vectors import formats as vector_formats
from embedkit.vectors import load_vectors, query
from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity

TINY = Path(__file__).parent / "data" / "fasttext" / "tiny.bin"


def random_model(path: Path, words: int = 300, dim: int = 8, buckets: int = 500,
                 nan_at: int | None = None) -> list[str]:
    """A fastText model of ``words`` distinct words with random rows (one n-gram row NaN)."""
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghij"))
    vocab = list(dict.fromkeys("".join(rng.choice(letters, rng.integers(2, 7)))
                               for _ in range(3 * words)))[:words]
    ngrams = rng.standard_normal((buckets, dim)).astype(np.float32)
    if nan_at is not None:
        ngrams[nan_at, 1] = np.nan
    model = SubwordModel(Subwords(3, 5, buckets),
                         rng.standard_normal((len(vocab), dim)).astype(np.float32), ngrams)
    out = io.BytesIO()
    write_fasttext(out, vocab, np.zeros((0, dim), np.float32), None, None, model)
    path.write_bytes(out.getvalue())
    return vocab


@pytest.fixture
def composed_where_read(monkeypatch):
    """Counts the vocabulary words composed; models of any size are composed where read."""
    monkeypatch.setattr(vector_formats, "COMPOSE_BYTES", 0)
    composed: list[int] = []
    compose = SubwordModel._compose

    def counting(self, words, own, own_count):
        if own_count:  # vocabulary words (unseen ones have no own row)
            composed.append(len(words))
        return compose(self, words, own, own_count)

    monkeypatch.setattr(SubwordModel, "_compose", counting)
    return composed


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.bin"
    return path, random_model(path)


def test_opening_composes_nothing_and_the_matrices_stay_views_of_the_file(
        composed_where_read, model):
    kv = load_vectors(model[0])
    assert isinstance(kv.vectors, ComposedVectors) and kv.vectors.shape == (300, 8)
    assert sum(composed_where_read) == 0
    assert kv.subwords is not None
    for matrix in (kv.subwords.word_rows, kv.subwords.ngrams, kv.output):
        owner = matrix
        while isinstance(owner, np.ndarray):
            owner = owner.base
        assert isinstance(owner, memoryview) and isinstance(owner.obj, mmap.mmap)
        assert not matrix.flags.writeable


def test_a_query_composes_its_own_words_and_a_search_each_word_once(
        composed_where_read, model, monkeypatch):
    monkeypatch.setattr(query, "STREAM_BYTES", 8 * 4 * 64)  # blocks of 64 rows: 5 of them
    kv = load_vectors(model[0])
    vectors = kv.unit(kv.rows([model[1][7], model[1][250]]))
    assert sum(composed_where_read) == 2 and vectors.shape == (2, 8)
    composed_where_read.clear()
    query.answer(kv, [model[1][7]], k=5)
    # the query's word, then every word once: the norms come from the blocks searched
    assert composed_where_read[0] == 1 and sum(composed_where_read) == 1 + 300
    assert max(composed_where_read) <= 64
    composed_where_read.clear()
    query.answer(kv, [model[1][9]], k=5)  # the norms are kept: still one pass
    assert sum(composed_where_read) == 1 + 300


@pytest.mark.parametrize("stream_bytes", [8 * 4 * 64, 8 * 4 * 1000])
def test_every_answer_equals_that_of_the_vectors_composed_whole(
        composed_where_read, model, monkeypatch, tmp_path, stream_bytes):
    monkeypatch.setattr(query, "STREAM_BYTES", stream_bytes)
    path, vocab = model
    whole = load_vectors(path)
    whole.vectors = np.asarray(whole.vectors)  # composed whole, in memory: searched at once
    composed = load_vectors(path)
    assert isinstance(composed.vectors, ComposedVectors)
    np.testing.assert_array_equal(whole.vectors, SubwordModel.word_vectors(
        composed.subwords, vocab))
    lines = [vocab[0], vocab[299], f"{vocab[3]} {vocab[4]} -{vocab[5]}", "hijab", "zz"]
    composed.oov_ngrams = whole.oov_ngrams = True
    for method in query.METHODS:
        assert query.answer(composed, lines, 7, method) == query.answer(whole, lines, 7, method)
    np.testing.assert_array_equal(composed.norms, whole.norms)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{a}\t{b}\t{i}\n" for i, (a, b)
                             in enumerate(zip(vocab[:40], vocab[40:80], strict=True))))
    questions = tmp_path / "questions.txt"
    questions.write_text(": one\n" + "".join(f"{' '.join(vocab[i:i + 4])}\n"
                                               for i in range(0, 200, 4)))
    for kv_a, kv_b in ((composed, whole),):
        assert evaluate_similarity(kv_a, pairs) == evaluate_similarity(kv_b, pairs)
        assert evaluate_analogies(kv_a, questions) == evaluate_analogies(kv_b, questions)


@pytest.mark.parametrize("compose_block", [3, 4096])
def test_rows_read_every_way_are_those_composed_whole(composed_where_read, model, monkeypatch,
                                                      compose_block):
    monkeypatch.setattr("embedkit.text.subwords.COMPOSE_BLOCK", compose_block)
    kv = load_vectors(model[0])
    whole = np.asarray(kv.vectors)
    view = kv.vectors[10:50]
    assert isinstance(view, ComposedVectors) and len(view) == 40
    for key in (3, -1, [5, 5, 0], np.array([[1, 2], [3, 299]]), np.arange(300) % 7 == 0,
                slice(1, 40, 3), slice(None, None, -1)):
        np.testing.assert_array_equal(kv.vectors[key], whole[key])
    np.testing.assert_array_equal(np.asarray(view), whole[10:50])
    np.testing.assert_array_equal(view[[0, -1]], whole[[10, 49]])
    np.testing.assert_array_equal(np.asarray(view[5:5]), whole[15:15])
    for key in (300, -301, [0, 300], np.ones(299, dtype=bool), np.array([0.5])):
        with pytest.raises(IndexError):
            kv.vectors[key]


def test_rows_at_the_edges_read_as_numpy_reads_them(composed_where_read, model):
    kv = load_vectors(model[0])
    whole = np.asarray(kv.vectors)
    view = kv.vectors[10:50]
    np.testing.assert_array_equal(kv.vectors[-300], whole[0])
    np.testing.assert_array_equal(view[[-40, 39]], whole[[10, 49]])
    np.testing.assert_array_equal(kv.vectors[0:10:2], whole[0:10:2])
    composed_where_read.clear()
    step_one = kv.vectors[2:8:1]  # a step of 1 given: a view still, nothing composed
    assert isinstance(step_one, ComposedVectors) and sum(composed_where_read) == 0
    np.testing.assert_array_equal(np.asarray(step_one), whole[2:8])
    as_double = np.asarray(kv.vectors, dtype=np.float64)
    assert as_double.dtype == np.float64
    np.testing.assert_array_equal(as_double, whole)


def test_rows_outside_and_keys_that_are_not_rows_say_which(composed_where_read, model):
    vectors = load_vectors(model[0]).vectors
    with pytest.raises(IndexError, match=r"^row 40 of a matrix of 40 rows$"):
        vectors[10:50][40]  # the row after the view: not read
    with pytest.raises(IndexError, match=r"^row -301 of a matrix of 300 rows$"):
        vectors[[0, -301]]
    with pytest.raises(IndexError, match=r"^a mask of shape \(299,\) for 300 rows$"):
        vectors[np.ones(299, dtype=bool)]
    with pytest.raises(IndexError, match=r"^rows are numbered by integers, not float64$"):
        vectors[np.array([0.5])]


def test_tiny_fasttext_model_gives_fasttexts_vectors_bit_for_bit_either_way(
        composed_where_read):
    with np.load(TINY.parent / "expected.npz") as expected:
        kv = load_vectors(TINY)
        assert isinstance(kv.vectors, ComposedVectors)
        np.testing.assert_array_equal(np.asarray(kv.vectors), expected["vectors"])
        np.testing.assert_array_equal(kv.vectors[[4, 0]], expected["vectors"][[4, 0]])


def test_a_nan_in_a_row_the_search_composes_is_named(composed_where_read, tmp_path):
    path = tmp_path / "nan.bin"
    vocab = random_model(path, nan_at=None)
    kv = load_vectors(path)
    assert kv.subwords is not None
    row = int(np.flatnonzero(kv.subwords.ngrams[:, 0] != 0)[0])
    hit = next(i for i, word in enumerate(vocab) if np.isnan(_with_nan_row(kv, row)[i]).any())
    random_model(path, nan_at=row)
    kv = load_vectors(path)  # opening reads no row: no error yet
    with pytest.raises(EmbedkitError, match=rf"row {hit + 1}, column 2: nan"):
        query.answer(kv, [vocab[hit - 1 if hit else hit + 1]], k=3)


def _scaled(path: Path, rows: dict[int, float]) -> None:
    """The model at ``path`` written again with the own rows of words ``rows`` set to the
    value given in every entry."""
    kv = load_vectors(path)
    assert kv.subwords is not None
    word_rows = np.array(kv.subwords.word_rows)
    for row, value in rows.items():
        word_rows[row] = value
    model = SubwordModel(kv.subwords.subwords, word_rows, np.array(kv.subwords.ngrams))
    out = io.BytesIO()
    write_fasttext(out, kv.words, np.zeros((0, word_rows.shape[1]), np.float32), None, None,
                   model)
    path.write_bytes(out.getvalue())


def test_long_rows_composed_in_a_later_block_are_measured_in_float64(
        composed_where_read, model, monkeypatch, tmp_path):
    """Vectors whose squares overflow float32, in the fourth block of the search: their
    lengths, taken again in float64, are theirs (the same cosines as composed whole); one
    beyond float32's range is named by its own row and word."""
    monkeypatch.setattr(query, "STREAM_BYTES", 8 * 4 * 64)  # blocks of 64 rows
    path, vocab = model
    _scaled(path, {200: 3e30, 250: -3e30})
    composed = load_vectors(path)
    whole = load_vectors(path)
    whole.vectors = np.asarray(whole.vectors)
    lines = [vocab[0], vocab[200], f"{vocab[7]} -{vocab[250]}"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning: the squares are redone
        answers = query.answer(composed, lines, 5)
        unit = load_vectors(path).unit([3, 250, 200])  # rows read by number: their lengths
    assert answers == query.answer(whole, lines, 5)
    np.testing.assert_array_equal(composed.norms, whole.norms)
    np.testing.assert_allclose(np.linalg.norm(unit.astype(np.float64), axis=1), 1, rtol=1e-6)
    path = tmp_path / "beyond.bin"
    vocab = random_model(path, dim=128)
    # a word of at most 4 letters has at most 9 n-grams: 3.4e38 / 10 in 128 entries is a
    # length of 3.8e38, beyond float32's range still
    row = next(i for i, word in enumerate(vocab) if i > 100 and len(word) <= 4)
    _scaled(path, {row: 3.4e38})
    kv = load_vectors(path)
    length = np.linalg.norm(np.asarray(kv.vectors[row], np.float64))
    assert length > np.finfo(np.float32).max
    beyond = "^" + re.escape(
        f"{kv.name}: row {row + 1} ({vocab[row]!r}) has length {length:.3g}, beyond "
        "float32's range: cosines would overflow; expected vectors of a usual scale") + "$"
    with pytest.raises(EmbedkitError, match=beyond):
        query.answer(load_vectors(path), [vocab[0]], 5)
    with pytest.raises(EmbedkitError, match=beyond):
        load_vectors(path).unit([0, row])


def test_unit_rows_of_unseen_words_and_of_none(composed_where_read, model):
    """The first word composed from its n-grams (the row after the vocabulary's) and a
    vocabulary word scaled to length 1, lazily as eagerly; no row at all is no vector."""
    path, vocab = model
    lazy, eager = load_vectors(path), load_vectors(path)
    eager.vectors = np.asarray(eager.vectors)  # composed whole, in memory
    for kv in (lazy, eager):
        kv.compose_unseen(["hijab", "zzabc"])
        rows = [kv.ngram_row("hijab"), kv.ngram_row("zzabc"), 5]
        assert rows[0] == len(vocab)
        expected = kv.row_vectors(rows).astype(np.float64)
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        for some in ([0, 1, 2], [0, 2]):  # the first unseen word with vocabulary words only
            unit = kv.unit([rows[i] for i in some])
            assert unit.dtype == np.float32
            np.testing.assert_allclose(unit, expected[some], rtol=1e-6, atol=1e-7)
        empty = kv.unit([])
        assert empty.shape == (0, 8) and empty.dtype == np.float32


def test_an_unseen_word_of_zero_ngram_rows_has_a_zero_unit_row():
    # its n-grams exist but their rows are zero (never trained): length 0, kept 0, not NaN
    from embedkit.vectors import KeyedVectors

    model = SubwordModel(Subwords(3, 5, 10), np.ones((2, 4), np.float32),
                         np.zeros((10, 4), np.float32))
    kv = KeyedVectors(["ab", "cd"], model.word_vectors(["ab", "cd"]), subwords=model)
    kv.compose_unseen(["xyzzy"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit = kv.unit([kv.ngram_row("xyzzy"), 1])
    np.testing.assert_array_equal(unit[0], np.zeros(4, np.float32))
    np.testing.assert_allclose(unit[1], np.full(4, 0.5), rtol=1e-6)


def _with_nan_row(kv, row: int) -> np.ndarray:
    """The vectors the words would have with n-gram row ``row`` NaN."""
    assert kv.subwords is not None
    ngrams = np.array(kv.subwords.ngrams)
    ngrams[row] = np.nan
    model = SubwordModel(kv.subwords.subwords, kv.subwords.word_rows, ngrams)
    return model.word_vectors(kv.vectors.words)


def test_small_models_are_still_composed_at_load(model):
    kv = load_vectors(model[0])
    assert isinstance(kv.vectors, np.ndarray) and kv.vectors.flags.owndata


def test_words_already_in_nfc_are_kept_not_copied():
    words = ["café", "straße", "dog"]
    assert all(a is b for a, b in zip(normalize_words(words), words, strict=True))
    assert normalize_words(["cafe\u0301", "dog"]) == ["caf\u00e9", "dog"]


def test_fasttexts_own_model_answers_lazily_as_eagerly(composed_where_read, monkeypatch):
    """The .bin trained by fastText's tool: word vectors, unseen words and every answer the
    same from rows composed where read as from the vectors composed at load."""
    with np.load(TINY.parent / "expected.npz") as archive:
        expected = {name: archive[name] for name in archive.files}
    lazy = load_vectors(TINY)
    assert isinstance(lazy.vectors, ComposedVectors) and sum(composed_where_read) == 0
    monkeypatch.setattr(vector_formats, "COMPOSE_BYTES", 64 * 2**20)
    eager = load_vectors(TINY)
    assert isinstance(eager.vectors, np.ndarray)
    np.testing.assert_array_equal(eager.vectors, expected["vectors"])
    unseen = expected["unseen_words"].tolist()
    assert lazy.subwords is not None
    np.testing.assert_array_equal(lazy.subwords.unseen_vectors(unseen)[0], expected["unseen"])
    lazy.oov_ngrams = eager.oov_ngrams = True
    lines = [*expected["words"].tolist()[:5], *unseen[:3]]
    for method in query.METHODS:
        assert query.answer(lazy, lines, 4, method) == query.answer(eager, lines, 4, method)
    np.testing.assert_array_equal(lazy.norms, eager.norms)


@pytest.mark.parametrize("how", ["gzip", "stdin"])
def test_a_model_read_whole_is_composed_at_load(composed_where_read, model, monkeypatch,
                                                how):
    """A compressed file or a pipe cannot be mapped: its bytes are in memory anyway, and its
    vectors are composed at load (the same as those composed where read from the file)."""
    path, vocab = model
    lazy = np.asarray(load_vectors(path).vectors)
    composed_where_read.clear()
    if how == "gzip":
        source = path.with_suffix(".bin.gz")
        source.write_bytes(gzip.compress(path.read_bytes()))
    else:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
        source = Path("-")
    kv = load_vectors(source)
    assert type(kv.vectors) is np.ndarray and sum(composed_where_read) == len(vocab)
    np.testing.assert_array_equal(kv.vectors, lazy)


@pytest.mark.parametrize(("fmt", "suffix"), [("word2vec", ".vec"), ("word2vec-binary", ".bin"),
                                             ("npz", ".npz"), ("npy", ".npy"),
                                             ("fasttext", ".bin")])
def test_convert_writes_what_the_vectors_composed_whole_give_a_block_at_a_time(
        composed_where_read, model, monkeypatch, tmp_path, fmt, suffix):
    monkeypatch.setattr("embedkit.streaming.BLOCK_BYTES", 8 * 4 * 64)  # blocks of 64 rows
    path, vocab = model
    eager_dir, lazy_dir = tmp_path / "eager", tmp_path / "lazy"
    eager_dir.mkdir(), lazy_dir.mkdir()
    eager = load_vectors(path)
    vector_formats.save_vectors(eager_dir / f"out{suffix}", eager.words,
                                np.asarray(eager.vectors), eager.counts, fmt, eager.output,
                                eager.subwords)
    composed_where_read.clear()
    vector_formats.convert_vectors(path, lazy_dir / f"out{suffix}", fmt=fmt)
    # each word composed once (the .npy's norms from the same pass), 64 at a time; none
    # for a fastText model, written from its rows
    assert sum(composed_where_read) == (0 if fmt == "fasttext" else len(vocab))
    assert max(composed_where_read, default=0) <= 64
    for name in sorted(p.name for p in eager_dir.iterdir()):
        written, expected = (lazy_dir / name).read_bytes(), (eager_dir / name).read_bytes()
        if name.endswith(".npz"):  # members alike (their zip entries carry a time)
            with np.load(lazy_dir / name) as got, np.load(eager_dir / name) as want:
                assert got.files == want.files
                for member in want.files:
                    np.testing.assert_array_equal(got[member], want[member])
        else:
            assert written == expected, name
    assert sorted(p.name for p in lazy_dir.iterdir()) == sorted(
        p.name for p in eager_dir.iterdir())


def test_convert_to_npy_measures_long_rows_without_overflow_warnings(
        composed_where_read, model, monkeypatch, tmp_path):
    """Rows whose squares overflow float32 (their norms, found as the blocks are written,
    are inf there, as the eager writer's): no overflow warning, the same sidecar norms."""
    monkeypatch.setattr("embedkit.streaming.BLOCK_BYTES", 8 * 4 * 64)  # blocks of 64 rows
    path, vocab = model
    _scaled(path, {3: 3e30, 200: -3e30})
    eager = load_vectors(path)
    vector_formats.save_vectors(tmp_path / "eager.npy", eager.words, np.asarray(eager.vectors))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vector_formats.convert_vectors(path, tmp_path / "lazy.npy")
    with np.load(tmp_path / "lazy.norms.npz") as lazy, \
            np.load(tmp_path / "eager.norms.npz") as want:
        np.testing.assert_array_equal(lazy["norms"], want["norms"])
        assert np.isinf(lazy["norms"][[3, 200]]).all()


@pytest.mark.parametrize("command", [("neighbors", "{word}"), ("convert", "{out}")])
@pytest.mark.parametrize("cut", ["dictionary", "input", "output"])
def test_a_truncated_model_is_a_one_line_error_before_anything_is_composed(
        composed_where_read, model, tmp_path, cli, command, cut):
    path, vocab = model
    raw = path.read_bytes()
    # the output matrix (a row per word, 8 floats) and its shape and flag close the file
    ends = {"dictionary": 100, "input": len(raw) - 4 * len(vocab) * 8 - 40,
            "output": len(raw) - 4}
    damaged = tmp_path / "damaged.bin"
    damaged.write_bytes(raw[:ends[cut]])
    args = [a.format(word=vocab[0], out=tmp_path / "out.vec") for a in command[1:]]
    result = cli(command[0], damaged, *args)
    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "damaged.bin" in result.stderr
    assert "truncated" in result.stderr
    assert sum(composed_where_read) == 0 and not (tmp_path / "out.vec").exists()
