"""The id cache: the corpus as ids in two files of its own directory, cut into spans of whole
sentences that later passes list again without reading the text."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.text.corpus import DEFAULT_CHUNK_CHARS
from embedkit.text.idcache import IdCache, sentence_cuts
from embedkit.text.stream import iter_id_chunks
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import build_vocabulary


def _cache(tmp_path, text, span_tokens=4, tokenizer=Tokenizer(), min_count=1):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text)
    vocab = build_vocabulary([corpus], min_count=min_count, tokenizer=tokenizer)
    (tmp_path / "cache").mkdir()
    return IdCache([corpus], vocab, tokenizer, str(tmp_path / "cache"), span_tokens), corpus


def test_files_go_in_the_given_directory_only(tmp_path, monkeypatch):
    # files in the working directory would litter it, and two trainings would share them
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    cache, _ = _cache(tmp_path, "a b c\nd e\n")
    list(cache.epoch())
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert not list((tmp_path / "cwd").iterdir())


def test_spans_cover_a_corpus_of_several_chunks_in_order(tmp_path):
    lines = [f"w{i % 50} w{(i * 7) % 50} w{(i * 3) % 50}" for i in range(60000)]
    text = "\n".join(lines) + "\n"
    assert len(text) > 2 * DEFAULT_CHUNK_CHARS
    cache, corpus = _cache(tmp_path, text, span_tokens=1000)
    spans = list(cache.epoch())
    chunks = list(iter_id_chunks([corpus], cache.vocab, Tokenizer()))
    assert len(chunks) >= 3
    expected = np.concatenate([c.ids for c in chunks])
    got = [cache.read(span) for span in spans]
    np.testing.assert_array_equal(np.concatenate([g.ids for g in got]), expected)
    assert [s.start for s in spans[1:]] == [s.stop for s in spans[:-1]]
    assert spans[-1].stop == len(expected) == 180000
    assert sum(s.tokens for s in spans) == pytest.approx(180000)
    for span, chunk in zip(spans, got, strict=True):
        assert chunk.tokens == round(span.tokens) and len(chunk.ids) == span.stop - span.start
        # sentence numbers restart in every chunk, but stay whole and non-decreasing in a span
        assert np.all(np.diff(chunk.sentences) >= 0)


def test_later_passes_list_the_spans_without_reading_the_corpus_again(tmp_path):
    cache, corpus = _cache(tmp_path, "a b c\nd e\nf g h i\n")
    first = list(cache.epoch())
    corpus.write_text("something else entirely\n")  # a second tokenisation would see this
    assert list(cache.epoch()) == first


def test_a_corpus_of_unknown_words_is_one_empty_span_that_counts_its_tokens(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("x y z\nu v\n")
    vocab = build_vocabulary([corpus], min_count=1)
    corpus.write_text("p q r\ns t\n")  # five tokens, none in the vocabulary
    (tmp_path / "cache").mkdir()
    cache = IdCache([corpus], vocab, Tokenizer(), str(tmp_path / "cache"), 4)
    [span] = list(cache.epoch())
    assert (span.start, span.stop, span.tokens) == (0, 0, 5)
    assert not cache.has_pairs()


def test_the_cache_uses_the_tokenizer_it_was_given(tmp_path):
    keep_case = Tokenizer(lowercase=False)
    cache, _ = _cache(tmp_path, "Alpha beta\nalpha Beta\n", tokenizer=keep_case)
    ids = np.concatenate([cache.read(s).ids for s in cache.epoch()])
    assert len(ids) == 4 and len(set(ids.tolist())) == 4  # four words, case kept


def test_has_pairs_looks_for_two_ids_in_one_sentence(tmp_path):
    one_each, _ = _cache(tmp_path, "a\nb\nc\na\n")
    assert not one_each.has_pairs()
    (tmp_path / "more").mkdir()
    two, _ = _cache(tmp_path / "more", "a\nb\nc d\n")
    assert two.has_pairs()


def test_sentence_cuts_of_longer_chunks_and_of_an_empty_one():
    sentences = np.repeat(np.arange(6), [2, 2, 2, 2, 2, 2])
    cuts = sentence_cuts(sentences, 3)
    np.testing.assert_array_equal(cuts, [0, 4, 6, 10, 12])  # after 3, 6 and 9
    assert cuts.dtype == np.int64
    empty = sentence_cuts(np.zeros(0, np.int32), 4)
    np.testing.assert_array_equal(empty, [0, 0])
    assert empty.dtype == np.int64
