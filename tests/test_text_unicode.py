"""Words in many scripts: combining marks stay inside words, and spellings are compared in NFC.

``data/multilingual.txt`` is made for these tests; its counts below were checked by hand,
line by line. Decomposed spellings in it: ``Cafe`` + U+0301, ``nai`` + U+0308 + ``ve``,
``и`` + U+0306 (й), ``か`` + U+3099 (が), and שָׁלוֹם with its shin dot and qamats in either
order (NFC puts marks in canonical order).
"""

import re
import unicodedata
from collections import Counter
from itertools import chain
from pathlib import Path

import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.text.corpus import iter_token_blocks
from embedkit.text.tokenize import (
    SENTENCE_END,
    Tokenizer,
    _mark_class,
    normalize_word,
    normalize_words,
)
from embedkit.text.vocab import Vocabulary, build_vocabulary

DATA = Path(__file__).parent / "data"
SHALOM = unicodedata.normalize("NFC", "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd")

#: Word counts of data/multilingual.txt, line by line (all NFC).
MULTILINGUAL = {
    # क्या आपके पास हिन्दी किताब है। क्या  (the danda is punctuation)
    "क्या": 2, "आपके": 1, "पास": 1, "हिन्दी": 1, "किताब": 1, "है": 1,
    # Tamil, pulli (virama) and vowel signs
    "வணக்கம்": 2, "நண்பா": 1,
    # Thai is written without spaces: a run of Thai between spaces is one word
    "สวัสดีครับ": 2,
    # Arabic with harakat; the Arabic comma is punctuation
    "كِتَابٌ": 2, "جَمِيلٌ": 1,
    # Hebrew with points, the two mark orders of shalom are one word
    SHALOM: 2, "עוֹלָם": 1,
    # Cyrillic, lower-cased; й composed and decomposed
    "привет": 2, "мир": 1, "йод": 2,
    # CJK: runs between the ideographic full stop / question mark; が decomposed and composed
    "我喜欢读书": 2, "你喜欢吗": 1, "がっこう": 2,
    # Latin written decomposed
    "café": 2, "naïve": 2,
}


def words(tokens):
    return [t for t in tokens if t != SENTENCE_END]


def test_normalize_word_composes_and_orders_marks():
    assert normalize_word("cafe\u0301") == "caf\u00e9"
    assert normalize_word("caf\u00e9") == "caf\u00e9"
    assert normalize_word("plain ascii") == "plain ascii"
    assert normalize_word("\u05e9\u05b8\u05c1") == normalize_word("\u05e9\u05c1\u05b8")


def test_multilingual_corpus_counts_checked_by_hand():
    tokens = [t for block in iter_token_blocks([DATA / "multilingual.txt"]) for t in block]
    assert tokens.count(SENTENCE_END) == 8
    assert Counter(words(tokens)) == MULTILINGUAL
    assert all(unicodedata.is_normalized("NFC", t) for t in tokens)


def test_whitespace_tokenizer_also_normalizes():
    assert Tokenizer("whitespace").tokens("Cafe\u0301 café\n") == ["café", "café", SENTENCE_END]


def test_no_lowercase_keeps_case_but_normalizes():
    assert words(Tokenizer(lowercase=False).tokens("Cafe\u0301 Café")) == ["Café", "Café"]


def test_words_after_punctuation_keep_their_marks():
    # Tokens with punctuation go through the word pattern, not the isalnum fast path.
    assert words(Tokenizer().tokens("(क्या), «हिन्दी»! x-रे")) == ["क्या", "हिन्दी", "x-रे"]
    # A mark cannot start a word: a stray one after punctuation is dropped.
    assert words(Tokenizer().tokens("(\u0301a)")) == ["a"]


def test_vocabulary_and_id_stream_agree_on_marked_words(tmp_path):
    from embedkit.text.stream import iter_id_chunks
    vocab = build_vocabulary([DATA / "multilingual.txt"], min_count=2)
    assert dict(zip(vocab.words, vocab.counts.tolist(), strict=True)) == {
        w: c for w, c in MULTILINGUAL.items() if c >= 2}
    ids = [i for chunk in iter_id_chunks([DATA / "multilingual.txt"], vocab)
           for i in chunk.ids.tolist()]
    assert len(ids) == sum(c for c in MULTILINGUAL.values() if c >= 2)


def test_vocabulary_file_words_are_read_in_nfc(tmp_path):
    path = tmp_path / "v.tsv"
    path.write_text("cafe\u0301\t3\nnai\u0308ve\t2\n", encoding="utf-8")
    assert Vocabulary.load(path).words == ["café", "naïve"]
    path.write_text("cafe\u0301\t3\ncafé\t2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: 'café' already on line 1"):
        Vocabulary.load(path)


@pytest.mark.parametrize("tokenizer", ["regex", "whitespace"])
def test_case01_hindi_is_six_words_twice(tokenizer):
    result = CliRunner().invoke(main, ["vocab", str(DATA / "case01_hindi.txt"), "--min-count",
                                       "1", "--tokenizer", tokenizer])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{w}\t2" for w in sorted(
        ["क्या", "आपके", "पास", "हिन्दी", "किताब", "है"])]


def test_case01_composed_and_decomposed_latin_are_one_word():
    result = CliRunner().invoke(main, ["vocab", str(DATA / "case01_nfc_nfd.txt"),
                                       "--min-count", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["caf\u00e9\t2", "na\u00efve\t2"]


def test_the_mark_class_holds_exactly_the_combining_marks():
    # the word pattern's class of combining marks, built at import from this Python's tables
    text = "".join(map(chr, chain(range(0x20000), range(0xE0000, 0xE1000))))
    marks = set(re.findall(f"[{_mark_class()}]", text))
    assert marks == {c for c in text if unicodedata.category(c)[0] == "M"}
    assert "\u0301" in marks and "\u094d" in marks and "\ufe0f" in marks and "\U000e0100" in marks


def test_normalize_words_gives_each_word_in_nfc_even_with_newlines_inside():
    assert normalize_words([]) == []
    assert normalize_words(["cafe\u0301", "x", "\u0301"]) == ["caf\u00e9", "x", "\u0301"]
    # words read from vector files may hold a newline: then one by one, still one per word
    assert normalize_words(["a\nb", "cafe\u0301", ""]) == ["a\nb", "caf\u00e9", ""]
    assert normalize_words(["", ""]) == ["", ""]


def test_an_unknown_tokenizer_names_the_known_ones():
    with pytest.raises(EmbedkitError) as error:
        Tokenizer("spacy")
    assert str(error.value) == "tokenizer 'spacy': expected one of regex, whitespace"


def test_the_whitespace_tokenizer_keeps_tokens_whole():
    assert Tokenizer("whitespace").words_in("don't,stop!") == ["don't,stop!"]
    assert Tokenizer().words_in("don't,stop!") == ["don't", "stop"]


def test_words_holding_white_space_other_than_newlines_stay_whole_when_normalised():
    # fastText's words may hold a no-break space, .npz words any space: a word normalised
    # (a combining accent) is never cut at them
    words = ["cafe\u0301\u00a0noir", "a b", "tab\there"]
    assert normalize_words(words) == ["caf\u00e9\u00a0noir", "a b", "tab\there"]
