"""Facebook fastText's .bin models: read (whatever the suffix), written, and refused when damaged.

tests/data/fasttext/tiny.bin was trained by fastText's own tool and expected.npz holds
fastText's own ``get_word_vector`` of its words and of unseen words (both made by
``benchmarks/check_fasttext_compat.py --make-test-data``, which also checks gensim).
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.formats import read_table, write_table
from embedkit.formats.fasttext import MAGIC
from embedkit.vectors import load_vectors, save_vectors

DATA = Path(__file__).parent / "data" / "fasttext"
TINY = DATA / "tiny.bin"


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA / "expected.npz") as archive:
        return {name: archive[name] for name in archive.files}


def _layout(raw: bytes) -> dict[str, int]:
    """Byte offsets of the fields of a fastText file (parsed here independently)."""
    size = struct.unpack_from("<i", raw, 64)[0]
    pos = 64 + 28
    for _ in range(size):
        pos = raw.index(b"\0", pos) + 1 + 9
    rows, dim = struct.unpack_from("<qq", raw, pos + 1)
    output_at = pos + 1 + 16 + 4 * rows * dim
    return {"size": 64, "quant": pos, "input_shape": pos + 1, "input": pos + 17,
            "qout": output_at, "output_shape": output_at + 1}


def test_fasttexts_own_model_gives_fasttexts_word_vectors_bit_for_bit(expected):
    table = read_table(TINY)
    assert table.format == "fasttext"
    assert table.words == expected["words"].tolist()
    assert "</s>" in table.words  # fastText's end-of-line token is a word of its own
    np.testing.assert_array_equal(table.values, expected["vectors"])


def test_unseen_words_get_fasttexts_vectors_from_their_ngrams(expected):
    kv = load_vectors(TINY)
    assert kv.subwords is not None
    vectors, counts = kv.subwords.unseen_vectors(expected["unseen_words"].tolist())
    np.testing.assert_array_equal(vectors, expected["unseen"])
    assert (counts > 0).all()


@pytest.mark.parametrize("name", ["model.vec", "model", "model.npy.bin", "model.bin.gz"])
def test_found_by_its_magic_number_whatever_the_suffix(tmp_path, expected, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(TINY.read_bytes()))
    else:
        shutil.copy(TINY, path)
    if name.endswith(".npy.bin"):
        path = path.rename(tmp_path / "model.bin")
    np.testing.assert_array_equal(load_vectors(path).vectors, expected["vectors"])


def test_found_on_stdin(monkeypatch, expected):
    import io
    import sys
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TINY.read_bytes())))
    np.testing.assert_array_equal(load_vectors("-").vectors, expected["vectors"])


def test_matrices_of_a_file_are_memory_mapped_not_read():
    table = read_table(TINY)
    assert table.subwords is not None
    for matrix in (table.subwords.ngrams, table.subwords.word_rows, table.output):
        assert not matrix.flags.owndata and not matrix.flags.writeable


def test_a_model_we_write_reads_back_bit_exactly_and_is_fasttexts_file(tmp_path):
    table = read_table(TINY)
    target = tmp_path / "ours.vectors"
    write_table(target, table.values, table.words, counts=table.counts, output=table.output,
                subwords=table.subwords, fmt="fasttext")
    assert target.read_bytes() == TINY.read_bytes()
    again = read_table(target)
    assert again.words == table.words and again.subwords is not None
    for a, b in ((again.values, table.values), (again.output, table.output),
                 (again.counts, table.counts), (again.subwords.ngrams, table.subwords.ngrams)):
        np.testing.assert_array_equal(a, b)


def test_npz_carries_the_ngram_matrix(tmp_path, expected):
    kv = load_vectors(TINY)
    save_vectors(tmp_path / "m.npz", kv.words, kv.vectors, kv.counts, output=kv.output,
                 subwords=kv.subwords)
    again = load_vectors(tmp_path / "m.npz")
    assert again.subwords is not None and again.subwords.subwords == kv.subwords.subwords
    vectors, _ = again.subwords.unseen_vectors(expected["unseen_words"].tolist())
    np.testing.assert_array_equal(vectors, expected["unseen"])
    save_vectors(tmp_path / "back.bin", again.words, again.vectors, again.counts,
                 fmt="fasttext", output=again.output, subwords=again.subwords)
    assert (tmp_path / "back.bin").read_bytes() == TINY.read_bytes()


def test_plain_vectors_become_a_model_without_ngrams(tmp_path):
    words, vectors = ["a", "b c", "日本"], np.arange(6, dtype=np.float32).reshape(3, 2)
    save_vectors(tmp_path / "plain.bin", words, vectors, fmt="fasttext")
    kv = load_vectors(tmp_path / "plain.bin")
    assert kv.words == words
    np.testing.assert_array_equal(kv.vectors, vectors)


def test_words_with_nul_cannot_be_written(tmp_path):
    with pytest.raises(EmbedkitError, match="NUL"):
        save_vectors(tmp_path / "x.bin", ["a\0b"], np.zeros((1, 2)), fmt="fasttext")


def _damaged(tmp_path, raw: bytes) -> Path:
    path = tmp_path / "damaged.bin"
    path.write_bytes(raw)
    return path


def test_bad_magic_reads_as_what_it_is_not(tmp_path):
    raw = bytearray(TINY.read_bytes())
    struct.pack_into("<i", raw, 0, MAGIC + 1)
    with pytest.raises(EmbedkitError) as error:
        read_table(_damaged(tmp_path, bytes(raw)), fmt="fasttext")
    assert "not a fastText model: magic number" in str(error.value)


@pytest.mark.parametrize("field", ["quant", "input_shape", "input", "qout", "output_shape"])
def test_truncated_file_is_one_line_naming_what_is_missing(tmp_path, field):
    raw = TINY.read_bytes()
    cut = _layout(raw)[field] + 3
    with pytest.raises(EmbedkitError) as error:
        read_table(_damaged(tmp_path, raw[:cut]))
    message = str(error.value)
    assert "\n" not in message and "damaged.bin" in message and "truncated" in message


def test_every_cut_of_the_file_is_a_clean_error(tmp_path):
    raw = TINY.read_bytes()
    for cut in range(4, len(raw), 7):
        with pytest.raises(EmbedkitError):
            read_table(_damaged(tmp_path, raw[:cut]))


@pytest.mark.parametrize(("offset", "layout", "value", "expected"), [
    ("size", "<i", 2**31 - 1, "dictionary of 2,147,483,647 entries"),
    ("input_shape", "<q", 2**40, "1,099,511,627,776 x 4"),
    ("output_shape", "<q", 2**40, "1,099,511,627,776 x 4"),
    (0, "<i", 12, "not a fastText model"),
    (4, "<i", 13, "version 13"),
    (8, "<i", 2**30, "dim 1073741824"),
])
def test_absurd_sizes_are_refused_without_allocating_them(tmp_path, offset, layout, value,
                                                          expected):
    raw = bytearray(TINY.read_bytes())
    at = _layout(bytes(raw))[offset] if isinstance(offset, str) else offset
    struct.pack_into(layout, raw, at, value)
    path = _damaged(tmp_path, bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(EmbedkitError, match=expected.replace("(", r"\(")):
            read_table(path, fmt="fasttext")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_quantised_model_is_refused_saying_so(tmp_path):
    raw = bytearray(TINY.read_bytes())
    raw[_layout(bytes(raw))["quant"]] = 1
    with pytest.raises(EmbedkitError, match="quantised fastText model"):
        read_table(_damaged(tmp_path, bytes(raw)))


@pytest.mark.parametrize(("fmt", "reads_as"), [("word2vec", "text"),
                                               ("word2vec-binary", "binary"),
                                               ("npz", "npz"), ("fasttext", "fasttext")])
def test_convert_writes_the_format_named_whatever_the_suffix(tmp_path, cli, fmt, reads_as):
    out = tmp_path / "vectors.out"
    result = cli("convert", TINY, out, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert read_table(out, fmt=None if reads_as == "fasttext" else reads_as).format == reads_as


def test_reading_commands_read_a_fasttext_model(cli, expected):
    result = cli("neighbors", TINY, "café", "-k", "3")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


def test_neighbors_of_an_unseen_word_come_from_its_ngrams_and_stderr_says_so(cli, expected):
    word = str(expected["unseen_words"][0])
    result = cli("neighbors", TINY, word, "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    assert f"{word!r} is not in the vocabulary" in result.stderr and "n-grams" in result.stderr
    kv = load_vectors(TINY)
    vector = expected["unseen"][0]
    cosines = kv.vectors @ vector / np.linalg.norm(kv.vectors, axis=1) / np.linalg.norm(vector)
    best = [kv.words[i] for i in np.argsort(-cosines)[:2]]
    assert [n["word"] for n in json.loads(result.stdout)["neighbors"]] == best


def test_unseen_words_stay_unknown_without_a_subword_model(cli, tmp_path):
    save_vectors(tmp_path / "plain.vec", ["a", "b", "c"], np.eye(3, dtype=np.float32))
    result = cli("neighbors", tmp_path / "plain.vec", "zzz")
    assert result.exit_code == 1 and "unknown word 'zzz'" in result.stderr


def test_a_model_without_ngrams_answers_its_words_and_calls_others_unknown(cli, tmp_path):
    # as fastText's `-maxn 0` writes it: minn 3, maxn 0, bucket 0
    head = bytearray(TINY.read_bytes())
    struct.pack_into("<3i", head, 40, 0, 3, 0)  # bucket, minn, maxn
    words = load_vectors(TINY).words
    rows = np.random.default_rng(0).normal(size=(len(words), 4)).astype("<f4")  # dim 4
    matrix = struct.pack("<qq", *rows.shape) + rows.tobytes()
    (tmp_path / "plain.bin").write_bytes(
        bytes(head[:_layout(bytes(head))["input_shape"]]) + matrix + b"\0" + matrix)
    found = cli("neighbors", tmp_path / "plain.bin", words[0], "zzzz", "-k", "1")
    assert found.exit_code == 1 and found.stdout.startswith(f"{words[0]}\t1\t")
    assert "embedkit: error: query 'zzzz': unknown word 'zzzz'\n" in found.stderr
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{words[0]}\t{words[1]}\t1\n{words[1]}\t{words[2]}\t2\nzzzz\tqqqq\t3\n")
    scored = cli("evaluate", tmp_path / "plain.bin", "--similarity", pairs, "--oov", "ngrams")
    assert scored.exit_code == 0 and "no n-grams" in scored.stderr


def test_evaluate_scores_unseen_words_from_ngrams_and_reports_both_counts(cli, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("café\tcoffee\t7\nthe\tand\t2\nbrûléé\tcrème\t8\nstraßen\tgröße\t4\n"
                     "zzzz\tand\t1\n")
    skip = cli("evaluate", TINY, "--similarity", pairs, "--json")
    ngrams = cli("evaluate", TINY, "--similarity", pairs, "--json", "--oov", "ngrams")
    skipped, scored = (json.loads(r.stdout)["similarity"][0] for r in (skip, ngrams))
    assert (skipped["pairs"], skipped["skipped"], skipped["from_ngrams"]) == (2, 3, 0)
    assert (scored["pairs"], scored["skipped"], scored["from_ngrams"]) == (5, 0, 3)


def test_evaluate_composes_all_unseen_words_in_one_pass(tmp_path, expected, monkeypatch):
    from embedkit.text.subwords import SubwordModel
    from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity

    unseen = expected["unseen_words"].tolist()
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{w}\t{v}\t{i}\n" for i, (w, v) in
                             enumerate(zip(unseen, unseen[1:] + unseen[:1], strict=True))))
    questions = tmp_path / "questions.txt"
    questions.write_text(": one\n" + "".join(f"{' '.join(unseen[i:i + 4])}\n"
                                               for i in range(len(unseen) - 3)))
    calls = []
    compose = SubwordModel.unseen_vectors
    monkeypatch.setattr(SubwordModel, "unseen_vectors",
                        lambda self, words: calls.append(list(words)) or compose(self, words))
    for evaluate, path in ((evaluate_similarity, pairs), (evaluate_analogies, questions)):
        calls.clear()
        kv = load_vectors(TINY)
        result = evaluate(kv, path, oov="ngrams")
        assert result.from_ngrams > 0 and len(calls) == 1  # not one call per word
        rows = [kv.ngram_words[w.lower()] for w in unseen if w.lower() in kv.ngram_words]
        one_by_one = np.array([compose(kv.subwords, [w.lower()])[0][0] for w in unseen
                               if w.lower() in kv.ngram_words])
        np.testing.assert_array_equal(kv.row_vectors(rows), one_by_one)


def test_every_writing_command_takes_format(cli, tmp_path):
    model, codes, decoded = tmp_path / "ae.npz", tmp_path / "codes.out", tmp_path / "back.out"
    result = cli("autoencode", TINY, "--hidden", "2", "--epochs", "2", "-o", model,
                 "--codes", codes, "--format", "word2vec-binary")
    assert result.exit_code == 0, result.output
    assert read_table(codes, fmt="binary").values.shape == (17, 2)
    assert cli("decode", model, codes, "-o", decoded, "--format", "fasttext").exit_code == 0
    assert read_table(decoded).format == "fasttext"
    assert cli("encode", model, TINY, "-o", codes, "--format", "npz").exit_code == 0
    assert read_table(codes, fmt="npz").words == read_table(TINY).words


def test_limit_keeps_a_loadable_model(tmp_path, expected):
    kv = load_vectors(TINY, limit=5)
    assert kv.words == expected["words"].tolist()[:5] and kv.output.shape == (5, 4)
    save_vectors(tmp_path / "five.bin", kv.words, kv.vectors, kv.counts, fmt="fasttext",
                 output=kv.output, subwords=kv.subwords)
    again = load_vectors(tmp_path / "five.bin")
    np.testing.assert_array_equal(again.vectors, expected["vectors"][:5])
