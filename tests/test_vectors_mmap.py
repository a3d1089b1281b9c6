"""Large vector files by memory map: the streamed query, the row norms stored beside a .npy,
the vocabulary read at once, and word lookups before the word -> row dict exists."""

import numpy as np
import pytest

from embedkit import streaming
from embedkit.errors import EmbedkitError
from embedkit.formats import arrays, read_table, write_table
from embedkit.streaming import row_norms
from embedkit.vectors import (
    KeyedVectors,
    UnknownWordError,
    keyed,
    load_vectors,
    query,
    save_vectors,
)
from embedkit.vectors.query import Query, parse_query, top_k

ROWS, DIM = 700, 12


@pytest.fixture
def saved(tmp_path):
    """Clustered vectors (close neighbours exist) with a zero row, saved as .npy + .vocab."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((20, DIM))
    vectors = (centres[rng.integers(0, 20, ROWS)] + 0.3 * rng.standard_normal((ROWS, DIM)))
    vectors = vectors.astype(np.float32)
    vectors[17] = 0
    words = [f"w{i}" for i in range(ROWS)]
    save_vectors(tmp_path / "v.npy", words, vectors)
    return tmp_path / "v.npy", words, vectors


def queries(kv):
    rng = np.random.default_rng(9)
    single = [Query(kv.words[r], (int(r),)) for r in rng.choice(ROWS, 30, replace=False)]
    mixed = [Query("a b -c", (3, 690), (351,)), Query("a b c", (650, 10), (40,))]
    return single + mixed


@pytest.mark.parametrize("method", ["add", "cosmul"])
@pytest.mark.parametrize("restrict", [None, 500])
def test_streamed_query_equals_the_query_in_memory(saved, monkeypatch, method, restrict):
    path, _, _ = saved
    # Blocks of 64 rows: queries' own words and answers fall in different blocks, and k
    # exceeds a block.
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    monkeypatch.setattr(query, "READ_BYTES", 10 * DIM * 4)  # a short last piece per block
    mapped, whole = load_vectors(path, mmap=True), load_vectors(path)
    assert isinstance(mapped.vectors, np.memmap) and not isinstance(whole.vectors, np.memmap)
    for k in (1, 10, 100):
        rows, sims = top_k(mapped, queries(mapped), k, method, restrict)
        expected_rows, expected_sims = top_k(whole, queries(whole), k, method, restrict)
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_allclose(sims, expected_sims, rtol=1e-6)
    # The zero row has cosine 0 with every word (its stored norm 0 is read as 1, not 0/0).
    _, ties = top_k(mapped, [Query("zero", (17,))], 5, method, restrict)
    np.testing.assert_allclose(ties, 0.0 if method == "add" else 0.5 / (1 + 1e-6), rtol=1e-6)


def test_streamed_query_has_fewer_answers_than_k_like_the_query_in_memory(saved, monkeypatch):
    path, _, _ = saved
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    mapped, whole = load_vectors(path, mmap=True, limit=5), load_vectors(path, limit=5)
    rows, sims = top_k(mapped, [Query("w1", (1,))], 8)
    assert rows.tolist() == top_k(whole, [Query("w1", (1,))], 8)[0].tolist()
    assert rows.shape == (1, 5)  # k beyond the 5 words: every word, no more
    assert rows[0, 4:].tolist() == [-1] and np.isneginf(sims[0, 4:]).all()  # w1 itself


def test_norms_are_stored_beside_the_npy_and_used_without_a_pass(saved, monkeypatch, cli):
    path, words, vectors = saved
    stored = path.with_name("v.norms.npz")
    assert stored.exists()

    def no_pass(_):
        raise AssertionError("a pass over the matrix to compute norms")

    monkeypatch.setattr(keyed, "row_norms", no_pass)
    kv = load_vectors(path, mmap=True)
    expected = np.linalg.norm(vectors, axis=1)
    expected[17] = 1
    np.testing.assert_allclose(kv.norms, expected, rtol=1e-6)
    result = cli("neighbors", path, "--mmap", "w3", "-k", "3")
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 3


def test_norms_are_computed_when_none_are_stored(saved):
    path, _, vectors = saved
    path.with_name("v.norms.npz").unlink()
    kv = load_vectors(path, mmap=True)
    np.testing.assert_array_equal(kv.norms[:17], row_norms(vectors)[:17])


def test_stored_norms_of_another_shape_are_one_line_error(saved, cli):
    path, _, vectors = saved
    np.save(path, vectors[:-1])
    path.with_name("v.vocab").write_text("".join(f"w{i}\n" for i in range(ROWS - 1)))
    result = cli("neighbors", path, "--mmap", "w3")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"embedkit: error: {path.with_name('v.norms.npz')}: ")
    assert f"for a matrix of {ROWS - 1} rows" in result.output
    assert "embedkit convert" in result.output


@pytest.mark.parametrize("row", [0, ROWS // 2 - 1, ROWS - 1])
def test_stored_norms_of_another_matrix_of_the_same_shape_are_one_line_error(saved, cli, row):
    path, _, vectors = saved
    changed = vectors.copy()
    changed[row] *= 2
    np.save(path, changed)
    for flags in (["--mmap"], []):
        result = cli("neighbors", path, *flags, "w3")
        assert result.exit_code == 1
        assert result.output.count("\n") == 1
        assert f"v.norms.npz: row {row + 1} has norm" in result.output


def test_an_edited_vocabulary_is_checked_for_duplicates_again(saved):
    path, words, _ = saved
    edited = words.copy()
    edited[5] = "w2"  # same number of lines, one duplicate
    path.with_name("v.vocab").write_text("".join(f"{w}\n" for w in edited))
    with pytest.warns(UserWarning, match="'w2' of line 3 of .* comes again on line 6"):
        kv = load_vectors(path, mmap=True)
    assert len(kv) == ROWS - 1 and kv.words[5] == "w6"
    assert len(kv.norms) == ROWS - 1


def test_duplicate_words_write_no_norms(tmp_path):
    path = tmp_path / "v.npy"
    save_vectors(path, ["a", "b"], np.eye(2, dtype=np.float32))
    assert path.with_name("v.norms.npz").exists()
    write_table(path, np.eye(2, dtype=np.float32), ["a", "a"])
    assert not path.with_name("v.norms.npz").exists()  # no stale norms vouching for them
    with pytest.warns(UserWarning, match="'a' of line 1 of .* comes again on line 2"):
        assert load_vectors(path, mmap=True).words == ["a"]


@pytest.mark.parametrize("content, limit, expected", [
    ("a\nb\nnaïve\n", None, ["a", "b", "naïve"]),
    ("a\nb\nc", None, ["a", "b", "c"]),
    ("\ufeffa\nb\n", 1, ["a"]),
    ("", None, []),
])
def test_plain_vocabulary_is_read_at_once_with_the_same_words(tmp_path, content, limit,
                                                             expected):
    path = tmp_path / "w.vocab"
    path.write_bytes(content.encode())
    assert arrays.read_vocab(path, limit) == (expected, None)


@pytest.mark.parametrize("content, message", [
    (b"a\n\nb\n", "line 2: expected 'word' or 'word count', found 0 fields"),
    (b"a\nb c d\n", "line 2: expected 'word' or 'word count', found 3 fields"),
    (b"a\nb\n\xff\n", "line 3: word is not valid UTF-8"),
])
def test_vocabulary_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "w.vocab"
    path.write_bytes(content)
    with pytest.raises(Exception, match=message):
        arrays.read_vocab(path)


def test_lookups_before_and_after_the_dict_give_the_same_rows():
    words = [f"w{i}" for i in range(200)]
    kv = KeyedVectors(words, np.ones((200, 3), dtype=np.float32), distinct=True)
    asked = [f"w{i}" for i in range(199, -1, -4)][:keyed.SCAN_LOOKUPS + 8]
    assert kv.rows(asked) == [int(w[1:]) for w in asked]
    assert kv._index is not None  # built once the scans were used up
    assert "w150" in kv and "nope" not in kv
    fresh = KeyedVectors(words, np.ones((200, 3), dtype=np.float32), distinct=True)
    assert "nope" not in fresh and "w199" in fresh and fresh._index is None
    with pytest.raises(UnknownWordError, match="unknown word 'nope'"):
        fresh.rows(["w1", "nope"])
    assert parse_query(fresh, "w3 -w4").positive == (3,)


@pytest.mark.parametrize("restrict", [None, 500])
def test_query_words_on_block_boundaries_are_excluded_in_their_own_block(saved, monkeypatch,
                                                                          restrict):
    # A query's word that is the first row of the next block (or the row just past
    # `restrict`) is not in this block: it is excluded where its block is scored.
    path, _, _ = saved
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    mapped, whole = load_vectors(path, mmap=True), load_vectors(path)
    asked = [Query("", (r,)) for r in (63, 64, 128, 448, 500, ROWS - 1)]
    rows, sims = top_k(mapped, asked, 3, restrict=restrict)
    expected_rows, expected_sims = top_k(whole, asked, 3, restrict=restrict)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(sims, expected_sims, rtol=1e-6)


@pytest.mark.parametrize("budget, sizes", [(64 * 5, [5, 5, 2]), (32, [1] * 12)])
def test_streamed_queries_come_in_batches_that_fill_the_score_budget(saved, monkeypatch,
                                                                     budget, sizes):
    # A block of 64 rows: SCORE_BUDGET // 64 queries at a time, and at least one.
    path, _, _ = saved
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    monkeypatch.setattr(query, "SCORE_BUDGET", budget)
    batches, original = [], query._streamed

    def counted(kv, queries, *args):
        batches.append(len(queries))
        return original(kv, queries, *args)

    monkeypatch.setattr(query, "_streamed", counted)
    mapped = load_vectors(path, mmap=True)
    rows, _ = top_k(mapped, [Query("", (r,)) for r in range(12)], 2)
    assert batches == sizes and len(rows) == 12


def test_a_npy_written_without_words_removes_the_sidecars_of_the_matrix_it_replaces(saved):
    path, words, vectors = saved
    assert path.with_name("v.vocab").exists() and path.with_name("v.norms.npz").exists()
    with pytest.warns(UserWarning, match=r"v\.npy: written without words: removed .*v\.vocab "
                                         r"and .*v\.norms\.npz"):
        write_table(path, vectors[::-1].copy())
    assert not path.with_name("v.vocab").exists()
    assert not path.with_name("v.norms.npz").exists()
    table = read_table(path)
    assert table.words is None and table.norms is None
    with pytest.raises(EmbedkitError, match="needs a vocabulary file"):
        load_vectors(path, mmap=True)
    # Written with words again, the new vocabulary and norms go with the new matrix.
    save_vectors(path, words[::-1], vectors[::-1])
    kv = load_vectors(path, mmap=True)
    assert kv.words == words[::-1]
    np.testing.assert_array_equal(kv.vectors, vectors[::-1])
    np.testing.assert_allclose(kv.norms[:5], row_norms(vectors[::-1][:5]), rtol=1e-6)


def test_a_matrix_written_elsewhere_leaves_other_sidecars_alone(saved, recwarn):
    path, _, vectors = saved
    write_table(path.with_name("other.npy"), vectors)
    assert path.with_name("v.vocab").exists() and path.with_name("v.norms.npz").exists()
    assert not recwarn.list


def streamed_answers(kv, monkeypatch):
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    monkeypatch.setattr(query, "READ_BYTES", 10 * DIM * 4)
    return top_k(kv, queries(kv), 10)


def test_rows_are_read_from_the_mapped_file_and_other_maps_are_copied(saved, tmp_path,
                                                                      monkeypatch):
    path, words, vectors = saved
    expected = top_k(load_vectors(path), queries(load_vectors(path)), 10)
    mapped = load_vectors(path, mmap=True)
    with streaming.RowReader(mapped.vectors[5:]) as reader:
        assert reader._fd is not None  # read with pread, not through the map
        np.testing.assert_array_equal(reader.read(690, np.empty((8, DIM), np.float32)),
                                      vectors[695:])
    # A map that embedkit did not open (no recorded file) is copied from the map.
    np.save(tmp_path / "raw.npy", vectors)
    raw = KeyedVectors(words, np.load(tmp_path / "raw.npy", mmap_mode="r"), distinct=True)
    with streaming.RowReader(raw.vectors) as reader:
        assert reader._fd is None
    # An .npz member is read from the archive at its offset.
    np.savez(tmp_path / "v.npz", words=np.array(words), vectors=vectors)
    member = load_vectors(tmp_path / "v.npz", mmap=True)
    for kv in (mapped, raw, member):
        rows, sims = streamed_answers(kv, monkeypatch)
        np.testing.assert_array_equal(rows, expected[0])
        np.testing.assert_allclose(sims, expected[1], rtol=1e-6)


def test_a_file_replaced_after_mapping_is_not_read(saved, monkeypatch):
    path, words, vectors = saved
    expected = top_k(load_vectors(path), queries(load_vectors(path)), 10)
    mapped = load_vectors(path, mmap=True)
    np.save(path.with_name("new.npy"), vectors[::-1].copy())
    path.with_name("new.npy").replace(path)  # as every writer replaces a file
    with streaming.RowReader(mapped.vectors) as reader:
        assert reader._fd is None  # the name leads to another file now
    rows, _ = streamed_answers(mapped, monkeypatch)
    np.testing.assert_array_equal(rows, expected[0])


def test_a_file_truncated_after_mapping_is_an_error(saved):
    path, _, _ = saved
    mapped = load_vectors(path, mmap=True)
    with open(path, "r+b") as stream:
        stream.truncate(200 * DIM * 4)
    with streaming.RowReader(mapped.vectors) as reader, \
            pytest.raises(EmbedkitError, match=r"v\.npy: the file ended at byte \d+ while"):
        reader.read(190, np.empty((20, DIM), np.float32))


@pytest.mark.parametrize("counts", [False, True])
def test_a_npy_vocabulary_is_read_in_nfc_and_nfc_duplicates_are_dropped(tmp_path, counts):
    path = tmp_path / "v.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(4, 3))
    words = ["cafe\u0301", "nai\u0308ve", "caf\u00e9", "tea"]
    path.with_name("v.vocab").write_text(
        "".join(f"{w} {i + 1}\n" if counts else f"{w}\n" for i, w in enumerate(words)),
        encoding="utf-8")
    assert arrays.read_vocab(path.with_name("v.vocab"))[0] == ["caf\u00e9", "na\u00efve",
                                                              "caf\u00e9", "tea"]
    with pytest.warns(UserWarning, match="'café' of line 1 of .* comes again on line 3"):
        kv = load_vectors(path, mmap=True)
    assert kv.words == ["caf\u00e9", "na\u00efve", "tea"]
    np.testing.assert_array_equal(kv.vectors[2], [9, 10, 11])


def test_the_query_commands_do_not_import_scipy():
    """A quarter of a second of the first answer: SciPy is for subword models and training."""
    import subprocess
    import sys

    code = ("import sys, embedkit.cli.vectors, embedkit.vectors; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "[]\n"


def test_line_words_look_up_and_decode_like_the_list():
    words = ["w1", "w12", "caf\u00e9", "w1x", "x", "w1"]
    lazy = arrays.LineWords("".join(f"{w}\n" for w in words).encode())
    assert len(lazy) == 6 and lazy[2] == "caf\u00e9" and lazy[-1] == "w1"
    assert [lazy.index(w) for w in ("w1", "w12", "caf\u00e9", "w1x", "x")] == [0, 1, 2, 3, 4]
    assert lazy.index("w1", 1) == 5
    for missing in ("w", "1", "w12\nx", "w1\nw12", "", "caf"):
        assert missing not in lazy
        with pytest.raises(ValueError):
            lazy.index(missing)
    with pytest.raises(IndexError):
        lazy[6]
    assert lazy == words and list(lazy) == words and lazy[1:3] == ["w12", "caf\u00e9"]
    assert arrays.LineWords(b"") == [] and len(arrays.LineWords(b"")) == 0


def test_a_mapped_matrix_keeps_its_words_as_text_and_answers_the_same(saved, monkeypatch):
    path, words, _ = saved
    mapped, whole = load_vectors(path, mmap=True), load_vectors(path)
    assert isinstance(mapped.words, arrays.LineWords) and isinstance(whole.words, list)
    asked = [parse_query(kv, "w5 w680 -w17") for kv in (mapped, whole)]
    assert asked[0] == asked[1]
    answers = [query.answer(kv, ["w5", "w699 -w3", "nope"]) for kv in (mapped, whole)]
    assert answers[0] == answers[1] and answers[0][2].error == "query 'nope': unknown word 'nope'"
    assert mapped.words._list is None and mapped._index is None  # no list, no dict needed
    assert mapped.words[:] == words


def test_streamed_query_scores_blocks_of_stream_bytes_read_in_pieces_of_read_bytes(
        saved, monkeypatch):
    # The documented memory bound: one block of STREAM_BYTES of rows scored at a time per
    # thread, read READ_BYTES at a time (not the default block size, not row by row).
    path, _, _ = saved
    monkeypatch.setattr(query, "STREAM_BYTES", 64 * DIM * 4)
    monkeypatch.setattr(query, "READ_BYTES", 16 * DIM * 4)
    scored, bests = [], []
    block_scores, best = query._block_scores, query._best

    def counted_scores(rows, *args):
        scored.append(len(rows))
        return block_scores(rows, *args)

    def counted_best(matrix, *args):
        bests.append(len(matrix))
        return best(matrix, *args)

    monkeypatch.setattr(query, "_block_scores", counted_scores)
    monkeypatch.setattr(query, "_best", counted_best)
    top_k(load_vectors(path, mmap=True), [Query("w3", (3,))], 5)
    assert sorted(bests) == [ROWS - 640] + [64] * 10
    assert sorted(scored) == [ROWS - 640 - 48] + [16] * 43


@pytest.fixture
def non_finite(saved):
    """The saved matrix with one entry far into it made ``value`` (no stored norms: the file
    is edited by hand, as another tool would write it)."""
    path, words, vectors = saved

    def write(value):
        bad = vectors.copy()
        bad[650, 4] = value
        np.save(path, bad)
        path.with_name("v.norms.npz").unlink(missing_ok=True)
        return path
    return write


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("command", [
    ["neighbors", "w650", "--json"],    # the bad row as the query: its answers were []
    ["neighbors", "w3", "--json"],      # another query: the bad row ranked among the rest
    ["analogy", "w1", "w2", "w650"],    # printed nothing
    ["analogy", "w1", "w2", "w3"],
])
def test_a_mapped_matrix_with_a_non_finite_entry_is_one_line_error(non_finite, cli, value,
                                                                    command):
    path = non_finite(value)
    expected = f"embedkit: error: {path}: row 651, column 5: {value}; expected finite"
    unmapped = cli(command[0], path, *command[1:])
    assert unmapped.exit_code == 1 and unmapped.output.startswith(expected)
    result = cli(command[0], path, *command[1:], "--mmap")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(expected) and result.output.count("\n") == 1


def test_evaluate_on_a_mapped_matrix_names_a_non_finite_entry_of_any_row(non_finite, cli,
                                                                         tmp_path):
    path = non_finite(np.nan)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("w1\tw2\t1\nw3\tw650\t2\nw5\tw6\t3\n")
    result = cli("evaluate", path, "--mmap", "--similarity", pairs, "--json")
    assert result.exit_code == 1, result.output  # reported undefined before, exit 0
    assert f"embedkit: error: {path}: row 651, column 5: nan; expected finite" in \
        result.output

    # Pairs of finite rows only: refused as without --mmap (they were answered, exit 0).
    pairs.write_text("w1\tw2\t1\nw3\tw4\t2\nw5\tw6\t3\n")
    for flags in ([], ["--mmap"]):
        result = cli("evaluate", path, *flags, "--similarity", pairs, "--json")
        assert result.exit_code == 1, result.output
        assert result.output == \
            f"embedkit: error: {path}: row 651, column 5: nan; expected finite numbers\n"


def test_evaluate_on_a_mapped_matrix_with_stored_norms_checks_only_their_bad_rows(
        saved, cli, tmp_path, monkeypatch):
    path, _, vectors = saved
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("w1\tw2\t1\nw3\tw4\t2\nw5\tw6\t3\n")

    def no_pass(_):
        raise AssertionError("a pass over the matrix to compute norms")

    monkeypatch.setattr(keyed, "row_norms", no_pass)
    result = cli("evaluate", path, "--mmap", "--similarity", pairs, "--json")
    assert result.exit_code == 0, result.output


def test_norms_of_a_mapped_matrix_name_the_first_non_finite_entry(non_finite):
    path = non_finite(np.nan)
    kv = load_vectors(path, mmap=True)
    with pytest.raises(EmbedkitError) as error:
        kv.norms  # noqa: B018 (the property reads every row)
    assert str(error.value) == f"{path}: row 651, column 5: nan; expected finite numbers"


def _restore_norms(path, edit):
    """Rewrite ``path``'s stored norms after ``edit(norms)``, keeping their checksum."""
    stored = path.with_name("v.norms.npz")
    with np.load(stored) as archive:
        content = dict(archive)
    edit(content["norms"])
    np.savez(stored, **content)


@pytest.mark.parametrize("value", [np.nan, -1.0])
@pytest.mark.parametrize("flags", [["--mmap"], []])
def test_stored_norms_with_nan_or_a_negative_norm_for_a_finite_row_are_one_line_error(
        saved, cli, value, flags):
    # Row 301 is none of the first, middle and last rows checked: NaN went through and every
    # cosine with it was NaN.
    path, _, _ = saved
    _restore_norms(path, lambda norms: norms.__setitem__(300, value))
    result = cli("neighbors", path, *flags, "w3")
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith(
        f"embedkit: error: {path.with_name('v.norms.npz')}: row 301 has norm {value:.7g} "
        "stored but ")
    assert "norms of another matrix; delete it" in result.output


@pytest.mark.parametrize("row", [0, 300])
def test_stored_nan_norm_of_a_nan_row_names_the_entry_not_the_stored_norms(saved, cli, row):
    # The first row was probed and NaN differed from NaN: 'norms of another matrix'.
    path, words, vectors = saved
    bad = vectors.copy()
    bad[row, 4] = np.nan
    save_vectors(path, words, bad)
    result = cli("neighbors", path, "--mmap", "w3")
    assert result.exit_code == 1, result.output
    assert result.output == \
        f"embedkit: error: {path}: row {row + 1}, column 5: nan; expected finite numbers\n"


def test_unit_rows_of_a_mapped_float64_matrix_are_float32(tmp_path):
    # a .npy of doubles stays doubles when mapped: its unit rows are float32 all the same
    # (the scores' precision), as a matrix read whole (cast at load) gives them
    vectors = np.random.default_rng(2).standard_normal((5, 4))
    write_table(tmp_path / "v.npy", vectors, list("abcde"), need_words=True)
    kv = load_vectors(tmp_path / "v.npy", mmap=True)
    assert kv.vectors.dtype == np.float64
    unit = kv.unit([4, 0])
    assert unit.dtype == np.float32
    np.testing.assert_array_equal(unit, load_vectors(tmp_path / "v.npy").unit([4, 0]))
