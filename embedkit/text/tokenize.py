"""Splitting text into word tokens, with the end of each line kept as a sentence marker.

Words are compared in Unicode NFC (:func:`normalize_word`), so a composed and a decomposed
spelling ("café" typed as ``e`` + U+0301) are one word; a word keeps its combining marks
(Devanagari vowel signs and viramas, Arabic harakat, Hebrew points, accents).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from embedkit.errors import EmbedkitError

#: The token that marks the end of a sentence (a line) in a token stream; never a word
#: (NUL characters in the text are read as white space).
SENTENCE_END = "\0"


def normalize_word(text: str) -> str:
    """The form in which embedkit compares words: Unicode NFC.

    Use it on every word (or whole line) read from a user's text before it is looked up or
    counted: corpora, vocabulary files, queries, evaluation and vector files.

    Parameters
    ----------
    text : str
        A word, or any text (normalising a line normalises each of its words).

    Returns
    -------
    str
        ``text`` in normalisation form C (canonical composition, Unicode standard annex 15):
        ``"cafe\u0301"`` becomes ``"caf\u00e9"``; already composed text comes back unchanged.
    """
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def normalize_words(words: Sequence[str]) -> list[str]:
    """:func:`normalize_word` of each of ``words``, which may hold any character.

    The words are normalised as one text joined by newlines (a newline composes with nothing,
    so each word comes back as alone), and split again when no word holds a newline itself
    (words read from vector files may: fastText's and ``.npz``); otherwise one by one.

    Returns
    -------
    list of str
        One word per word of ``words``, in order.
    """
    joined = "\n".join(words)
    if joined.count("\n") != len(words) - 1:
        return [normalize_word(word) for word in words]
    normal = normalize_word(joined)
    if normal == joined:  # the words themselves, not a copy of each (2 M of fastText's)
        return list(words)
    return normal.split("\n")


def _mark_class() -> str:
    """A regular-expression class of the combining marks (Unicode category M) of this Python.

    Marks live below U+20000 and in plane 14 (variation selectors); planes 2-3 are CJK
    ideographs and 4-13 are unassigned, so scanning them would only cost time at import.
    """
    ranges: list[list[int]] = []
    for code in chain(range(0x20000), range(0xE0000, min(0xE1000, sys.maxunicode + 1))):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(re.escape(chr(a)) + ("" if a == b else "-" + re.escape(chr(b)))
                   for a, b in ranges)


#: One word: a letter or digit in any script followed by letters, digits and combining marks
#: (category M: "क्या", "café" written decomposed, "שָׁלוֹם"); no underscore.
_WORD = rf"[^\W_](?:[^\W_]|[{_mark_class()}])*"

#: Words with inner apostrophes, hyphens and underscores ("don't", "x-ray", and the phrases
#: of ``embedkit phrases``, "new_york"). Scripts written without spaces (Thai, Chinese,
#: Japanese) are not segmented: a run of them between spaces or punctuation is one word.
WORD_PATTERN = re.compile(rf"{_WORD}(?:['\u2019\-_]{_WORD})*")

#: Names accepted by :class:`Tokenizer` (and ``--tokenizer``).
TOKENIZERS = ("regex", "whitespace")


@dataclass(frozen=True)
class Tokenizer:
    """How text becomes tokens.

    Parameters
    ----------
    kind : {"regex", "whitespace"}
        ``"regex"`` keeps words of letters and digits (Unicode-aware, as ``str.isalnum``)
        with inner apostrophes, hyphens and underscores, and drops punctuation;
        ``"whitespace"`` splits on white space only, for corpora that are already tokenised.
    lowercase : bool
        Lower-case the text first.
    """

    kind: str = "regex"
    lowercase: bool = True

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZERS:
            raise EmbedkitError(f"tokenizer {self.kind!r}: expected one of "
                                f"{', '.join(TOKENIZERS)}")

    def split(self, text: str) -> list[str]:
        """The white-space tokens of ``text`` (many lines at once), lower-cased if asked, in
        NFC, with :data:`SENTENCE_END` at each line end. ``str.split`` does this in C."""
        if self.lowercase:
            text = text.lower()
        # After lower(): lower-casing can decompose ("İ" -> "i" + U+0307).
        text = normalize_word(text)
        if SENTENCE_END in text:
            text = text.replace(SENTENCE_END, " ")
        return text.replace("\n", f" {SENTENCE_END} ").split()

    def words_in(self, token: str) -> list[str]:
        """The words of one white-space token: the word pattern's matches in regex mode."""
        return WORD_PATTERN.findall(token) if self.kind == "regex" else [token]

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` (many lines at once), with :data:`SENTENCE_END` at each
        line end.

        Only white-space tokens that are not purely alphanumeric (those with punctuation,
        and the line ends) go through the regular expression: several times faster than a
        regex over all the text, with the same result.
        """
        tokens = self.split(text)
        if self.kind == "whitespace":
            return tokens
        plain = np.fromiter(map(str.isalnum, tokens), dtype=bool, count=len(tokens))
        words: list[str] = []
        start = 0
        for i in np.flatnonzero(~plain).tolist():
            words += tokens[start:i]
            token = tokens[i]
            words += [token] if token == SENTENCE_END else WORD_PATTERN.findall(token)
            start = i + 1
        words += tokens[start:]
        return words
