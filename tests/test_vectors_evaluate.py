"""Evaluation numbers equal values computed independently here, on small fixtures."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from embedkit.cli import main
from embedkit.vectors import KeyedVectors, load_vectors, save_vectors
from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity

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
