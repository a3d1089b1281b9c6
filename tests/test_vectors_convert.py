"""`convert` between every vector format, and the word2vec readers on files larger than their
buffers (the growing matrix and chunked reads give the same bits as one small read)."""

import itertools

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats import read_table, word2vec
from embedkit.text.subwords import SubwordModel, Subwords
from embedkit.vectors import load_vectors, save_vectors
from embedkit.vectors.formats import convert_vectors

#: A file name per format the readers know, with the format given to the writer when the
#: suffix does not name it: a fastText model is a .bin told apart from word2vec's by its
#: content. Text (word2vec .vec) keeps six significant digits.
FORMATS = [("in.vec", None), ("in.vec.gz", None), ("in.bin", None), ("in.bin.bz2", None),
           ("in.npz", None), ("in.npy", None), ("model.bin", "fasttext")]
TEXT = ("in.vec", "in.vec.gz")
COUNTED = ("in.npz", "in.npy", "model.bin")
BIN_FORMATS = {"in.bin": "binary", "model.bin": "fasttext"}


@pytest.fixture(scope="module")
def original():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(50)] + ["naïve", "東京", "x-ray"]
    vectors = (rng.standard_normal((len(words), 7)) * 10.0 ** rng.integers(-8, 8, (1, 7)))
    counts = np.arange(len(words), 0, -1, dtype=np.int64) * 3
    return words, vectors.astype(np.float32), counts


@pytest.mark.parametrize("source, target", list(itertools.permutations(FORMATS, 2)),
                         ids=lambda f: f"{f[1] or ''}{f[0].partition('.')[2]}")
def test_convert_round_trips_every_pair_of_formats(original, tmp_path, source, target):
    words, vectors, counts = original
    (source, source_fmt), (target, target_fmt) = source, target
    src, dst = tmp_path / "a" / source, tmp_path / "b" / target
    src.parent.mkdir()
    dst.parent.mkdir()
    save_vectors(src, words, vectors, counts=counts, fmt=source_fmt)
    convert_vectors(src, dst, fmt=target_fmt)
    back = load_vectors(dst)
    if target in BIN_FORMATS:  # two formats share the suffix: each is written as asked
        assert read_table(dst).format == BIN_FORMATS[target]
    assert back.words == words
    if source in TEXT or target in TEXT:
        np.testing.assert_allclose(back.vectors, vectors, rtol=5e-6, atol=0)
    else:
        assert back.vectors.dtype == np.float32
        assert back.vectors.tobytes() == vectors.tobytes()
    if source in COUNTED and target in COUNTED:
        np.testing.assert_array_equal(back.counts, counts)


def test_convert_limit_and_format_from_the_cli(original, tmp_path):
    words, vectors, _ = original
    save_vectors(tmp_path / "v.bin", words, vectors)
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "v.bin"),
                                       str(tmp_path / "out.data"), "--format", "npz",
                                       "--limit", "5"])
    assert result.exit_code == 0, result.output
    back = load_vectors(tmp_path / "out.data", fmt="npz")
    assert back.words == words[:5]
    assert back.vectors.tobytes() == vectors[:5].tobytes()
    bad = CliRunner().invoke(main, ["convert", str(tmp_path / "v.bin"),
                                    str(tmp_path / "m.csv")])
    assert bad.exit_code == 1
    assert bad.output.startswith("embedkit: error:") and bad.output.count("\n") == 1
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize("suffix", [".bin", ".bin.gz", ".vec", ".vec.bz2"])
def test_readers_grow_and_chunk_to_the_same_bits(tmp_path, monkeypatch, suffix):
    """3,000 vectors through a matrix that starts at 8 rows and doubles, read in chunks
    smaller than a record: the same bits as the matrix written (binary) or as the default
    buffers read (text), and --limit stops on a row that is not a power of two."""
    rng = np.random.default_rng(5)
    rows, dim = 3_000, 40
    words = [f"word{i}" for i in range(rows)]
    vectors = rng.standard_normal((rows, dim)).astype(np.float32)
    path = tmp_path / f"big{suffix}"
    save_vectors(path, words, vectors)
    usual = load_vectors(path)
    monkeypatch.setattr(word2vec, "PREALLOCATE_BYTES", 8 * 4 * dim)
    monkeypatch.setattr(word2vec, "BINARY_CHUNK", 97)
    monkeypatch.setattr(word2vec, "TEXT_BLOCK", 33)
    small = load_vectors(path)
    assert small.words == usual.words == words
    assert small.vectors.tobytes() == usual.vectors.tobytes()
    if suffix.startswith(".bin"):
        assert usual.vectors.tobytes() == vectors.tobytes()
    limited = load_vectors(path, limit=1_234)
    assert limited.words == words[:1_234]
    assert limited.vectors.tobytes() == usual.vectors[:1_234].tobytes()
    assert limited.vectors.shape == (1_234, dim)


def test_convert_keeps_the_output_matrix_and_the_subword_model(tmp_path):
    rng = np.random.default_rng(4)
    words = ["where", "here", "there"]
    vectors = rng.standard_normal((3, 4)).astype(np.float32)
    output = rng.standard_normal((3, 4)).astype(np.float32)
    save_vectors(tmp_path / "a.npz", words, vectors, output=output)
    convert_vectors(tmp_path / "a.npz", tmp_path / "b.npz")
    np.testing.assert_array_equal(load_vectors(tmp_path / "b.npz").output, output)
    model = SubwordModel(Subwords(3, 5, 40), vectors, rng.standard_normal((40, 4)).astype("f4"))
    save_vectors(tmp_path / "m.bin", words, model.word_vectors(words), fmt="fasttext",
                 output=output, subwords=model)
    convert_vectors(tmp_path / "m.bin", tmp_path / "m.npz")
    converted = load_vectors(tmp_path / "m.npz").subwords
    assert converted is not None
    np.testing.assert_array_equal(converted.ngrams, model.ngrams)
    np.testing.assert_array_equal(converted.word_rows, model.word_rows)


@pytest.mark.parametrize("minn, maxn", [(-3, 5), (3, 1024), (3, 2**40)])
def test_an_archive_with_ngram_lengths_out_of_range_is_named(tmp_path, minn, maxn):
    # they were read: written to fastText, 3-1024 gave a model refused on reading, 3-2**40
    # an internal error ("'i' format requires ...")
    model = SubwordModel(Subwords(3, 5, 2), np.ones((1, 2), "f4"), np.ones((2, 2), "f4"))
    save_vectors(tmp_path / "m.npz", ["ab"], np.ones((1, 2), "f4"), subwords=model)
    arrays = dict(np.load(tmp_path / "m.npz"))
    arrays["subwords"] = np.array([minn, maxn, 2])
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(EmbedkitError) as error:
        load_vectors(tmp_path / "m.npz")
    assert str(error.value).endswith(f"[subwords]: n-gram lengths {minn} to {maxn}: expected 0 "
                                     "to 1023 characters")
