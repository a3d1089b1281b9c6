"""fastText models written here and read back field by field: the exact one-line error for a
file cut in each field and for each header argument out of range, version 11, the extremes
that are still valid, the words that cannot be written."""

from __future__ import annotations

import io
import mmap
import struct

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.formats import fasttext
from embedkit.formats.fasttext import read_fasttext, write_fasttext
from embedkit.text.subwords import MAX_NGRAM, SubwordModel, Subwords

#: Byte offsets of header fields (``FastText::saveModel``'s layout).
AT = {"magic": 0, "version": 4, "dim": 8, "loss": 32, "model": 36, "bucket": 40, "minn": 44,
      "maxn": 48, "size": 64, "entries": 92}


def model_bytes(words=("the", "cat", "sat"), dim=3, **kwargs) -> bytes:
    vectors = np.arange(len(words) * dim, dtype=np.float32).reshape(len(words), dim) / 7
    out = io.BytesIO()
    write_fasttext(out, list(words), vectors, kwargs.get("counts"), None, kwargs.get("model"))
    return out.getvalue()


def patched(raw: bytes, field: str, value: int) -> bytes:
    data = bytearray(raw)
    struct.pack_into("<i", data, AT[field], value)
    return bytes(data)


def error_of(data: bytes, **kwargs) -> str:
    with pytest.raises(EmbedkitError) as caught:
        read_fasttext(data, "x.bin", **kwargs)
    return str(caught.value)


def test_a_model_round_trips_its_words_counts_rows_and_arguments():
    settings = Subwords(2, 4, 10)
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    ngrams = np.ones((10, 3), np.float32)
    model = SubwordModel(settings, rows, ngrams, {"t": 0.25, "epoch": 9})
    raw = model_bytes(("ab", "cd"), model=model, counts=[5.0, 2.0])
    read = read_fasttext(raw, "x.bin")
    assert read.words == ["ab", "cd"]
    assert read.counts.tolist() == [5, 2] and read.counts.dtype == np.int64
    assert read.model.subwords == settings
    np.testing.assert_array_equal(read.model.word_rows, rows)
    np.testing.assert_array_equal(read.model.ngrams, ngrams)
    assert read.model.args["t"] == 0.25 and read.model.args["epoch"] == 9
    np.testing.assert_array_equal(read.output, np.zeros((2, 3), np.float32))


def test_plain_vectors_are_a_model_without_ngrams_counted_once():
    read = read_fasttext(model_bytes(), "x.bin")
    assert read.model.subwords == Subwords(0, 0, 0)
    assert read.counts.tolist() == [1, 1, 1]
    assert read.model.args["t"] == fasttext.DEFAULT_ARGS["t"]


def test_an_empty_vocabulary_round_trips():
    read = read_fasttext(model_bytes(()), "x.bin")
    assert read.words == [] and read.model.word_rows.shape == (0, 3)


@pytest.mark.parametrize("cut, what, size, at", [
    (5, "the magic number and version", 8, 0),
    (20, "the arguments", 56, 8),
    (70, "the dictionary's sizes", 28, 64),
])
def test_a_header_cut_short_names_the_field(cut, what, size, at):
    raw = model_bytes()
    assert error_of(raw[:cut]) == (f"x.bin: truncated or damaged fastText model: {what} needs "
                                   f"{size} bytes at byte {at}, but the file ends at byte {cut}")


def test_a_matrix_cut_short_names_the_matrix():
    raw = model_bytes()
    entries = AT["entries"] + sum(len(w) + 10 for w in ("the", "cat", "sat"))
    shape_at = entries + 1  # after the quantisation flag
    assert error_of(raw[:shape_at + 5]) == (
        f"x.bin: truncated or damaged fastText model: the input matrix's shape needs 16 bytes "
        f"at byte {shape_at:,}, but the file ends at byte {shape_at + 5:,}")
    assert error_of(raw[:shape_at + 20]) == (
        f"x.bin: truncated or damaged fastText model: the input matrix (3 x 3 float32) needs "
        f"36 bytes at byte {shape_at + 16:,}, but the file ends at byte {shape_at + 20:,}")


def test_the_magic_number_and_version():
    assert error_of(patched(model_bytes(), "magic", -1)) == (
        f"x.bin: not a fastText model: magic number -1, expected {fasttext.MAGIC}")
    assert error_of(patched(model_bytes(), "version", 13)) == (
        "x.bin: fastText model version 13: expected 11 or 12")
    old = read_fasttext(patched(model_bytes(), "version", 11), "x.bin")
    assert old.words == ["the", "cat", "sat"]


@pytest.mark.parametrize("field, value", [
    ("dim", 0), ("dim", fasttext.MAX_DIM + 1), ("bucket", -1), ("model", 4), ("loss", 5),
    ("minn", -1), ("minn", 1024), ("maxn", -1), ("maxn", 1024)])
def test_each_header_argument_out_of_range_is_named(field, value):
    args = {"dim": 3, "bucket": 0, "model": 2, "loss": 2, "minn": 0, "maxn": 0} | {
        field: value}
    assert error_of(patched(model_bytes(), field, value)) == (
        f"x.bin: damaged fastText model: arguments dim {args['dim']}, bucket {args['bucket']}, "
        f"model {args['model']}, loss {args['loss']}, minn {args['minn']}, maxn {args['maxn']} "
        "make no sense")


def test_the_extremes_still_accepted():
    assert read_fasttext(model_bytes(dim=1), "x.bin").model.word_rows.shape == (3, 1)
    wide = read_fasttext(model_bytes(("a",), dim=fasttext.MAX_DIM), "x.bin")
    assert wide.model.word_rows.shape == (1, fasttext.MAX_DIM)
    assert read_fasttext(patched(model_bytes(), "maxn", 1023), "x.bin").model.subwords.maxn \
        == 1023


@pytest.mark.parametrize("minn, maxn, bucket", [(3, 0, 0), (5, 4, 6), (0, 0, 0)])
def test_a_model_without_ngrams_is_read_with_minn_above_maxn(minn, maxn, bucket):
    # fastText's `-maxn 0` (its way to train without n-grams) writes minn 3, maxn 0, bucket 0
    raw = built(minn=minn, maxn=maxn, bucket=bucket)
    read = read_fasttext(raw, "x.bin")
    assert read.words == ["a", "b", "c"] and not read.model.subwords.has_ngrams
    np.testing.assert_array_equal(read.model.word_vectors(read.words),
                                  np.arange(6, dtype=np.float32).reshape(3, 2))
    vectors, counts = read.model.unseen_vectors(["abc", "z"])
    assert counts.tolist() == [0, 0] and not vectors.any()


def test_the_longest_ngrams_train_w2v_takes_are_read_back():
    settings = Subwords(3, MAX_NGRAM, 2)
    model = SubwordModel(settings, np.ones((1, 3), np.float32), np.ones((2, 3), np.float32))
    assert read_fasttext(model_bytes(("ab",), model=model), "x.bin").model.subwords == settings


def test_an_undecodable_word_is_named_unless_asked_to_replace():
    raw = model_bytes(("ok", "c\xe9"))
    data = raw.replace("c\xe9".encode(), b"c\xff")  # same length: one byte each
    assert "dictionary entry 2" in error_of(data)
    assert read_fasttext(data, "x.bin", errors="replace").words == ["ok", "c\ufffd"]


def test_a_regular_file_is_memory_mapped(tmp_path):
    (tmp_path / "x.bin").write_bytes(model_bytes())
    with open(tmp_path / "x.bin", "rb") as stream:
        buffer = fasttext.buffer_of(stream, True)
        assert isinstance(buffer, mmap.mmap)
        assert read_fasttext(buffer, "x.bin").words == ["the", "cat", "sat"]
        buffer.close()


@pytest.mark.parametrize("words, why", [
    (["a", "", "b", ""], "an empty word (row 2)"),
    (["a", "b\0c", "d\0"], "the word 'b\\x00c' (row 2), which holds a NUL character"),
    (["a", "b"], None)])
def test_words_that_cannot_be_written(words, why):
    assert fasttext.check_words(words) == why


def test_float64_rows_are_written_as_float32():
    vectors = np.array([[1 / 3, -2.0], [1e-3, 7.25]])
    out = io.BytesIO()
    write_fasttext(out, ["a", "b"], vectors, None, vectors * 2, None)
    read = read_fasttext(out.getvalue(), "x.bin")
    np.testing.assert_array_equal(read.model.word_rows, vectors.astype(np.float32))
    np.testing.assert_array_equal(read.output, (vectors * 2).astype(np.float32))


# Models built here byte by byte, independently of the writer: labels, other versions and
# arguments the writer never produces (``FastText::saveModel``'s layout, as in the module notes).
def built(words=("a", "b", "c"), labels=(), version=12, dim=2, pruned=-1, **header) -> bytes:
    args = {"dim": dim, "ws": 5, "epoch": 5, "minCount": 1, "neg": 5, "wordNgrams": 1,
            "loss": 2, "model": 2, "bucket": 0, "minn": 0, "maxn": 0, "lrUpdateRate": 100,
            "t": 1e-4} | header
    entries = [(w, 0) for w in words] + [(w, 1) for w in labels]
    raw = struct.pack("<ii", fasttext.MAGIC, version)
    raw += struct.pack("<12id", *(args[k] for k in fasttext.ARG_NAMES), args["t"])
    raw += struct.pack("<iiiqq", len(entries), len(words), len(labels), 99, pruned)
    raw += b"".join(w.encode() + b"\0" + struct.pack("<qb", 7, kind) for w, kind in entries)
    rows = len(words) + args["bucket"]
    input_rows = np.arange(rows * dim, dtype="<f4").reshape(rows, dim)
    out_rows = len(labels) if args["model"] == 3 else len(words)
    output = -np.arange(out_rows * dim, dtype="<f4").reshape(out_rows, dim)
    raw += b"\0" + struct.pack("<qq", rows, dim) + input_rows.tobytes()
    raw += b"\0" + struct.pack("<qq", out_rows, dim) + output.tobytes()
    return raw


def test_a_supervised_model_keeps_its_label_rows_as_output_and_words_as_vocabulary():
    raw = built(labels=("__label__x", "__label__y"), model=3, loss=3, bucket=4)
    read = read_fasttext(raw, "x.bin", limit=1)
    assert read.words == ["a"] and read.counts.tolist() == [7]
    # the output matrix has a row per label, all of them kept whatever the limit
    np.testing.assert_array_equal(read.output, -np.arange(4, dtype=np.float32).reshape(2, 2))
    # maxn 0: the bucket rows (word n-grams of a classifier) are no character n-grams
    assert read.model.subwords == Subwords(0, 0, 0) and read.model.ngrams.shape == (0, 2)
    np.testing.assert_array_equal(read.model.word_rows, [[0, 1]])


def test_a_supervised_model_is_written_again_as_word_vectors_without_its_labels():
    # written as a classifier with no labels but its label rows, fastText's predict crashed
    read = read_fasttext(built(labels=("__label__x", "__label__y"), model=3, loss=3, bucket=4,
                               minn=2, maxn=3, wordNgrams=2), "x.bin")
    out = io.BytesIO()
    write_fasttext(out, read.words, read.model.word_vectors(read.words), read.counts,
                   read.output, read.model)
    raw = out.getvalue()
    # wordNgrams, loss, model and bucket: skip-gram's; three entries, all words
    assert struct.unpack_from("<4i", raw, AT["loss"] - 4) == (1, 2, 2, 4)
    assert struct.unpack_from("<3i", raw, AT["size"]) == (3, 3, 0)
    again = read_fasttext(raw, "y.bin")
    assert again.words == ["a", "b", "c"] and again.model.subwords == Subwords(2, 3, 4)
    np.testing.assert_array_equal(again.model.word_vectors(again.words),
                                  read.model.word_vectors(read.words))
    np.testing.assert_array_equal(again.output, np.zeros((3, 2), np.float32))


def test_a_skipgram_model_cut_by_limit_keeps_the_kept_words_output_rows():
    read = read_fasttext(built(), "x.bin", limit=2)
    np.testing.assert_array_equal(read.output, -np.arange(4, dtype=np.float32).reshape(2, 2))


@pytest.mark.parametrize("version, model, ngrams", [
    (11, 3, False),  # fastText: old supervised models have no character n-grams
    (12, 3, True), (11, 2, True), (12, 2, True)])
def test_only_old_supervised_models_lose_their_character_ngrams(version, model, ngrams):
    raw = built(labels=("__label__x",) if model == 3 else (), version=version, model=model,
                bucket=4, minn=2, maxn=3)
    read = read_fasttext(raw, "x.bin")
    if ngrams:
        assert read.model.subwords == Subwords(2, 3, 4)
        np.testing.assert_array_equal(read.model.ngrams,
                                      np.arange(6, 14, dtype=np.float32).reshape(4, 2))
    else:
        assert read.model.subwords.maxn == 0 and read.model.ngrams.shape == (0, 2)
        # each word's vector is then its own row
        np.testing.assert_array_equal(read.model.word_vectors(read.words),
                                      np.arange(6, dtype=np.float32).reshape(3, 2))


def test_the_other_header_arguments_are_kept_with_their_values():
    raw = built(ws=7, epoch=3, minCount=2, neg=9, wordNgrams=2, loss=1, model=1,
                lrUpdateRate=50, t=0.5, bucket=4, minn=2, maxn=3)
    assert read_fasttext(raw, "x.bin").model.args == {
        "ws": 7, "epoch": 3, "minCount": 2, "neg": 9, "wordNgrams": 2, "loss": 1, "model": 1,
        "lrUpdateRate": 50, "t": 0.5}


ENDS = 92 + 3 * 13  # the end of model_bytes()' dictionary: three words of three letters


@pytest.mark.parametrize("cut, what, size, at", [
    (ENDS, "the quantisation flag", 1, ENDS),
    (ENDS + 1 + 16 + 36, "the output quantisation flag", 1, ENDS + 1 + 16 + 36),
    (ENDS + 1 + 16 + 36 + 1 + 3, "the output matrix's shape", 16, ENDS + 1 + 16 + 36 + 1),
    (ENDS + 2 * (1 + 16) + 36 + 35, "the output matrix (3 x 3 float32)", 36,
     ENDS + 2 * (1 + 16) + 36)])
def test_a_file_cut_after_the_dictionary_names_the_field(cut, what, size, at):
    assert error_of(model_bytes()[:cut]) == (
        f"x.bin: truncated or damaged fastText model: {what} needs {size} bytes at byte {at}, "
        f"but the file ends at byte {cut}")


def test_a_file_cut_in_the_dictionary_says_how_many_entries_it_holds():
    raw = model_bytes()
    # 30 bytes left: room for three entries of the 10 bytes each takes at least, so the
    # entries are looked for, and two of the three are there
    assert error_of(raw[:92 + 30]) == (
        "x.bin: truncated or damaged fastText model: 2 of the 3 dictionary entries found")
    assert error_of(raw[:92 + 29]) == (
        "x.bin: damaged fastText model: a dictionary of 3 entries (3 words, 0 labels) in 29 "
        "bytes")


def _dictionary_sizes(raw: bytes, size: int, nwords: int, nlabels: int) -> bytes:
    data = bytearray(raw)
    struct.pack_into("<iii", data, AT["size"], size, nwords, nlabels)
    return bytes(data)


@pytest.mark.parametrize("nwords, nlabels", [(3, 1), (4, -1), (-1, 4)])
def test_dictionary_sizes_that_do_not_add_up_are_refused(nwords, nlabels):
    assert error_of(_dictionary_sizes(model_bytes(), 3, nwords, nlabels)) == (
        f"x.bin: damaged fastText model: a dictionary of 3 entries ({nwords} words, {nlabels} "
        f"labels) in {len(model_bytes()) - 92} bytes")


def test_a_label_among_the_words_is_refused():
    data = bytearray(model_bytes())
    data[92 + 12] = 1  # the type of the first entry ("the\0", then its count)
    assert error_of(bytes(data)) == ("x.bin: damaged fastText model: a label among the first "
                                     "3 entries, which should be words")


def test_a_pruned_and_a_quantised_model_are_refused_saying_so():
    data = bytearray(model_bytes())
    struct.pack_into("<q", data, 84, 1)  # pruneidx_size: one pruned n-gram
    assert error_of(bytes(data)) == ("x.bin: a pruned (quantised) fastText model: embedkit "
                                     "reads unquantised .bin models only")
    data = bytearray(model_bytes())
    data[ENDS] = 1
    assert error_of(bytes(data)) == (
        "x.bin: a quantised fastText model (made by `fasttext quantize`, usually .ftz): "
        "embedkit reads unquantised .bin models only")


def test_a_pruned_index_of_size_0_is_refused_as_fastText_refuses_it():
    # fastText's isPruned is a size >= 0; with 0 it drops every n-gram hash, and it refuses
    # such a model unquantised ("Invalid model file"): its n-gram rows would be read here
    data = bytearray(model_bytes(model=SubwordModel(
        Subwords(2, 3, 4), np.ones((3, 3), np.float32), np.ones((4, 3), np.float32))))
    struct.pack_into("<q", data, 84, 0)
    assert error_of(bytes(data)) == ("x.bin: a pruned (quantised) fastText model: embedkit "
                                     "reads unquantised .bin models only")
    struct.pack_into("<q", data, 84, -2)  # any negative size: not pruned, read as -1
    assert read_fasttext(bytes(data), "x.bin").words == ["the", "cat", "sat"]


def test_an_undecodable_word_is_named_with_its_file():
    data = model_bytes(("ok", "c\xe9")).replace("c\xe9".encode(), b"c\xff")
    assert error_of(data) == ("x.bin: dictionary entry 2: word is not valid UTF-8 (use "
                              "unicode_errors replace or ignore)")
