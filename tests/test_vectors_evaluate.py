"""Evaluation numbers equal values computed independently here, on small fixtures."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from embedkit.cli import main
from embedkit.errors import EmbedkitError, ParameterError
from embedkit.vectors import KeyedVectors, load_vectors, save_vectors
from embedkit.vectors.evaluate import _cosines, evaluate_analogies, evaluate_similarity, read_pairs

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BASE = ["paris", "france", "rome", "italy", "berlin", "germany", "madrid", "spain", "big",
        "bigger", "small", "smaller", "fast", "faster", "slow", "slower", "cat", "dog"]
# "Paris" is a less frequent case variant of "paris": it must never count as an answer.
WORDS = BASE + ["Paris", "rare"]


@pytest.fixture
def kv():
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((len(WORDS), 6)).astype(np.float32)
    # Plant some analogies so both right and wrong answers occur.
    offset = rng.standard_normal(6).astype(np.float32)
    for a, b in [("paris", "france"), ("rome", "italy"), ("berlin", "germany")]:
        matrix[WORDS.index(b)] = matrix[WORDS.index(a)] + offset
    matrix[WORDS.index("Paris")] = matrix[WORDS.index("paris")] * 0.9 + 0.01
    return KeyedVectors(WORDS, matrix)


ANALOGIES = """\
: capital-common
Paris France Rome Italy
rome italy berlin germany
Berlin Germany Madrid Spain
paris france unknown land
: gram-comparative
big bigger small smaller
fast faster slow slower
big bigger rare rare
bad line
"""


def expected_answer(kv, restrict, a, b, c):
    """gensim's rule, one question at a time: top 5 by 3CosAdd without the input rows, then
    the first that is not a case variant of a, b or c (else the last of the five)."""
    first = {}
    for row in range(restrict - 1, -1, -1):
        first[kv.words[row].upper()] = row
    unit = kv.vectors[:restrict] / np.linalg.norm(kv.vectors[:restrict], axis=1, keepdims=True)
    ia, ib, ic = first[a.upper()], first[b.upper()], first[c.upper()]
    mean = unit[ib] + unit[ic] - unit[ia]
    cos = unit @ (mean / np.linalg.norm(mean))
    ranked = [r for r in np.argsort(-cos) if r not in (ia, ib, ic)][:5]
    names = [kv.words[r].upper() for r in ranked]
    allowed = [n for n in names if n not in (a.upper(), b.upper(), c.upper())]
    return allowed[0] if allowed else names[-1]


@pytest.mark.parametrize("restrict", [len(WORDS), 18])
def test_analogies_match_an_independent_count(tmp_path, kv, restrict):
    path = tmp_path / "q.txt"
    path.write_text(ANALOGIES, encoding="utf-8")
    result = evaluate_analogies(kv, path, restrict_vocab=restrict)
    ok = {w.upper() for w in WORDS[:restrict]}
    sections, current = {}, None
    for line in ANALOGIES.splitlines():
        if line.startswith(": "):
            current = line[2:]
            sections[current] = [0, 0]
            continue
        question = line.split()
        if len(question) != 4 or not all(w.upper() in ok for w in question):
            continue
        sections[current][1] += 1
        sections[current][0] += expected_answer(kv, restrict, *question[:3]) == question[3].upper()
    got = {s.name: [s.correct, s.total] for s in result.sections}
    assert got == sections
    assert result.questions == 7
    assert result.skipped == 7 - sum(total for _, total in sections.values())
    assert [result.semantic.correct, result.semantic.total] == sections["capital-common"]
    assert [result.syntactic.correct, result.syntactic.total] == sections["gram-comparative"]
    assert result.overall.total == sum(t for _, t in sections.values())
    assert 0 < result.overall.correct < result.overall.total  # the fixture has both outcomes
    assert result.overall.accuracy == pytest.approx(result.overall.correct / result.overall.total)


def test_similarity_matches_scipy(tmp_path, kv):
    pairs = [("cat", "dog", 7.5), ("Paris", "France", 8.0), ("big", "small", 2.0),
             ("fast", "slower", 3.5), ("rome", "ITALY", 9.1), ("cat", "unknown", 5.0)]
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\tline\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs)
                    + "not a pair\n", encoding="utf-8")
    result = evaluate_similarity(kv, path)
    first = {w.upper(): kv.vectors[i] for i, w in reversed(list(enumerate(WORDS)))}
    used = [(a, b, s) for a, b, s in pairs if a.upper() in first and b.upper() in first]
    model = [first[a.upper()] @ first[b.upper()]
             / np.linalg.norm(first[a.upper()]) / np.linalg.norm(first[b.upper()])
             for a, b, _ in used]
    gold = [s for _, _, s in used]
    assert (result.pairs, result.skipped) == (5, 1)
    assert result.spearman == pytest.approx(stats.spearmanr(gold, model)[0], abs=1e-9)
    assert result.pearson == pytest.approx(stats.pearsonr(gold, model)[0], abs=1e-6)


def test_cli_evaluate_json_and_table(tmp_path, kv):
    vectors = tmp_path / "v.bin"
    save_vectors(vectors, kv.words, kv.vectors)
    (tmp_path / "q.txt").write_text(ANALOGIES, encoding="utf-8")
    (tmp_path / "p.tsv").write_text("cat\tdog\t1\nbig\tsmall\t2\nfast\tslow\t4\n",
                                    encoding="utf-8")
    args = ["evaluate", str(vectors), "--analogies", str(tmp_path / "q.txt"),
            "--similarity", str(tmp_path / "p.tsv")]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # notes on how the files were read go to stderr
    direct = evaluate_analogies(load_vectors(vectors), tmp_path / "q.txt")
    assert doc["analogies"][0]["total"]["correct"] == direct.overall.correct
    assert doc["similarity"][0]["pairs"] == 3
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and "gram-comparative" in table.output
    assert CliRunner().invoke(main, ["evaluate", str(vectors)]).exit_code == 2


def test_question_before_section_is_an_error(tmp_path, kv):
    (tmp_path / "q.txt").write_text("a b c d\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.txt: line 1: question before any"):
        evaluate_analogies(kv, tmp_path / "q.txt")


@pytest.mark.skipif(not (DATA / "questions-words.txt").exists(),
                    reason="../shared/data (real analogy set) is absent")
def test_real_question_file_is_read_completely(kv):
    result = evaluate_analogies(kv, DATA / "questions-words.txt")
    assert result.questions == 19544 and len(result.sections) == 14
    assert result.skipped + result.overall.total == 19544
    assert sum(s.name.startswith("gram") for s in result.sections) == 9


# ------------------------------------------ mutation survivors (benchmarks/mutation.sh vectors)

def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_analogy_result_as_dict_names_every_count(tmp_path, kv):
    # the --json document: a renamed key, a lost path or an ignored line counted once is a bug
    path = _write(tmp_path, "q.txt", ANALOGIES + "two words\n")
    result = evaluate_analogies(kv, path)
    doc = result.as_dict()
    assert set(doc) == {"path", "questions", "skipped", "from_ngrams", "ignored", "sections",
                        "semantic", "syntactic", "total"}
    assert (doc["path"], doc["questions"], doc["skipped"], doc["from_ngrams"],
            doc["ignored"]) == (str(path), 7, 1, 0, 2)
    first = result.sections[0]
    assert doc["sections"][0] == {"name": "capital-common", "correct": first.correct,
                                  "total": first.total, "accuracy": first.accuracy}
    assert doc["total"]["name"] == "total" and doc["semantic"]["total"] == first.total


def test_one_answerable_question_and_none_at_all(tmp_path, kv):
    one = evaluate_analogies(kv, _write(tmp_path, "one.txt", ": s\nrome italy paris france\n"))
    assert one.overall.total == 1 and one.sections[0].total == 1
    none = evaluate_analogies(kv, _write(tmp_path, "none.txt",
                                         ": s\nparis france unknown land\nzz yy xx ww\n"))
    assert (none.questions, none.skipped, none.overall.total) == (2, 2, 0)
    assert none.overall.accuracy is None and none.sections[0].accuracy is None
    assert one.overall.accuracy in (0.0, 1.0)


def test_no_answerable_analogy_has_no_accuracy_in_json_or_text(tmp_path, kv):
    # 0 of 0 answerable was reported as accuracy 0.0: every answer wrong, it read.
    vectors = tmp_path / "v.vec"
    save_vectors(vectors, kv.words, kv.vectors)
    questions = _write(tmp_path, "none.txt", ": s\nzz yy xx ww\n")
    result = CliRunner().invoke(main, ["evaluate", str(vectors), "--analogies", str(questions),
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["analogies"][0]
    assert report["total"]["accuracy"] is None and report["sections"][0]["accuracy"] is None
    text = CliRunner().invoke(main, ["evaluate", str(vectors), "--analogies", str(questions)])
    assert text.exit_code == 0
    rows = [line.split() for line in text.stdout.splitlines()[2:]]
    assert rows and all(row[1:] == ["0", "0", "n/a"] for row in rows), text.stdout


def _ranked_kv():
    """a = ab, b = cd, c = ef on three axes; the candidates lie on the query's direction
    b - a + c, each tilted on an axis of its own, in this order of cosine: CD, EF, Ef, cD, AB
    (all case variants of a, b or c), then gh; zz is orthogonal to all."""
    names = ["ab", "cd", "ef", "CD", "EF", "Ef", "cD", "AB", "gh", "zz"]
    matrix = np.zeros((10, 10), dtype=np.float32)
    matrix[0, 0] = matrix[1, 1] = matrix[2, 2] = 1
    direction = np.array([-1, 1, 1], dtype=np.float32) / np.sqrt(3)
    for i, tilt in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]):
        matrix[3 + i, :3] = direction
        matrix[3 + i, 3 + i] = tilt
    matrix[9, 9] = 1
    return KeyedVectors(names, matrix)


def test_analogies_follow_gensims_top_five_and_last_looked_at(tmp_path):
    kv = _ranked_kv()
    questions = [
        "ab cd ef gh",   # the top five are all variants: the fifth (AB) is the answer: wrong
        "ab cd ef AB",   # ... and right when the expected word is that fifth one
        "zz gh cd ef",   # an ordinary question with allowed answers
    ]
    path = _write(tmp_path, "q.txt", "".join(f": q{i}\n{q}\n" for i, q in enumerate(questions)))
    result = evaluate_analogies(kv, path)
    right = [s.correct for s in result.sections]
    assert right[:2] == [0, 1]
    assert right == [int(expected_answer(kv, 10, *q.split()[:3]) == q.split()[3].upper())
                     for q in questions]


def test_analogy_edge_cases_of_few_candidates(tmp_path):
    path = _write(tmp_path, "q.txt", ": s\nman woman king queen\n")
    # the only candidate is row 0 (the most frequent word): it is an answer
    kv = KeyedVectors(["queen", "king", "man", "woman"],
                      np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32))
    assert evaluate_analogies(kv, path).overall.correct == 1
    # no candidate at all: wrong, even when d is one of a, b, c
    kv = KeyedVectors(["x", "y", "z"], np.eye(3, dtype=np.float32))
    result = evaluate_analogies(kv, _write(tmp_path, "q2.txt", ": s\ny x z y\n"))
    assert (result.overall.correct, result.overall.total) == (0, 1)
    # one candidate, a variant of a: it is the answer, right when d is that word
    kv = KeyedVectors(["ab", "cd", "ef", "AB"],
                      np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32))
    result = evaluate_analogies(kv, _write(tmp_path, "q3.txt", ": s\nab cd ef AB\n"))
    assert (result.overall.correct, result.overall.total) == (1, 1)


def test_case_sensitive_evaluation_tells_case_variants_apart(tmp_path, kv):
    questions = _write(tmp_path, "q.txt", ": s\nPARIS france rome italy\n")
    pairs = _write(tmp_path, "p.tsv", "PARIS\tfrance\t1\ncat\tdog\t2\nbig\tsmall\t3\n")
    assert evaluate_analogies(kv, questions).skipped == 0
    assert evaluate_analogies(kv, questions, case_insensitive=False).skipped == 1
    assert evaluate_similarity(kv, pairs).skipped == 0
    assert evaluate_similarity(kv, pairs, case_insensitive=False).skipped == 1


def test_similarity_counts_every_skipped_pair_and_reads_on(tmp_path, kv):
    path = _write(tmp_path, "p.tsv", "cat\tdog\t1\nzz\tyy\t2\nqq\tww\t3\nbig\tsmall\t4\n"
                                     "fast\tslow\t5\nno score\n")
    result = evaluate_similarity(kv, path)
    assert (result.pairs, result.skipped, result.ignored, result.from_ngrams) == (3, 2, 1, 0)
    assert result.layout == ("tab-separated, no header, words in columns 1 and 2, scores in "
                             "column 3; 1 lines without a numeric score ignored (first: line 6)")


def test_read_pairs_columns_and_its_messages(tmp_path):
    path = _write(tmp_path, "p.tsv", "a\tb\t1\nc\td\t2\n")
    for columns in ((1, 2), (2, 1)):
        pairs, layout, _ = read_pairs(path, pair_columns=columns)
        assert len(pairs) == 2 and layout.pair_columns == (columns[0] - 1, columns[1] - 1)
    with pytest.raises(ParameterError) as error:
        read_pairs(path, score_column=0)
    assert str(error.value) == "score_column must be a positive column number, got 0"
    assert error.value.params == ("score_column",)
    empty = _write(tmp_path, "e.tsv", "# nothing\n\n")
    with pytest.raises(EmbedkitError) as error:
        read_pairs(empty)
    assert str(error.value) == f"{empty}: no word pairs: expected lines 'word1 word2 score'"
    header_only = _write(tmp_path, "h.tsv", "word1\tword2\tscore\n")
    no_score = _write(tmp_path, "n.tsv", "# c\n\n1\tb\tc\nx\ty\tz\n")
    for path, line in ((header_only, 1), (no_score, 3)):
        with pytest.raises(EmbedkitError) as error:
            read_pairs(path)
        assert str(error.value) == (f"{path}: line {line}: no column after the words holds "
                                    f"a number: give score_column")
        assert error.value.params == ("score_column",)
    # a header shorter than the lines: the score column has no name to show
    short = _write(tmp_path, "s.tsv", "word1\tword2\na\tb\t3\n")
    assert read_pairs(short)[1].describe() == ("tab-separated, a header line, words in columns "
                                               "1 and 2, scores in column 3")


def test_undefined_correlations_and_p_values(tmp_path):
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [2, 0], [0, 1], [1, 1]],
                                                     dtype=np.float32))
    equal = evaluate_similarity(kv, _write(tmp_path, "e.tsv", "a\tb\t1\nc\tc\t2\n"))
    assert equal.note == "the model's similarities are all equal: the correlation is undefined"
    assert equal.spearman is None and equal.pearson is None
    two = evaluate_similarity(kv, _write(tmp_path, "two.tsv", "a\tc\t1\na\td\t2\n"))
    assert two.spearman == pytest.approx(1.0) and two.pearson == pytest.approx(1.0)
    assert two.spearman_p is None and two.pearson_p is None  # p-values need three pairs
    three = evaluate_similarity(kv, _write(tmp_path, "three.tsv",
                                           "a\tc\t1\na\td\t2\nb\ta\t3\n"))
    model = [0.0, np.sqrt(0.5), 1.0]
    assert three.spearman_p == pytest.approx(stats.spearmanr([1, 2, 3], model)[1])
    assert three.pearson_p == pytest.approx(stats.pearsonr([1, 2, 3], model)[1], rel=1e-5)


def test_cosines_of_short_long_and_zero_vectors_as_gensim_rounds_them():
    rng = np.random.default_rng(8)
    matrix = rng.standard_normal((8, 300)).astype(np.float32)
    matrix[:3] *= 0.01  # shorter than 1: still normalised
    matrix[7] = 0  # a zero vector has cosine 0 with everything
    kv = KeyedVectors([f"w{i}" for i in range(8)], matrix)
    first, second = np.array([0, 1, 2, 3, 7]), np.array([4, 5, 6, 0, 1])
    units = []
    for rows in (first, second):
        v = matrix[rows].astype(np.float64)
        length = np.linalg.norm(v, axis=1, keepdims=True)
        units.append((v / np.where(length > 0, length, 1)).astype(np.float32).astype(np.float64))
    expected = np.einsum("ij,ij->i", *units)
    got = _cosines(kv, first, second)
    assert np.array_equal(got, expected) and got[-1] == 0.0


TINY = Path(__file__).parent / "data" / "fasttext" / "tiny.bin"


def test_ngram_vectors_answer_unseen_words_and_are_counted(tmp_path):
    pairs_b_first = _write(tmp_path, "a.tsv", "crème\tbrûléé\t8\nzzzz\tand\t1\nthe\tand\t2\n"
                                              "with\tto\t3\n")
    pairs_a_first = _write(tmp_path, "b.tsv", "brûléé\tcrème\t8\nthe\tand\t2\nwith\tto\t3\n")
    got = evaluate_similarity(load_vectors(TINY), pairs_b_first, oov="ngrams")
    assert (got.pairs, got.skipped, got.from_ngrams) == (4, 0, 2)
    got = evaluate_similarity(load_vectors(TINY), pairs_a_first, oov="ngrams")
    assert (got.pairs, got.skipped, got.from_ngrams) == (3, 0, 1)
    got = evaluate_similarity(load_vectors(TINY), pairs_b_first)  # a subword model, oov skip
    assert (got.pairs, got.skipped, got.from_ngrams) == (2, 2, 0)
    questions = _write(tmp_path, "q.txt", ": s\nthe and with to\nbrûléé crème café coffee\n"
                                          "café coffee crème brûléé\nthe and to with\n")
    got = evaluate_analogies(load_vectors(TINY), questions, oov="ngrams")
    assert (got.questions, got.skipped, got.from_ngrams, got.overall.total) == (4, 0, 2, 4)
    got = evaluate_analogies(load_vectors(TINY), questions)
    assert (got.questions, got.skipped, got.from_ngrams, got.overall.total) == (4, 2, 0, 2)
    with pytest.raises(EmbedkitError) as error:
        evaluate_similarity(load_vectors(TINY), pairs_a_first, oov="maybe")
    assert str(error.value) == "oov 'maybe': expected one of skip, ngrams"
    assert error.value.params == ("oov",)


@pytest.mark.parametrize("case_insensitive, looked_up", [(True, "brûléé"), (False, "Brûléé")])
def test_unseen_words_are_lower_cased_for_their_ngrams_when_case_is_ignored(
        tmp_path, case_insensitive, looked_up):
    path = _write(tmp_path, "p.tsv", "Brûléé\tcrème\t8\nthe\tand\t2\nwith\tto\t3\n")
    got = evaluate_similarity(load_vectors(TINY), path, case_insensitive=case_insensitive,
                              oov="ngrams")
    kv = load_vectors(TINY)
    rows = kv.rows(["crème", "the", "and", "with", "to"])
    first = np.array([kv.ngram_row(looked_up), rows[1], rows[3]])
    model = _cosines(kv, first, np.array([rows[0], rows[2], rows[4]]))
    assert got.pearson == pytest.approx(stats.pearsonr([8, 2, 3], model)[0], rel=1e-9)
    kv = load_vectors(TINY)  # the analogies look the same word up (kv keeps the looked-up)
    evaluate_analogies(kv, _write(tmp_path, "q.txt", ": s\nBrûléé crème café coffee\n"),
                       case_insensitive=case_insensitive, oov="ngrams")
    assert list(kv.ngram_words) == [looked_up]


def test_only_the_first_restrict_vocab_words_count_and_the_last_one_is_a_word(tmp_path, kv):
    # pairs with a word past restrict_vocab are skipped (evaluate_similarity ignoring it)
    pairs = _write(tmp_path, "p.tsv", "cat\tdog\t1\nbig\tsmall\t2\nparis\trare\t3\n")
    assert evaluate_similarity(kv, pairs).skipped == 0
    assert evaluate_similarity(kv, pairs, restrict_vocab=18).skipped == 1  # "rare" is 20th
    # the last word of the vocabulary has a row of its own (not -1, the stand-in for "no
    # candidate"): no candidate here, so the answer is wrong
    small = KeyedVectors(["x", "y", "z"], np.eye(3, dtype=np.float32))
    result = evaluate_analogies(small, _write(tmp_path, "q.txt", ": s\nx y z z\n"))
    assert (result.overall.correct, result.overall.total) == (0, 1)


def test_unseen_words_without_any_ngram_are_skipped_with_oov_ngrams(tmp_path):
    # n-grams of 4-6 characters: '<zz>' is one, '<a>' is too short for any: 'a' is skipped
    # like a word of a model without subwords, not an error
    from embedkit.text.subwords import SubwordModel, Subwords

    rng = np.random.default_rng(3)
    words = ["the", "and", "with", "to"]
    model = SubwordModel(Subwords(4, 6, 50), rng.standard_normal((4, 5)).astype(np.float32),
                         rng.standard_normal((50, 5)).astype(np.float32))
    kv = KeyedVectors(words, model.word_vectors(words), subwords=model)
    pairs = _write(tmp_path, "p.tsv", "a\tthe\t1\nthe\tand\t2\nwith\tto\t3\nzz\tand\t4\n")
    got = evaluate_similarity(kv, pairs, oov="ngrams")
    assert (got.pairs, got.skipped, got.from_ngrams) == (3, 1, 1)
    questions = _write(tmp_path, "q.txt", ": s\na the and with\nzz the and with\n")
    got = evaluate_analogies(kv, questions, oov="ngrams")
    assert (got.questions, got.skipped, got.from_ngrams, got.overall.total) == (2, 1, 1, 1)
