"""Splitting text into word tokens, with the end of each line kept as a sentence marker."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from embedkit.errors import EmbedkitError

#: The token that marks the end of a sentence (a line) in a token stream; never a word
#: (NUL characters in the text are read as white space).
SENTENCE_END = "\0"

#: Letters and digits in any script, with inner apostrophes and hyphens ("don't", "x-ray").
WORD_PATTERN = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")

#: Names accepted by :class:`Tokenizer` (and ``--tokenizer``).
TOKENIZERS = ("regex", "whitespace")


@dataclass(frozen=True)
class Tokenizer:
    """How text becomes tokens.

    Parameters
    ----------
    kind : {"regex", "whitespace"}
        ``"regex"`` keeps words of letters and digits (Unicode-aware, as ``str.isalnum``)
        with inner apostrophes and hyphens, and drops punctuation; ``"whitespace"`` splits on
        white space only, for corpora that are already tokenised.
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
        """The white-space tokens of ``text`` (many lines at once), lower-cased if asked,
        with :data:`SENTENCE_END` at each line end. ``str.split`` does this in C."""
        if self.lowercase:
            text = text.lower()
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
