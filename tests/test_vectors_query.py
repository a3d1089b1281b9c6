"""Neighbours and analogies on hand-built vectors with known answers, and the CLI around them."""

import json
import select
import subprocess
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.vectors import KeyedVectors, load_vectors, save_vectors
from embedkit.vectors import query as query_module
from embedkit.vectors.query import (
    BLOCK,
    Query,
    _candidate_rows,
    analogy_query,
    answer,
    parse_analogy,
    parse_query,
    query_vectors,
    scores,
    top_k,
)

# Axes: royalty, gender (+ male), fruit. king - man + woman lands on queen.
HAND = {
    "king": [1.0, 1.0, 0.0], "queen": [1.0, -1.0, 0.0], "man": [0.0, 1.0, 0.0],
    "woman": [0.0, -1.0, 0.0], "apple": [0.0, 0.0, 1.0], "pear": [0.1, 0.0, 1.0],
    "prince": [0.9, 1.1, 0.1],
}


@pytest.fixture
def kv():
    return KeyedVectors(list(HAND), np.array(list(HAND.values()), dtype=np.float32))


def words(kv, query, k=3, method="add"):
    rows, _ = top_k(kv, [query], k, method)
    return [kv.words[r] for r in rows[0]]


def test_neighbours_known_answers(kv):
    assert words(kv, parse_query(kv, "apple"), 1) == ["pear"]
    assert words(kv, parse_query(kv, "king"), 1) == ["prince"]
    rows, sims = top_k(kv, [parse_query(kv, "apple")], 2)
    assert sims[0, 0] == pytest.approx(1 / np.sqrt(1.01), abs=1e-6)


def test_query_words_are_excluded_and_signs_apply(kv):
    assert "king" not in words(kv, parse_query(kv, "king"), 6)
    assert words(kv, parse_query(kv, "king -man woman"), 1) == ["queen"]
    # the mean of two words: king + queen is pure royalty, closest to prince among the rest
    assert words(kv, parse_query(kv, "king queen"), 1) == ["prince"]


def test_analogy_add_and_cosmul_differ_where_they_should():
    # a:b :: c:? with orthogonal a, b, c. "balanced" is close to b and c and far from a:
    # 3CosAdd prefers it; "anti_a" is exactly opposite a, so 3CosMul's denominator
    # (1 + cos(x, a)) / 2 + 1e-6 is almost 0 and it wins there.
    names = ["a", "b", "c", "balanced", "anti_a"]
    matrix = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-0.5, 0.5, 0.5], [-1, 0, 0]],
                      dtype=np.float32)
    kv = KeyedVectors(names, matrix)
    query = analogy_query(kv, "a", "b", "c")
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    cos = unit @ unit[:3].T  # candidates x (a, b, c)
    add = cos[3:] @ [-1, 1, 1]
    mul = (1 + cos[3:, 1]) / 2 * (1 + cos[3:, 2]) / 2 / ((1 + cos[3:, 0]) / 2 + 1e-6)
    assert names[3 + add.argmax()] == "balanced" and names[3 + mul.argmax()] == "anti_a"
    assert words(kv, query, 1, "add") == ["balanced"]
    assert words(kv, query, 1, "cosmul") == ["anti_a"]
    _, sims = top_k(kv, [query], 2, "cosmul")
    np.testing.assert_allclose(sims[0], sorted(mul, reverse=True), rtol=1e-5)


def test_batched_top_k_equals_brute_force():
    # Large enough vocabulary for the two-level (block maxima) search to be used.
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((3000, 16)).astype(np.float32)
    kv = KeyedVectors([f"w{i}" for i in range(3000)], matrix)
    queries = [parse_query(kv, f"w{i} -w{i + 1} w{i + 2}") for i in range(0, 600, 3)]
    rows, sims = top_k(kv, queries, 7, restrict=2500)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    for query, got, got_sims in zip(queries, rows, sims, strict=True):
        mean = unit[list(query.positive)].sum(0) - unit[list(query.negative)].sum(0)
        cos = unit[:2500] @ (mean / np.linalg.norm(mean))
        cos[list(query.positive + query.negative)] = -np.inf
        expected = np.argsort(-cos)[:7]
        assert got.tolist() == expected.tolist()
        np.testing.assert_allclose(got_sims, cos[expected], atol=1e-5)


def test_unknown_words_and_bad_lines_are_reported_per_query(kv):
    answers = answer(kv, ["apple", "", "kiwi apple"])
    assert [a.query for a in answers] == ["apple", "kiwi apple"]
    assert answers[0].neighbors[0][0] == "pear" and answers[0].error is None
    assert "unknown word 'kiwi'" in answers[1].error


@pytest.fixture
def vec_file(tmp_path, kv):
    path = tmp_path / "hand.txt"
    save_vectors(path, kv.words, kv.vectors)
    return str(path)


def test_cli_neighbors_tsv_json_and_failures(vec_file):
    runner = CliRunner()
    result = runner.invoke(main, ["neighbors", vec_file, "apple", "-k", "2"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0].split("\t")
    assert first[:3] == ["apple", "1", "pear"] and float(first[3]) == pytest.approx(0.995037, 1e-5)
    result = runner.invoke(main, ["neighbors", vec_file, "--json", "-k", "1"],
                           input="king -man woman\nkiwi\napple\n")
    assert result.exit_code == 1
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["query"] for d in docs] == ["king -man woman", "apple"]
    assert docs[0]["neighbors"][0]["word"] == "queen"
    assert result.stderr.strip() == "embedkit: error: query 'kiwi': unknown word 'kiwi'"


def test_cli_analogy(vec_file):
    runner = CliRunner()
    result = runner.invoke(main, ["analogy", vec_file, "man", "king", "woman", "-k", "1"])
    assert result.exit_code == 0 and result.output.startswith("man king woman\t1\tqueen\t")
    result = runner.invoke(main, ["analogy", vec_file, "--method", "cosmul", "-k", "1"],
                           input="man king woman\nman king\n")
    assert result.exit_code == 1
    assert result.stdout.startswith("man king woman\t1\tqueen\t")
    assert "expected three words" in result.stderr
    assert runner.invoke(main, ["analogy", vec_file, "man", "king"]).exit_code == 2


def test_stdin_queries_stream(vec_file):
    """The first answer must appear while stdin is still open."""
    process = subprocess.Popen([sys.executable, "-m", "embedkit", "neighbors", vec_file, "-k",
                                "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        process.stdin.write(b"apple\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "no answer within 60 s while stdin stayed open"
        assert process.stdout.readline().startswith(b"apple\t1\tpear\t")
        assert process.poll() is None  # still running: stdin is open
        process.stdin.write(b"king -man woman\n")
        process.stdin.close()
        assert process.stdout.readline().startswith(b"king -man woman\t1\tqueen\t")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.wait()


def test_queries_are_compared_in_nfc():
    kv = KeyedVectors(["café", "tea", "naïve"], np.eye(3, dtype=np.float32))
    assert parse_query(kv, "cafe\u0301 -nai\u0308ve").positive == (0,)
    assert parse_query(kv, "cafe\u0301 -nai\u0308ve").negative == (2,)
    assert parse_analogy(kv, "cafe\u0301 tea nai\u0308ve").positive == (1, 2)


def test_cosines_of_long_vectors_do_not_overflow_float32(tmp_path):
    """Values of 3e30 square beyond float32's range: their lengths are taken in float64, so
    the cosines are right (they were 0, with overflow warnings)."""
    from embedkit.vectors import load_vectors
    from embedkit.vectors.query import scores

    path = tmp_path / "long.vec"
    path.write_text("3 2\na 3e30 3e30\nb 1 2\nc -3e30 1\n")
    kv = load_vectors(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cosines = scores(kv, [parse_query(kv, "b")])[:, 0]
    assert cosines == pytest.approx([3 / np.sqrt(10), 1, -1 / np.sqrt(5)], rel=1e-5)


def test_tsv_output_escapes_tabs_and_line_breaks_in_words(tmp_path):
    """A word may hold a tab (words end at a space in a vector file, and anywhere goes in
    .npz): in the TSV output it is escaped, so every row keeps its four fields."""
    path = tmp_path / "odd.npz"
    words = ["tab\there", "back\\slash", "carriage\rreturn", "plain"]
    save_vectors(path, words, np.eye(4, dtype=np.float32) + 0.1)
    result = CliRunner().invoke(main, ["neighbors", str(path), "plain", "-k", "3"])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [len(row) for row in rows] == [4, 4, 4]
    assert {row[2] for row in rows} == {"tab\\there", "back\\\\slash", "carriage\\rreturn"}
    result = CliRunner().invoke(main, ["neighbors", str(path), "plain", "-k", "3", "--json"])
    assert {n["word"] for n in json.loads(result.stdout)["neighbors"]} == set(words[:3])


def test_stdin_queries_with_bad_bytes_stop_with_their_line_and_byte(vec_file):
    """Through a pipe (answered as it arrives), as the CLI runner's stdin is not."""
    process = subprocess.run([sys.executable, "-m", "embedkit", "neighbors", vec_file, "-k",
                              "1"], input=b"apple\nki\xe9ng\n", capture_output=True, timeout=120)
    assert process.returncode == 1  # before: U+FFFD, "unknown word 'ki\ufffdng'"
    assert process.stderr.decode() == ("embedkit: error: <stdin>: line 2, byte 9: not valid "
                                       "UTF-8 text (invalid continuation byte)\n")
@pytest.mark.parametrize("through", ["pipe", "runner"])
@pytest.mark.parametrize("command, lines, query", [
    ("neighbors", b"apple\nking -man woman\n", "apple"),
    ("analogy", b"man king woman\napple pear apple\n", "man king woman")])
def test_answers_before_a_bad_line_are_printed_then_its_line_is_named(vec_file, through,
                                                                      command, lines, query):
    """The lines read before an undecodable one are answered (they came in the same batch,
    which was dropped whole); then one line names stdin's line, status 1. Through a pipe
    (read as it arrives) and through the CLI runner (a stream without a descriptor)."""
    data = lines + b"ki\xe9ng\nbanana\n"
    if through == "pipe":
        done = subprocess.run([sys.executable, "-m", "embedkit", command, vec_file, "-k", "1"],
                              input=data, capture_output=True, timeout=120)
        status, out, err = done.returncode, done.stdout.decode(), done.stderr.decode()
    else:
        result = CliRunner().invoke(main, [command, vec_file, "-k", "1"], input=data)
        status, out, err = result.exit_code, result.stdout, result.stderr
    assert status == 1
    answered = [line.split("\t")[0] for line in out.splitlines()]
    assert answered == [query, lines.decode().splitlines()[1]]
    assert err == (f"embedkit: error: <stdin>: line 3, byte {len(lines) + 3}: not valid UTF-8 "
                   "text (invalid continuation byte)\n")


@pytest.mark.parametrize("args", [["neighbors", "-"], ["analogy", "-"],
                                  ["neighbors", "VEC", "--vocab", "-"]])
def test_vectors_from_stdin_need_the_queries_as_arguments(vec_file, args):
    """Stdin holds the vectors, so it holds no queries: one line says so before anything is
    read (it used to read every line as vectors, answer nothing and exit 0)."""
    args = [vec_file if a == "VEC" else a for a in args]
    with open(vec_file, "rb") as f:
        result = CliRunner().invoke(main, args, input=f.read())
    assert result.exit_code == 2 and result.stdout == ""
    reader = "--vocab" if "--vocab" in args else "VECTORS"
    assert result.stderr == (f"embedkit: error: {reader} is read from stdin (-), which then "
                             "holds no queries: give the queries as arguments\n")


@pytest.mark.parametrize("name", ["/dev/stdin", "/dev/fd/0", "file"])
@pytest.mark.parametrize("command", ["neighbors", "analogy"])
def test_vectors_from_stdin_by_another_name_need_the_queries_as_arguments(vec_file, command,
                                                                          name):
    """``/dev/stdin``, ``/dev/fd/0`` (stdin a pipe) or the file stdin is redirected from: the
    vectors were read as queries too, or nothing was answered (exit 0)."""
    with open(vec_file, "rb") as f:
        data = f.read()
    given = vec_file if name == "file" else name
    with open(vec_file, "rb") as f:
        done = subprocess.run([sys.executable, "-m", "embedkit", command, given],
                              capture_output=True, timeout=120,
                              **({"stdin": f} if name == "file" else {"input": data}))
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode() == (f"embedkit: error: VECTORS is read from stdin ({given} is "
                                    "stdin), which then holds no queries: give the queries as "
                                    "arguments\n")


def test_vectors_from_stdin_answer_the_queries_given_as_arguments(vec_file):
    with open(vec_file, "rb") as f:
        result = CliRunner().invoke(main, ["neighbors", "-", "apple", "-k", "1"], input=f.read())
    assert result.exit_code == 0 and result.stdout.startswith("apple\t1\tpear\t")


# ---------------------------------------------------------------- answer(): many lines at once

def test_answer_follows_the_method_and_k(kv):
    lines = ["king -man woman"]
    for method in ("add", "cosmul"):
        [got] = answer(kv, lines, k=2, method=method)
        rows, sims = top_k(kv, [parse_query(kv, lines[0])], 2, method)
        assert got.neighbors == [(kv.words[r], pytest.approx(float(s)))
                                 for r, s in zip(rows[0], sims[0], strict=True)]
    add = answer(kv, ["apple -pear king"], k=4)[0].neighbors
    cosmul = answer(kv, ["apple -pear king"], k=4, method="cosmul")[0].neighbors
    assert [s for _, s in add] != [s for _, s in cosmul]
    assert len(answer(kv, ["apple"])[0].neighbors) == 6  # k=10 by default, 6 other words
    many = KeyedVectors([f"w{i}" for i in range(15)],
                        np.random.default_rng(0).standard_normal((15, 4)).astype(np.float32))
    assert len(answer(many, ["w0"])[0].neighbors) == 10


def test_answers_keep_the_order_of_the_lines_around_errors(kv):
    lines = ["apple", "nosuchword", "", "queen", "man", "-king"]
    got = answer(kv, lines, k=1)
    assert [a.query for a in got] == ["apple", "nosuchword", "queen", "man", "-king"]
    assert [a.neighbors for a in got] == [
        [("pear", pytest.approx(1 / np.sqrt(1.01), abs=1e-6))], [],
        [("woman", pytest.approx(1 / np.sqrt(2), abs=1e-6))],
        [("prince", pytest.approx(1.1 / np.sqrt(2.03), abs=1e-6))], []]
    assert got[1].error.startswith("query 'nosuchword': ")
    nothing_added = "no word to add: every word is subtracted (-word)"
    assert got[4].error == f"query '-king': {nothing_added}"
    with pytest.raises(EmbedkitError) as error:
        parse_query(kv, " -king ")
    assert str(error.value) == nothing_added
    assert all(a.error is None for a in (got[0], got[2], got[3]))


def test_the_most_frequent_word_can_be_an_answer(kv):
    # row 0 is a real word, not padding
    assert answer(kv, ["prince"], k=1)[0].neighbors[0][0] == "king"


def test_only_errors_answer_without_searching(kv):
    def search(queries, k):  # an approximate index need not accept an empty batch
        raise AssertionError(f"searched {queries}")

    got = answer(kv, ["nosuchword", "-apple"], k=3, search=search)
    assert [a.neighbors for a in got] == [[], []] and all(a.error for a in got)


def test_a_lone_dash_is_a_word_and_one_letter_words_can_be_subtracted():
    kv = KeyedVectors(["a", "-", "b"], np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    query = parse_query(kv, "b -a -")
    assert query.positive == (2, 1) and query.negative == (0,)


# ------------------------------------------ mutation survivors (benchmarks/mutation.sh vectors)

def test_query_vectors_sum_in_float32_and_normalise_in_float64_bit_for_bit():
    # The documented arithmetic, gensim's: a float64 sum (query_vectors' mean in float64),
    # a mean scaled by the count instead of divided (same direction, other roundings) or a
    # float64 result each change some of the 300 components' last bits.
    rng = np.random.default_rng(3)
    kv = KeyedVectors([f"w{i}" for i in range(20)],
                      rng.standard_normal((20, 300)).astype(np.float32))
    queries = [parse_query(kv, "w0 w1 -w2"), parse_query(kv, "w3 w4")]
    got = query_vectors(kv, queries)
    assert got.dtype == np.float32
    for query, row in zip(queries, got, strict=True):
        mean = np.zeros((1, 300), dtype=np.float32)
        for r in query.positive:
            mean += kv.unit(np.array([r]))
        for r in query.negative:
            mean -= kv.unit(np.array([r]))
        mean /= np.float32(len(query.positive) + len(query.negative))
        as64 = mean.astype(np.float64)
        expected = (as64 / np.sqrt((as64 * as64).sum(axis=1, keepdims=True))).astype(np.float32)
        assert np.array_equal(row, expected[0])


def test_a_query_that_cancels_out_scores_every_word_zero(kv):
    # "apple -apple" has a zero mean: every cosine is 0 (a zero length read as 1), not NaN
    # (0 / 0: no answers) or an error.
    got = answer(kv, ["apple -apple"], k=3)[0]
    assert got.error is None and [s for _, s in got.neighbors] == [0.0, 0.0, 0.0]
    assert "apple" not in [w for w, _ in got.neighbors]


def test_answers_and_scores_have_the_documented_dtypes(kv):
    # rows as float (words[2.0] fails), float64 similarities or scores (twice the memory
    # SCORE_BUDGET allows) are all bugs.
    queries = [parse_query(kv, "king -man woman"), parse_query(kv, "apple")]
    for method in ("add", "cosmul"):
        rows, sims = top_k(kv, queries, 3, method)
        assert rows.dtype == np.intp and sims.dtype == np.float32
        assert scores(kv, queries, method).dtype == np.float32


def test_bad_method_and_k_are_one_line_messages(kv):
    query = parse_query(kv, "apple")
    with pytest.raises(EmbedkitError) as error:
        top_k(kv, [query], method="cosine")
    assert str(error.value) == "unknown method 'cosine': expected one of add, cosmul"
    with pytest.raises(EmbedkitError) as error:
        top_k(kv, [query], k=0)
    assert str(error.value) == "-k must be at least 1, got 0"


def test_cosmul_in_a_batch_equals_cosmul_alone_and_the_formula():
    # Queries of different widths are padded together: a padding slot must weigh 1 (not NaN,
    # not 2), and every negative word multiplies the denominator (not replaces it).
    rng = np.random.default_rng(4)
    matrix = rng.standard_normal((40, 8)).astype(np.float32)
    kv = KeyedVectors([f"w{i}" for i in range(40)], matrix)
    queries = [parse_query(kv, "w0"), parse_query(kv, "w1 w2 -w3 -w4"),
               parse_query(kv, "w5 -w6")]
    rows, sims = top_k(kv, queries, 5, "cosmul")
    for i, query in enumerate(queries):
        alone_rows, alone_sims = top_k(kv, [query], 5, "cosmul")
        assert rows[i].tolist() == alone_rows[0].tolist()
        np.testing.assert_allclose(sims[i], alone_sims[0], rtol=1e-6)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    shifted = (1 + unit @ unit.T) / 2
    expected = shifted[:, 1] * shifted[:, 2] / (shifted[:, 3] * shifted[:, 4] + 1e-6)
    expected[[1, 2, 3, 4]] = -np.inf
    assert rows[1].tolist() == np.argsort(-expected)[:5].tolist()
    np.testing.assert_allclose(sims[1], np.sort(expected)[::-1][:5], rtol=1e-5)


@pytest.mark.parametrize("n_words, budget, sizes", [
    (10, 25, [2, 2, 1]),   # as many queries per product as the budget holds
    (10, 5, [1] * 5),      # at least one, even when one query's scores exceed it
    (1, 5, [5]),           # a one-word vocabulary
])
def test_queries_are_scored_in_batches_that_fill_the_score_budget(monkeypatch, n_words,
                                                                  budget, sizes):
    kv = KeyedVectors([f"w{i}" for i in range(n_words)],
                      np.random.default_rng(0).standard_normal((n_words, 4)).astype(np.float32))
    batches, original = [], query_module.scores

    def counted(kv, queries, *args):
        batches.append(len(queries))
        return original(kv, queries, *args)

    monkeypatch.setattr(query_module, "SCORE_BUDGET", budget)
    monkeypatch.setattr(query_module, "scores", counted)
    rows, _ = top_k(kv, [parse_query(kv, "w0")] * 5, 1)
    assert batches == sizes and len(rows) == 5


def test_candidate_rows_are_the_k_best_blocks_or_every_row():
    rng = np.random.default_rng(6)
    matrix = rng.standard_normal((1000, 3)).astype(np.float32)
    got = _candidate_rows(matrix, 2)  # 16 blocks of 64: the rows of the best 2 blocks
    assert got.shape == (3, 2 * BLOCK)
    for column in range(3):
        assert set(np.argsort(-matrix[:, column])[:2]) <= set(got[column].tolist())
    # two blocks (the last one short) and k = 2: every row, each once, in order
    assert _candidate_rows(matrix[:100], 2).tolist() == [list(range(100))] * 3
    # a height that is a multiple of BLOCK has no short last block
    exact = _candidate_rows(matrix[:128], 1)
    assert exact.shape == (3, BLOCK)
    assert all(matrix[:128, c].argmax() in exact[c] for c in range(3))
    # k = 1 among 300 blocks (NumPy's partition at a wrong kth is right by luck on fewer)
    tall = rng.standard_normal((300 * BLOCK, 2)).astype(np.float32)
    best = _candidate_rows(tall, 1)
    assert all(tall[:, c].argmax() in best[c] for c in range(2))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_on_a_tall_matrix_equals_brute_force_for_small_k(k):
    # 47 blocks of 64 rows: the best blocks and, within them, the best rows must be chosen
    # for k = 1 too (an off-by-one in either partition returns a wrong first answer).
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((3000, 8)).astype(np.float32)
    kv = KeyedVectors([f"w{i}" for i in range(3000)], matrix)
    asked = list(range(0, 3000, 25))
    rows, _ = top_k(kv, [Query(f"w{r}", (r,)) for r in asked], k)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    cosines = unit @ unit[asked].T
    cosines[asked, np.arange(len(asked))] = -np.inf
    assert rows.tolist() == np.argsort(-cosines, axis=0)[:k].T.tolist()


def test_fewer_candidates_than_k_leave_rows_of_minus_one_and_scores_of_minus_inf(kv):
    # in memory (the streamed search has its own test): the unfilled columns
    rows, sims = top_k(kv, [parse_query(kv, "apple")])  # k = 10 by default, of 7 words
    assert rows.shape == sims.shape == (1, 7)
    assert rows[0, 6:].tolist() == [-1] and np.isneginf(sims[0, 6:]).all()  # apple itself
    assert (rows[0, :6] >= 0).all() and np.isfinite(sims[0, :6]).all()


@pytest.mark.parametrize("mapped", [False, True])
def test_a_k_beyond_the_vocabulary_asks_for_every_word_and_allocates_no_more(kv, tmp_path,
                                                                            mapped):
    if mapped:
        save_vectors(tmp_path / "v.npy", kv.words, kv.vectors)
        kv = load_vectors(tmp_path / "v.npy", mmap=True)
    rows, sims = top_k(kv, [parse_query(kv, "apple")], 10**15)  # 8 PB if allocated
    assert rows.shape == sims.shape == (1, len(kv))
    found = [kv.words[r] for r in rows[0][:-1]]
    assert found[0] == "pear" and set(found) == set(kv.words) - {"apple"}
    assert rows[0, -1] == -1  # the query's own word is no answer


def test_cli_k_beyond_the_vocabulary_lists_every_other_word(vec_file):
    for command, others in ((["neighbors", vec_file, "apple"], 6),
                            (["analogy", vec_file, "man", "king", "woman"], 4)):
        result = CliRunner().invoke(main, [*command, "-k", str(10**15), "--json"])
        assert result.exit_code == 0, result.output
        answers = json.loads(result.stdout.splitlines()[0])["neighbors"]
        assert len(answers) == others  # every word but the query's


def _worst_argpartition(a, kth, axis=-1, **_):
    """``np.argpartition`` keeping only its promise (the ``kth`` entry in place, smaller ones
    before it, larger ones after) with each side in the worst order: descending."""
    ranked = np.moveaxis(np.argsort(a, axis=axis, kind="stable"), axis, -1)
    kth %= ranked.shape[-1]
    parts = [ranked[..., :kth][..., ::-1], ranked[..., kth:kth + 1],
             ranked[..., kth + 1:][..., ::-1]]
    return np.moveaxis(np.concatenate(parts, axis=-1), -1, axis)


@pytest.mark.parametrize("k", [1, 2, 7])
def test_answers_rely_only_on_what_argpartition_promises(monkeypatch, k):
    # NumPy's selection happens to leave more in order than it promises; another NumPy (or
    # size) may not: any partition that keeps the promise must give the same answers
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((1000, 8)).astype(np.float32)
    kv = KeyedVectors([f"w{i}" for i in range(1000)], matrix)
    asked = list(range(0, 1000, 37))
    queries = [Query(f"w{r}", (r,)) for r in asked]
    expected, expected_sims = top_k(kv, queries, k)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    cosines = unit @ unit[asked].T
    cosines[asked, np.arange(len(asked))] = -np.inf
    assert expected.tolist() == np.argsort(-cosines, axis=0)[:k].T.tolist()
    monkeypatch.setattr(np, "argpartition", _worst_argpartition)
    rows, sims = top_k(kv, queries, k)
    assert rows.tolist() == expected.tolist()
    np.testing.assert_array_equal(sims, expected_sims)
