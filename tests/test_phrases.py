"""`embedkit phrases`: word2phrase's phrases, counted by hand and against a plain re-reading of
word2phrase.c; passes, delimiter, connector words, pruning, blocks, the pipeline."""

from __future__ import annotations

import io
import itertools
import math
import os
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError, ParameterError
from embedkit.text import phrases as phrases_module
from embedkit.text.phrases import (
    CodeCache,
    PairCounts,
    Phrases,
    check_settings,
    learn_phrases,
    read_common_words,
    write_phrased,
)
from embedkit.text.phrases import _pair_keys as pair_keys
from embedkit.text.phrases import _Runs as Runs
from embedkit.text.stream import encode_tokens
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import build_vocabulary
from embedkit.vectors.evaluate import evaluate_analogies
from embedkit.vectors.formats import load_vectors, save_vectors

# Hand count (min count 2). Lines, in this order:
#   "i like new york" x3, "new york is big" x3, "i like big dogs" x2      -> 32 tokens
# words: i 5, like 5, new 6, york 6, is 3, big 5, dogs 2
# pairs inside lines: i like 5, like new 3, new york 6, york is 3, is big 3, like big 2,
#   big dogs 2; across line ends (counted, as word2phrase counts them): york i 2, york new 1,
#   big new 2, big i 1, dogs i 1 -- none is also a pair inside a line.
# word2phrase score (count(ab) - 2) / count(a) / count(b) * 32:
#   i like 3/25*32 = 3.84, new york 4/36*32 = 3.5556, is big 1/15*32 = 2.1333,
#   york is 1/18*32 = 1.7778, like new 1/30*32 = 1.0667, like big = big dogs = 0.
PLANTED = "i like new york\n" * 3 + "new york is big\n" * 3 + "i like big dogs\n" * 2


def run(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


def phrases_of(text: str, tmp_path, min_count=2, threshold=100.0, **kwargs):
    """(output text, rows of the saved phrases) of the library on ``text``."""
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    tokenizer = kwargs.pop("tokenizer", Tokenizer())
    chunk_chars = kwargs.pop("chunk_chars", 1 << 18)
    vocab = build_vocabulary([path], min_count, tokenizer=tokenizer)
    model = learn_phrases([path], vocab, min_count, threshold, tokenizer=tokenizer,
                          chunk_chars=chunk_chars, **kwargs)
    out = io.StringIO()
    write_phrased(out, [path], model, tokenizer, chunk_chars)
    # The same through a code cache, which spares the later readings their tokenising.
    cache = CodeCache(tmp_path)
    cached_model = learn_phrases([path], vocab, min_count, threshold, tokenizer=tokenizer,
                                 chunk_chars=chunk_chars, cache=cache, **kwargs)
    cached = io.StringIO()
    write_phrased(cached, [path], cached_model, tokenizer, chunk_chars, cache=cache)
    assert (cached.getvalue(), cached_model.rows()) == (out.getvalue(), model.rows())
    return out.getvalue(), model.rows()


def test_hand_counted_phrases_and_scores(tmp_path):
    out, rows = phrases_of(PLANTED, tmp_path, threshold=2.0)
    assert [(p, c) for p, c, _ in rows] == [("new_york", 6), ("i_like", 5), ("is_big", 3)]
    scores = {p: s for p, _, s in rows}
    assert scores["i_like"] == pytest.approx(3.84, rel=1e-6)
    assert scores["new_york"] == pytest.approx(4 / 36 * 32, rel=1e-6)
    assert scores["is_big"] == pytest.approx(32 / 15, rel=1e-6)
    assert out == ("i_like new_york\n" * 3 + "new_york is_big\n" * 3 + "i_like big dogs\n" * 2)
    # Between is big (2.13) and york is (1.78): only the threshold decides.
    _, rows = phrases_of(PLANTED, tmp_path, threshold=1.7)
    assert "york_is" in {p for p, _, _ in rows}
    _, rows = phrases_of(PLANTED, tmp_path, threshold=2.2)
    assert {p for p, _, _ in rows} == {"new_york", "i_like"}


def test_min_count_is_subtracted_and_applies_to_words_and_pairs(tmp_path):
    # min count 3: "big dogs" (2) and "dogs" (2) are out; is big scores (3-3)/... = 0.
    _, rows = phrases_of(PLANTED, tmp_path, min_count=3, threshold=0.0)
    assert {p: c for p, c, _ in rows} == {"new_york": 6, "i_like": 5}
    assert {p: s for p, _, s in rows}["new_york"] == pytest.approx(3 / 36 * 32, rel=1e-6)


def test_joining_is_greedy_from_the_left(tmp_path):
    # a b 4, b c 4, a 4, b 4, c 4 of 12 tokens: both pairs score 2.25 with min count 1.
    out, rows = phrases_of("a b c\n" * 4, tmp_path, min_count=1, threshold=0.0)
    assert {p for p, _, _ in rows} == {"a_b", "b_c"}
    assert out == "a_b c\n" * 4
    # A run of accepted pairs alternates: a_b c_a b_c ...
    out, _ = phrases_of("a b c a b c a\n" * 3, tmp_path, min_count=1, threshold=0.0)
    assert out.splitlines()[0] == "a_b c_a b_c a"


def test_pairs_across_line_ends_count_but_never_join(tmp_path):
    # "x y" inside lines: 2 times; "x" ending a line before "y" starts one: 2 more times.
    # x 5 (4 + "x z"), y 4, 14 tokens; min count 2: inside-only count 2 would score 0,
    # word2phrase's count 4 scores (4-2)/5/4*14 = 1.4.
    text = "x y\nx y\nw x\ny w\nw x\ny w\nx z\n"
    out, rows = phrases_of(text, tmp_path, min_count=2, threshold=1.0)
    assert [(p, c) for p, c, _ in rows] == [("x_y", 4)]
    assert rows[0][2] == pytest.approx(1.4, rel=1e-6)
    assert out.splitlines() == ["x_y", "x_y", "w x", "y w", "w x", "y w", "x z"]


def test_two_passes_build_trigrams(tmp_path):
    # Pass 1: 25 tokens, new york = york city = big apple = 5 -> each (5-2)/25*25 = 3;
    # greedy: new_york city. Pass 2: 15 tokens, new_york city 5 -> (5-2)/25*15 = 1.8.
    text = "new york city\n" * 5 + "big apple\n" * 5
    one, _ = phrases_of(text, tmp_path, threshold=1.5)
    assert one == "new_york city\n" * 5 + "big_apple\n" * 5
    two, rows = phrases_of(text, tmp_path, threshold=1.5, passes=2)
    assert two == "new_york_city\n" * 5 + "big_apple\n" * 5
    assert ("new_york_city", 5) in [(p, c) for p, c, _ in rows]
    assert dict((p, s) for p, _, s in rows)["new_york_city"] == pytest.approx(1.8, rel=1e-6)
    # Above 1.8 the second pass joins nothing.
    two, _ = phrases_of(text, tmp_path, threshold=1.9, passes=2)
    assert two == one


def test_delimiter(tmp_path):
    out, rows = phrases_of(PLANTED, tmp_path, threshold=2.0, delimiter="+")
    assert out.splitlines()[0] == "i+like new+york"
    assert rows[0][0] == "new+york"


def test_common_words_stand_inside_phrases_only(tmp_path):
    # bank of america 4 times: with "of" a connector the pair (bank, america) counts 4;
    # "of" never begins or ends a phrase ("of america" stays apart).
    text = "bank of america\n" * 4 + "of america\n" * 2 + "the bank\n"
    plain, _ = phrases_of(text, tmp_path, min_count=2, threshold=0.0)
    assert "bank_of_america" not in plain
    out, rows = phrases_of(text, tmp_path, min_count=2, threshold=0.0,
                           common_words=["of", "the"])
    assert out.splitlines() == ["bank_of_america"] * 4 + ["of america"] * 2 + ["the bank"]
    assert [(p, c) for p, c, _ in rows] == [("bank_of_america", 4)]
    # (4 - 2) / bank 5 / america 6 * 18 tokens
    assert rows[0][2] == pytest.approx(2 / 30 * 18, rel=1e-6)


def test_npmi_scores(tmp_path):
    _, rows = phrases_of(PLANTED, tmp_path, threshold=0.0, scoring="npmi")
    scores = {p: s for p, _, s in rows}
    # is big: 3 of 32 tokens; is 3, big 5.
    pab, pa, pb = 3 / 32, 3 / 32, 5 / 32
    assert scores["is_big"] == pytest.approx(math.log(pab / (pa * pb)) / -math.log(pab))
    # new york and i like always occur together: NPMI 1, the largest.
    assert scores["new_york"] == pytest.approx(1) and scores["i_like"] == pytest.approx(1)
    assert all(-1 <= s <= 1 for s in scores.values())
    _, rows = phrases_of(PLANTED, tmp_path, threshold=0.9, scoring="npmi")
    assert {p for p, _, _ in rows} == {"new_york", "i_like"}


def test_blocks_do_not_change_the_result(tmp_path):
    """Tiny blocks cut lines, including one line far longer than a block: same output."""
    lines = planted_lines(np.random.default_rng(3), 300)
    lines.insert(150, [w for line in lines[:60] for w in line])
    text = "".join(" ".join(line) + "\n" for line in lines)
    for kwargs in ({}, {"common_words": ["w0"]}, {"passes": 2}):
        expected = phrases_of(text, tmp_path, min_count=3, threshold=1.0, **kwargs)
        assert "_" in expected[0]
        for chunk in (7, 64):
            assert phrases_of(text, tmp_path, min_count=3, threshold=1.0, chunk_chars=chunk,
                              **kwargs) == expected, (chunk, kwargs)


def reference_word2phrase(lines: list[list[str]], min_count: int, threshold: float,
                          connectors: frozenset[str] = frozenset()) -> list[list[str]]:
    """word2phrase.c's TrainModel, read plainly: counts over the whole token stream (pairs
    across line ends included), then a greedy left-to-right scan inside each line. A pair is
    two adjacent words that are not connectors, with the connectors between them (if any)."""
    def pairs_of(seq: list[str]) -> list[tuple[int, int, tuple]]:
        at = [i for i, word in enumerate(seq) if word not in connectors]
        return [(i, j, (seq[i], tuple(seq[i + 1:j]), seq[j])) for i, j in itertools.pairwise(at)]

    stream = [w for line in lines for w in line]
    words, pairs = Counter(stream), Counter(key for _, _, key in pairs_of(stream))
    f32 = np.float32

    def accepted(key: tuple) -> bool:
        pa, pb, pab = words[key[0]], words[key[2]], pairs[key]
        return (min(pa, pb, pab) >= min_count
                and f32(pab - min_count) / f32(pa) / f32(pb) * f32(len(stream)) > f32(threshold))

    out = []
    for line in lines:
        ends: dict[int, int] = {}  # first word of a joined pair -> its last word
        previous_joined = False
        for i, j, key in pairs_of(line):
            previous_joined = not previous_joined and accepted(key)
            if previous_joined:
                ends[i] = j
        joined, i = [], 0
        while i < len(line):
            j = ends.get(i, i)
            joined.append("_".join(line[i:j + 1]))
            i = j + 1
        out.append(joined)
    return out


def planted_lines(rng: np.random.Generator, n: int) -> list[list[str]]:
    """Lines of 0-8 units: Zipfian words w0..w11, and now and then a planted phrase."""
    units = [[f"w{i}"] for i in range(12)] + [["w3", "w4"], ["w5", "w6", "w7"], ["w8", "w0",
                                                                               "w9"]]
    weights = np.r_[1 / np.arange(1, 13), 0.1, 0.05, 0.05]
    picks = [rng.choice(len(units), size=rng.integers(0, 9), p=weights / weights.sum())
             for _ in range(n)]
    return [[w for unit in line for w in units[unit]] for line in picks]


@pytest.mark.parametrize("seed", range(6))
def test_same_phrases_as_a_plain_reading_of_word2phrase_c(seed, tmp_path):
    rng = np.random.default_rng(seed)
    lines = planted_lines(rng, 400)
    min_count, threshold = int(rng.integers(1, 6)), float(rng.choice([0.5, 1.0, 2.0, 4.0]))
    text = "".join(" ".join(line) + "\n" for line in lines)
    out, _ = phrases_of(text, tmp_path, min_count=min_count, threshold=threshold,
                        tokenizer=Tokenizer("whitespace"))
    expected = reference_word2phrase(lines, min_count, threshold)
    assert out.splitlines() == [" ".join(line) for line in expected]
    assert sum("_" in line for line in out.splitlines()) > 10


# Connector words: w0 (the most frequent word, id 0) and w2 from the Zipfian words, "of" and
# "the" in runs of one or two, "rare" seen at most once and "absent" never (both then come
# after the vocabulary, the last ids), and now and then a word seen once (unknown below
# min_count 2).
CONNECTORS = ["w0", "w2", "of", "the", "rare", "absent"]


def connector_lines(rng: np.random.Generator, n: int) -> list[list[str]]:
    """Lines of 0-8 units: Zipfian words w0..w11, phrases with runs of connectors between
    their words, and now and then a word seen once."""
    units = [[f"w{i}"] for i in range(12)] + [
        ["w3", "of", "w4"], ["w3", "of", "the", "w4"], ["w3", "the", "of", "w4"],
        ["w5", "of", "of", "w6"], ["w5", "the", "w6"], ["w7", "w0", "w8"], ["of"], ["the"]]
    weights = np.r_[1 / np.arange(1, 13), np.full(8, 0.06)]
    lines = []
    for k in range(n):
        line = [w for unit in rng.choice(len(units), size=rng.integers(0, 9),
                                         p=weights / weights.sum())
                for w in units[unit]]
        if k % 7 == 3:
            line.insert(int(rng.integers(0, len(line) + 1)), f"once{k}")
        lines.append(line)
    lines[n // 2].insert(0, "rare")
    return lines


@pytest.mark.parametrize("seed", range(6))
def test_same_phrases_with_connector_words_as_a_plain_reading(seed, tmp_path):
    """Pairs of words with the connector words between them: counted over the whole stream,
    joined greedily inside lines, over one or two passes, in small blocks or one."""
    rng = np.random.default_rng(seed)
    lines = connector_lines(rng, 400)
    min_count, threshold = int(rng.integers(1, 5)), float(rng.choice([0.5, 1.0, 2.0]))
    passes, chunk_chars = 1 + seed % 2, [64, 1 << 18][seed // 2 % 2]
    text = "".join(" ".join(line) + "\n" for line in lines)
    out, rows = phrases_of(text, tmp_path, min_count=min_count, threshold=threshold,
                           tokenizer=Tokenizer("whitespace"), common_words=CONNECTORS,
                           passes=passes, chunk_chars=chunk_chars)
    expected = lines
    for _ in range(passes):
        expected = reference_word2phrase(expected, min_count, threshold, frozenset(CONNECTORS))
    assert out.splitlines() == [" ".join(line) for line in expected]
    assert any(sum(w in ("of", "the") for w in p.split("_")) >= 2 for p, _, _ in rows)
    assert sum("_" in line for line in out.splitlines()) > 10


def test_a_phrase_holds_up_to_39_connectors_of_two_kinds(tmp_path):
    # Two connector words: runs are coded in base 3 within 62 bits, so a run of 39 stands
    # inside a phrase (spelled whole) and a longer one never does; the phrase starts its block.
    run39, run40 = " of" * 39, " of" * 40
    text = f"x{run39} y\n" * 3 + f"u{run40} v\n" * 3
    out, rows = phrases_of(text, tmp_path, min_count=1, threshold=0.0,
                           common_words=["of", "the"])
    joined = "x" + run39.replace(" ", "_") + "_y"
    assert [(p, c) for p, c, _ in rows] == [(joined, 3)]
    assert out == f"{joined}\n" * 3 + f"u{run40} v\n" * 3


def test_a_phrase_keeps_the_order_of_its_connectors(tmp_path):
    # "of the" and "the of" are different runs; the first phrase starts the corpus
    text = "bank of the america\n" * 3 + "bank the of america\n" * 2 + "the of\n"
    out, rows = phrases_of(text, tmp_path, min_count=1, threshold=0.0,
                           common_words=["of", "the"])
    assert [(p, c) for p, c, _ in rows] == [("bank_of_the_america", 3),
                                            ("bank_the_of_america", 2)]
    assert out == "bank_of_the_america\n" * 3 + "bank_the_of_america\n" * 2 + "the of\n"


def test_connector_runs_past_the_room_in_a_pair_key_are_not_keyed():
    # A key holds a run id in the bits its two words leave of 62: 2 bits (ids 0-3) at 30 bits
    # a word, none but the empty run at 31. Runs past that get no key (a negative one: "no
    # phrase here"), not one that spills into the flag bits.
    names = ["a", "b", "of", "the", "and"]
    model = Phrases(names, {w: i for i, w in enumerate(names)}, np.array([0, 0, 1, 2, 3]),
                    names[2:], runs=Runs(3))
    codes = np.array([0, 2, 1, 3, 0, 4, 1, 2, 2, 0, 3, 3, 1, 1])  # runs of, the, and, of of,
    positions, keys = pair_keys(model, codes, 30, grow=True)    # the the, then none
    assert positions.tolist() == [0, 2, 4, 6, 9, 12, 13]
    assert (keys >> 60).tolist() == [1, 2, 3, -1, -1, 0]
    assert ((keys[keys >= 0] >> 30) & ((1 << 30) - 1)).tolist() == [0, 1, 0, 1]
    model.runs = Runs(3)
    _, keys = pair_keys(model, codes, 31, grow=True)
    assert (keys[:5] < 0).all() and keys[5] == (1 << 31) | 1


def test_pair_counts_prune_the_rarest_and_stay_bounded():
    counter = PairCounts(max_size=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        counter.add(rng.integers(0, 40, size=5).astype(np.int64))
        counter.add(np.array([7, 7, 9], dtype=np.int64))
        assert len(counter.keys) <= 3
    keys, counts = counter.finish()
    assert counter.pruned_below > 0
    assert list(keys[:2]) == [7, 9] or {7, 9} <= set(keys.tolist())
    exact = PairCounts(max_size=100)
    exact.add(np.array([3, 1, 3, 2, 3, 1], dtype=np.int64))
    assert [k.tolist() for k in exact.finish()] == [[1, 2, 3], [2, 1, 3]]
    assert exact.pruned_below == 0


def test_cli_writes_corpus_and_phrases(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(PLANTED)
    result = run("phrases", corpus, "--min-count", 2, "--threshold", 2, "--save-phrases",
                 tmp_path / "p.tsv", "-o", tmp_path / "out.txt")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (tmp_path / "out.txt").read_text().splitlines()[3] == "new_york is_big"
    lines = (tmp_path / "p.tsv").read_text().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["new_york", "6"], ["i_like", "5"],
                                                        ["is_big", "3"]]
    assert float(lines[1].split("\t")[2]) == pytest.approx(3.84, rel=1e-5)


def test_cli_pruning_note(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(PLANTED)
    # 12 distinct pairs (7 inside lines, 5 across line ends); at most 5 leave those seen
    # more than twice: new york (6), i like (5), like new, york is and is big (3).
    result = run("phrases", corpus, "--min-count", 2, "--threshold", 2, "--pair-limit", 5)
    assert result.exit_code == 0, result.output
    assert "note: pass 1: more than 5 distinct pairs; pairs seen at most 2 times were " \
           "pruned" in result.stderr
    assert result.stdout.splitlines()[3] == "new_york is_big"
    quiet = run("phrases", corpus, "--min-count", 2, "--threshold", 2)
    assert "note" not in quiet.stderr


def test_cli_pipeline_and_common_words_file(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("New York City!\n" * 5 + "Big Apple.\n" * 5)
    first = run("phrases", corpus, "--threshold", 1.5, "--min-count", 2)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0] == "new_york city"
    second = run("phrases", "-", "--threshold", 1.5, "--min-count", 2, stdin=first.stdout)
    assert second.stdout.splitlines()[0] == "new_york_city"
    vocab = run("vocab", "-", "--min-count", 1, stdin=second.stdout)
    assert vocab.stdout.splitlines() == ["big_apple\t5", "new_york_city\t5"]
    words = tmp_path / "common.txt"
    words.write_text("# connectors\nOf the\n")
    bank = tmp_path / "bank.txt"
    bank.write_text("Bank of America\n" * 5)
    result = run("phrases", bank, "--min-count", 2, "--threshold", 0, "--common-words", words)
    assert result.stdout == "bank_of_america\n" * 5


def test_evaluate_scores_phrase_analogies(tmp_path):
    """questions-phrases.txt joins words with _ and capitalises them: evaluate finds them."""
    words = ["boston", "boston_globe", "baltimore", "baltimore_sun", "chicago"]
    vectors = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 1]], dtype=float)
    save_vectors(tmp_path / "v.vec", words, vectors.astype(np.float32))
    questions = tmp_path / "q.txt"
    questions.write_text(": newspapers\nBoston Boston_Globe Baltimore Baltimore_Sun\n"
                         "Boston Boston_Globe Detroit Detroit_Free_Press\n")
    result = evaluate_analogies(load_vectors(tmp_path / "v.vec"), questions)
    assert (result.questions, result.skipped) == (2, 1)
    assert result.overall.correct == result.overall.total == 1


GOOD = {"min_count": 5, "threshold": 100.0, "scoring": "word2phrase", "passes": 1,
        "delimiter": "_"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"scoring": "pmi"}, "scoring 'pmi': expected one of word2phrase, npmi"),
    ({"min_count": 0}, "min_count 0: expected at least 1"),
    ({"passes": 0}, "passes 0: expected at least 1"),
    ({"scoring": "npmi", "threshold": 1.5},
     "threshold 1.5: NPMI scores lie in [-1, 1], expected a value in that range"),
    ({"scoring": "npmi", "threshold": -1.5},
     "threshold -1.5: NPMI scores lie in [-1, 1], expected a value in that range"),
    ({"scoring": "npmi", "threshold": math.nan},
     "threshold nan: NPMI scores lie in [-1, 1], expected a value in that range"),
    ({"threshold": -0.001}, "threshold -0.001: expected at least 0 for word2phrase scores"),
    ({"threshold": math.nan}, "threshold nan: expected at least 0 for word2phrase scores"),
    ({"delimiter": ""}, "delimiter '': expected a non-empty string without white space"),
    ({"delimiter": "a b"}, "delimiter 'a b': expected a non-empty string without white space"),
    ({"delimiter": "_\0"},
     "delimiter '_\\x00': expected a non-empty string without white space"),
])
def test_settings_out_of_range_name_their_parameter(settings, message):
    with pytest.raises(ParameterError) as error:
        check_settings(**(GOOD | settings))
    assert str(error.value) == message
    assert error.value.params == (message.split()[0],)  # the CLI names its option


@pytest.mark.parametrize(("scoring", "threshold"), [("npmi", -1.0), ("npmi", 1.0), ("npmi", -0.5),
                                                    ("word2phrase", 0.0), ("word2phrase", 1e9)])
def test_thresholds_at_the_ends_of_their_range_are_accepted(scoring, threshold):
    check_settings(**(GOOD | {"scoring": scoring, "threshold": threshold}))


def test_common_words_file(tmp_path):
    path = tmp_path / "common.txt"
    path.write_text("# connectors, one comment\nOf the\n  # an indented comment\nY and of\n")
    assert read_common_words(path) == ["of", "the", "y", "and"]
    assert read_common_words(path, Tokenizer(lowercase=False)) == ["Of", "the", "Y", "and",
                                                                   "of"]
    path.write_text("# nothing but comments\n\n")
    with pytest.raises(EmbedkitError) as error:
        read_common_words(path)
    assert str(error.value) == f"{path}: no common words found (expected words separated by " \
                               "white space)"


def test_progress_counts_every_token_read_and_the_writer_returns_the_tokens_written(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(PLANTED)
    vocab = build_vocabulary([path], 2)
    read: list[int] = []
    model = learn_phrases([path], vocab, 2, 2.0, passes=2, chunk_chars=40, callback=read.append,
                          cache=CodeCache(tmp_path))
    assert len(read) > 2 and sum(read) == 2 * 32  # two readings of the 32 tokens
    out, written_read = io.StringIO(), []
    written = write_phrased(out, [path], model, chunk_chars=40, callback=written_read.append)
    assert written == len(out.getvalue().split()) == 18 and sum(written_read) == 32


def test_unknown_words_are_written_as_read_wherever_they_stand(tmp_path):
    # 'hippopotamuses' and 'okapi' are below min_count: the first token of the corpus (and of
    # its first block) is one of them, and longer than any word or phrase known
    text = "hippopotamuses new york\n" + "new york\n" * 4 + "new york okapi\n"
    out, _ = phrases_of(text, tmp_path, threshold=0.0)
    assert out == "hippopotamuses new_york\n" + "new_york\n" * 4 + "new_york okapi\n"


def test_pair_limit_below_one_names_its_parameter():
    with pytest.raises(ParameterError) as error:
        PairCounts(0)
    assert str(error.value) == "pair_limit 0: expected at least 1"
    assert error.value.params == ("pair_limit",)
    counter = PairCounts(1)  # one pair at a time is enough
    counter.add(np.array([5, 5, 7], dtype=np.int64))
    keys, counts = counter.finish()
    assert (keys.tolist(), counts.tolist(), counter.pruned_below) == ([5], [2], 1)


def test_connector_runs_get_ids_below_the_capacity_only():
    # the capacity keeps a run's id within the bits a pair key leaves it: a run past it is
    # unknown and not stored, and a run stored under a larger capacity is unknown under a
    # smaller one (a later pass, whose words take more bits)
    runs = Runs(2)  # codes in base 3: 1 is the run (1,), 4 the run (1, 1)
    ids = runs.ids(np.array([4, 0, 1, 4]), grow=True, capacity=2)
    assert ids[1:3].tolist() == [0, 1] and ids[0] < 0 and ids[3] < 0
    assert runs.sequences == [(), (1,)] and len(runs.codes) == 2
    assert runs.ids(np.array([1, 0]), grow=False, capacity=2).tolist() == [1, 0]
    ids = runs.ids(np.array([1, 0]), grow=False, capacity=1)
    assert ids[0] < 0 and ids[1] == 0


def test_phrases_of_equal_counts_are_listed_by_phrase(tmp_path):
    # z is the most frequent word, so z_y is found first; the rows still put a_b before it
    _, rows = phrases_of("z y\n" * 4 + "a b\n" * 4 + "z\n" * 2, tmp_path, min_count=1,
                         threshold=0.0)
    assert [(p, c) for p, c, _ in rows] == [("a_b", 4), ("z_y", 4)]


def test_a_phrase_of_the_most_frequent_word_twice_is_joined(tmp_path):
    # x is word 0, so "x x" is pair key 0, the lowest there is: a key, not the "none" of -1
    out, rows = phrases_of("x x q\n" * 4, tmp_path, min_count=1, threshold=0.0)
    assert {p for p, _, _ in rows} == {"x_x", "x_q"}
    assert out == "x_x q\n" * 4


def test_the_default_threshold_is_word2phrases_100(tmp_path):
    # a b scores (2 - 1) / 2 / 2 * 404 = 101, between word2phrase's default 100 and 101
    path = tmp_path / "corpus.txt"
    path.write_text("a b\n" * 2 + "".join(f"f{i} g{i}\n" for i in range(200)))
    vocab = build_vocabulary([path], 1)
    assert learn_phrases([path], vocab, 1).rows() == [("a_b", 2, 101.0)]
    assert learn_phrases([path], vocab, 1, 101.0).rows() == []


def test_each_pass_records_the_tokens_it_counted(tmp_path):
    # the total of its scores: the second pass reads the phrases of the first as one token
    path = tmp_path / "corpus.txt"
    path.write_text(PLANTED)
    model = learn_phrases([path], build_vocabulary([path], 2), 2, 2.0, passes=2)
    assert [done.tokens for done in model.passes] == [32, 18]


def test_pair_counts_merge_every_four_times_the_limit_into_the_table():
    # limit 2: keys are buffered until 8 are held, then counted into the table (and pruned)
    counter = PairCounts(2)
    counter.add(np.arange(7, dtype=np.int64))
    assert (len(counter.keys), counter.pruned_below) == (0, 0)
    counter.add(np.array([5], dtype=np.int64))  # 8 held: 5 twice, six keys once -> pruned
    assert (counter.keys.tolist(), counter.counts.tolist(), counter.pruned_below) == ([5], [2], 1)
    counter.add(np.full(7, 5, dtype=np.int64))
    assert counter.counts.tolist() == [2]  # 7 held since the merge: not yet counted
    counter.add(np.array([5], dtype=np.int64))  # added to the count the table holds
    assert (counter.keys.tolist(), counter.counts.tolist(), counter.pruned_below) == ([5], [10], 1)
    assert [k.tolist() for k in counter.finish()] == [[5], [10]]


def test_a_code_cache_tokenises_the_corpus_once_in_its_own_directory(tmp_path, monkeypatch):
    path = tmp_path / "corpus.txt"
    path.write_text(PLANTED)
    vocab = build_vocabulary([path], 2)
    looked_up = []

    def encode(*args):
        looked_up.append(1)
        return encode_tokens(*args)

    monkeypatch.setattr(phrases_module, "encode_tokens", encode)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    read: list[int] = []
    cache = CodeCache(tmp_path / "cache")
    model = learn_phrases([path], vocab, 2, 2.0, passes=2, chunk_chars=40, callback=read.append,
                          cache=cache)
    blocks = len(read) // 2
    assert blocks > 2 and read[:blocks] == read[blocks:]  # the same blocks read back
    out = io.StringIO()
    write_phrased(out, [path], model, chunk_chars=40, cache=cache)
    assert out.getvalue().splitlines()[3] == "new_york is_big"
    assert len(looked_up) == blocks  # the first reading only
    assert os.listdir(tmp_path / "cwd") == [] and os.listdir(tmp_path / "cache") != []
    # without a cache the text is read in the same blocks
    plain: list[int] = []
    learn_phrases([path], vocab, 2, 2.0, chunk_chars=40, callback=plain.append)
    assert plain == read[:blocks]


def test_punctuation_is_split_off_as_the_tokenizer_does(tmp_path):
    out, _ = phrases_of("New York City!\n" * 5 + "Big Apple.\n" * 5, tmp_path, threshold=1.5)
    assert out == "new_york city\n" * 5 + "big_apple\n" * 5


def test_a_last_line_without_a_line_end_gets_one(tmp_path):
    out, _ = phrases_of("new york\n" * 3 + "new york", tmp_path, min_count=1, threshold=0.0)
    assert out == "new_york\n" * 4


def test_word2phrase_scores_and_threshold_are_single_precision(tmp_path):
    f32 = np.float32
    i_like = f32(5 - 2) / f32(5) / f32(5) * f32(32)  # as word2phrase.c computes it
    _, rows = phrases_of(PLANTED, tmp_path, threshold=2.0)
    scores = {p: s for p, _, s in rows}
    assert scores["i_like"] == float(i_like)
    assert scores["new_york"] == float(f32(6 - 2) / f32(6) / f32(6) * f32(32))
    assert scores["is_big"] == float(f32(3 - 2) / f32(3) / f32(5) * f32(32))
    # a threshold just below the score in double precision, equal to it in single: not above
    _, rows = phrases_of(PLANTED, tmp_path, threshold=float(i_like) - 1e-9)
    assert "i_like" not in {p for p, _, _ in rows}
    _, rows = phrases_of(PLANTED, tmp_path, threshold=float(i_like) - 1e-6)
    assert "i_like" in {p for p, _, _ in rows}


def test_npmi_joins_pairs_and_words_seen_exactly_min_count_times(tmp_path):
    # min count 2: a_b (2; a 3, b 2) and c_d (2; c 2, d 3) are in, a_d (1) is out however low
    # the threshold
    text = "a b\n" * 2 + "c d\n" * 2 + "a d\n"
    out, rows = phrases_of(text, tmp_path, min_count=2, threshold=-0.5, scoring="npmi")
    assert [(p, c) for p, c, _ in rows] == [("a_b", 2), ("c_d", 2)]
    assert out == "a_b\n" * 2 + "c_d\n" * 2 + "a d\n"


@pytest.mark.parametrize("text", ["a b\nc d\n" * 5, "a b\n\nc d\n\n" * 5])
@pytest.mark.parametrize("chunk_chars", [1, 4, 1 << 18])
def test_pairs_only_across_line_ends_are_never_phrases_whatever_the_blocks(text, chunk_chars,
                                                                            tmp_path):
    out, rows = phrases_of(text, tmp_path, min_count=1, threshold=0.0, chunk_chars=chunk_chars)
    assert [(p, c) for p, c, _ in rows] == [("a_b", 5), ("c_d", 5)]
    assert out == text.replace("a b", "a_b").replace("c d", "c_d")


def test_the_most_frequent_word_twice_across_a_line_end_is_no_phrase(tmp_path):
    # x is word 0: "x x" (key 0) only ever across a line end
    out, rows = phrases_of("q x\nx r\n" * 3, tmp_path, min_count=1, threshold=0.0)
    assert [(p, c) for p, c, _ in rows] == [("q_x", 3), ("x_r", 3)]
    assert out == "q_x\nx_r\n" * 3


def test_npmi_threshold_is_compared_in_double_precision(tmp_path):
    _, rows = phrases_of(PLANTED, tmp_path, threshold=0.0, scoring="npmi")
    score = {p: s for p, _, s in rows}["is_big"]
    for threshold, joined in ((np.nextafter(score, -1.0), True), (np.nextafter(score, 1.0), False)):
        _, rows = phrases_of(PLANTED, tmp_path, threshold=float(threshold), scoring="npmi")
        assert ("is_big" in {p for p, _, _ in rows}) == joined, threshold


def test_unknown_words_of_several_characters_classes_are_written_as_read(tmp_path):
    out, _ = phrases_of("new york x-ray it's\n" + "new york\n" * 3, tmp_path, threshold=0.0)
    assert out == "new_york x-ray it's\n" + "new_york\n" * 3
