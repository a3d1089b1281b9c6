"""Id chunks (embedkit.text.stream) checked directly: their layout, the words of tokens with
punctuation, sentences carried from one text block to the next."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.stream import IdChunk, encode_tokens, id_chunks, iter_id_chunks
from embedkit.text.tokenize import SENTENCE_END, Tokenizer
from embedkit.text.vocab import Vocabulary

VOCAB = Vocabulary(["a", "b", "c", "d", "e", "f", "new-york"], [7, 6, 5, 4, 3, 2, 1])


def _layout(chunks):
    return [(c.ids.tolist(), c.sentences.tolist(), c.tokens) for c in chunks]


def test_every_chunk_numbers_its_sentences_from_zero_as_int32():
    blocks = ["a b\nc\n", "d e\nf a\n", "zz\n"]
    chunks = list(id_chunks(blocks, VOCAB))
    assert _layout(chunks) == [([0, 1, 2], [0, 0, 1], 3), ([3, 4, 5, 0], [0, 0, 1, 1], 4),
                               ([], [], 1)]
    for chunk in chunks:
        assert chunk.ids.dtype == np.int32 and chunk.sentences.dtype == np.int32


def test_a_sentence_cut_between_blocks_is_carried_whole_into_the_next_chunk():
    # blocks may end at white space inside a line, after earlier whole lines
    chunks = list(id_chunks(["a b\nc d ", "e f\n"], VOCAB))
    assert _layout(chunks) == [([0, 1], [0, 0], 2), ([2, 3, 4, 5], [0, 0, 0, 0], 4)]


def test_tokens_holding_several_words_give_each_word_in_place():
    tokens = Tokenizer().split("a,b (c) zz.d new-york! e\n--- f...a\n")
    lookup = {**VOCAB.index, SENTENCE_END: -2}
    codes = encode_tokens(tokens, lookup, Tokenizer())
    expected = [lookup.get(t, -1) for t in Tokenizer().tokens("a,b (c) zz.d new-york! e\n"
                                                               "--- f...a\n")]
    assert codes.tolist() == expected == [0, 1, 2, -1, 3, 6, 4, -2, 5, 0, -2]
    assert codes.dtype == np.int32
    # the white-space tokenizer keeps punctuation: "a," is an unknown word
    assert encode_tokens(["a,", "b"], lookup, Tokenizer("whitespace")).tolist() == [-1, 1]


def test_a_sentence_length_below_one_is_refused():
    with pytest.raises(EmbedkitError) as error:
        list(id_chunks(["a b\n"], VOCAB, max_sentence_length=0))
    assert str(error.value) == "max sentence length 0: expected at least 1"


def test_chunks_follow_the_asked_number_of_characters(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n" * 400)  # 2,400 characters
    chunks = list(iter_id_chunks([corpus], VOCAB, chunk_chars=600))
    assert len(chunks) == 4 and [c.tokens for c in chunks] == [300] * 4
    assert len(list(iter_id_chunks([corpus], VOCAB))) == 1


def test_select_keeps_the_ids_and_sentences_where_the_mask_is_true():
    chunk = IdChunk(np.array([4, 5, 6], np.int32), np.array([0, 0, 1], np.int32), 9)
    kept = chunk.select(np.array([True, False, True]))
    assert kept.ids.tolist() == [4, 6] and kept.sentences.tolist() == [0, 1]
    assert kept.tokens == 9
