"""Evaluation files as people have them (issue #13, kinds 3, 7, 8 and 11; cases 03 and 06 of
../shared/cases, inputs copied into tests/data): delimiters, headers, score columns, byte-order
marks, blank lines, and the correlations that are undefined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.vectors import load_vectors
from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity, read_pairs

DATA = Path(__file__).parent / "data"
VECTORS = DATA / "case03" / "vectors.vec"
PAIRS = [("love", "sex", 6.77), ("money", "bank", 8.5), ("stock", "market", 8.08),
         ("tiger", "cat", 7.35), ("king", "queen", 8.58)]


@pytest.fixture(scope="module")
def kv():
    return load_vectors(VECTORS)


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- case 03: byte-order marks ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["pairs.tsv", "pairs_bom.tsv"])
def test_case03_similarity_with_and_without_bom(kv, name):
    result = evaluate_similarity(kv, DATA / "case03" / name)
    assert (result.pairs, result.skipped) == (5, 0)
    assert round(result.spearman, 4) == 0.9 and round(result.pearson, 4) == 0.8419


@pytest.mark.parametrize("name", ["questions.txt", "questions_bom.txt"])
def test_case03_analogies_with_and_without_bom(kv, name):
    result = evaluate_analogies(kv, DATA / "case03" / name)
    assert [s.name for s in result.sections] == ["family", "capital"]
    assert (result.questions, result.skipped, result.overall.correct) == (2, 0, 2)


# -- kind 11: the layouts of the common sets --------------------------------------------------

def simlex(pairs):  # SimLex-999's original file: ten tab-separated columns and a header
    head = "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\tSimAssoc333\t" \
           "SD(SimLex)\n"
    return head + "".join(f"{a}\t{b}\tN\t{s}\t4.1\t3.9\t4\t0.5\t1\t0.3\n" for a, b, s in pairs)


LAYOUTS = {
    "wordsim.tsv": ("# WordSim353\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in PAIRS),
                    "tab-separated, no header, words in columns 1 and 2, scores in column 3"),
    "simlex.txt": (simlex(PAIRS), "tab-separated, a header line, words in columns 1 and 2, "
                                  "scores in column 4 (SimLex999)"),
    "men.txt": ("".join(f"{a} {b} {s * 5:.6f}\n" for a, b, s in PAIRS),
                "space-separated, no header, words in columns 1 and 2, scores in column 3"),
    "combined.csv": ("Word 1,Word 2,Human (mean)\n"
                     + "".join(f"{a},{b},{s}\n" for a, b, s in PAIRS),
                     "comma-separated, a header line, words in columns 1 and 2, scores in column "
                     "3 (Human (mean))"),
    "crlf.tsv": ("".join(f"{a}\t{b}\t{s} \r\n" for a, b, s in PAIRS) + "\r\n",
                 "tab-separated, no header"),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_common_layouts_give_the_same_numbers(tmp_path, kv, name):
    content, layout = LAYOUTS[name]
    (tmp_path / name).write_text(content, encoding="utf-8")
    result = evaluate_similarity(kv, tmp_path / name)
    assert (result.pairs, result.skipped, result.ignored) == (5, 0, 0)
    assert round(result.spearman, 4) == 0.9 and round(result.pearson, 4) == 0.8419
    assert result.layout.startswith(layout)
    cli = run("evaluate", VECTORS, "--similarity", tmp_path / name)
    assert cli.exit_code == 0
    assert f"embedkit: note: {tmp_path / name}: {layout}" in cli.stderr


def test_pair_and_score_columns_can_be_given(tmp_path, kv):
    (tmp_path / "p.txt").write_text("".join(f"{s}\tx\t{a}\t{b}\n" for a, b, s in PAIRS),
                                    encoding="utf-8")
    with pytest.raises(EmbedkitError, match="no column after the words holds a number"):
        evaluate_similarity(kv, tmp_path / "p.txt")
    result = evaluate_similarity(kv, tmp_path / "p.txt", pair_columns=(3, 4), score_column=1)
    assert result.pairs == 5 and round(result.spearman, 4) == 0.9
    cli = run("evaluate", VECTORS, "--similarity", tmp_path / "p.txt", "--pair-columns", "3,4",
              "--score-column", "1", "--json")
    assert cli.exit_code == 0 and strict_json(cli.stdout)["similarity"][0]["pairs"] == 5
    bad = run("evaluate", VECTORS, "--similarity", tmp_path / "p.txt", "--pair-columns", "3")
    assert bad.exit_code == 2 and "--pair-columns" in bad.stderr


def test_lines_without_a_score_are_counted_and_named(tmp_path):
    (tmp_path / "p.tsv").write_text("a\tb\t1\nc\td\n\ne\tf\tlots\ng\th\t2\n", encoding="utf-8")
    pairs, layout, ignored = read_pairs(tmp_path / "p.tsv")
    assert pairs == [("a", "b", 1.0), ("g", "h", 2.0)] and ignored == [2, 4]


def test_words_of_pair_files_are_nfc(tmp_path):
    (tmp_path / "p.tsv").write_text("cafe\u0301\tna\u0131ve\t1\n", encoding="utf-8")
    assert read_pairs(tmp_path / "p.tsv")[0] == [("caf\u00e9", "na\u0131ve", 1.0)]


def test_analogy_files_tolerate_blank_lines_trailing_spaces_and_crlf(tmp_path, kv):
    text = ("\r\n: family  \r\n\r\nman king woman queen   \r\n  \r\n:capital\r\n"
            "paris france london england \r\nnot a question\r\n")
    (tmp_path / "q.txt").write_text(text, encoding="utf-8", newline="")
    result = evaluate_analogies(kv, tmp_path / "q.txt")
    assert [s.name for s in result.sections] == ["family", "capital"]
    assert (result.questions, result.overall.correct, result.ignored) == (2, 2, 1)


# -- kinds 7 and 8 (case 06): undefined correlations are null, and said ---------------------

def test_case06_two_pairs_give_correlations_without_p_values(kv):
    result = evaluate_similarity(kv, DATA / "case06" / "two_pairs.tsv")
    assert result.pairs == 2 and abs(result.spearman) == pytest.approx(1.0)
    assert result.spearman_p is None and result.pearson_p is None and result.note is None
    cli = run("evaluate", VECTORS, "--similarity", DATA / "case06" / "two_pairs.tsv", "--json")
    assert cli.exit_code == 0
    doc = strict_json(cli.stdout)["similarity"][0]
    assert doc["spearman_p"] is None and doc["pearson_p"] is None
    assert "Warning" not in cli.stderr


def test_case06_constant_scores_are_null_with_a_note(kv):
    result = evaluate_similarity(kv, DATA / "case06" / "constant_scores.tsv")
    assert result.spearman is None and result.pearson is None
    assert result.note == "the human scores are all equal (5): the correlation is undefined"
    cli = run("evaluate", VECTORS, "--similarity", DATA / "case06" / "constant_scores.tsv",
              "--json")
    assert cli.exit_code == 0
    doc = strict_json(cli.stdout)["similarity"][0]
    assert doc["spearman"] is None and doc["pearson"] is None and "equal" in doc["note"]
    notes = cli.stderr.splitlines()
    assert len(notes) == 2 and all(line.startswith("embedkit: note: ") for line in notes)
    table = run("evaluate", VECTORS, "--similarity", DATA / "case06" / "constant_scores.tsv")
    assert "spearman undefined  pearson undefined  pairs 3" in table.stdout


def test_one_usable_pair_is_said(tmp_path, kv):
    (tmp_path / "p.tsv").write_text("love\tsex\t6.77\nkiwi\tbank\t3\n", encoding="utf-8")
    result = evaluate_similarity(kv, tmp_path / "p.tsv")
    assert (result.pairs, result.skipped, result.spearman) == (1, 1, None)
    assert result.note == "one usable pair: a correlation needs two"


def test_no_usable_pair_is_one_error_saying_how_the_file_was_read(tmp_path):
    (tmp_path / "p.tsv").write_text("kiwi\tmango\t6.77\n", encoding="utf-8")
    cli = run("evaluate", VECTORS, "--similarity", tmp_path / "p.tsv")
    assert cli.exit_code == 1 and cli.stderr.count("\n") == 1
    assert "no usable pairs (tab-separated, no header" in cli.stderr
    assert "1 pairs out of the first" in cli.stderr
