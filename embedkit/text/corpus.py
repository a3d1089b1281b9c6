"""Reading corpora as a stream of token blocks: plain, ``.gz`` or ``.bz2`` files and stdin.

A corpus is one sentence per line. Files are read in blocks of about ``chunk_chars``
characters cut at a line end (or, inside a very long line, at white space), so memory is
bounded by the block size and never by the corpus length.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from embedkit.io import check_stdin_once, describe, is_stream, open_input
from embedkit.text.tokenize import Tokenizer

#: Characters read per block: about 40k tokens of English text. Windowing a block makes
#: ~0.3 KB of temporaries per token; with 1 MiB blocks train-w2v's peak memory on
#: wordnet-glosses was 169 MB (two workers), with 256 KiB 121 MB, at the same speed.
DEFAULT_CHUNK_CHARS = 1 << 18

CorpusPaths = Sequence["str | os.PathLike"]


class NamedPath(str):
    """A file path that messages call by another name (a spooled stdin is ``<stdin>``)."""

    label: str

    def __new__(cls, path: str, label: str) -> NamedPath:
        obj = super().__new__(cls, path)
        obj.label = label
        return obj


def corpus_name(paths: CorpusPaths) -> str:
    """The corpus as error messages name it: its files, comma-separated."""
    return ", ".join(describe(p) for p in paths)


def iter_text_blocks(paths: CorpusPaths, chunk_chars: int = DEFAULT_CHUNK_CHARS
                     ) -> Iterator[str]:
    """Yield the text of ``paths`` in blocks of about ``chunk_chars`` characters.

    Each block ends at a line end, or, when one line is longer than a block, at the last
    white space, so no token is ever cut in two. Each file's text ends with a line end, so
    sentences never run from one file into the next.

    Raises
    ------
    EmbedkitError
        When a file is missing or is not UTF-8 text; ``-`` given twice
        (:func:`~embedkit.io.check_stdin_once`).
    """
    check_stdin_once(paths)
    for path in paths:
        with open_input(path) as stream:
            carry, closed = "", True
            while True:
                text = stream.read(chunk_chars)
                if not text:
                    break
                text = carry + text
                # Read on until a line end or white space: a token is never cut in two.
                cut = text.rfind("\n") + 1 or _last_space(text) + 1
                carry = text[cut:]
                if cut:
                    closed = text[cut - 1] == "\n"
                    yield text[:cut]
            if carry or not closed:
                yield carry + "\n"


def _last_space(text: str) -> int:
    return max(text.rfind(" "), text.rfind("\t"), text.rfind("\r"))


def iter_token_blocks(paths: CorpusPaths, tokenizer: Tokenizer = Tokenizer(),
                      chunk_chars: int = DEFAULT_CHUNK_CHARS) -> Iterator[list[str]]:
    """Yield the tokens of ``paths`` block by block, with ``SENTENCE_END`` at line ends.

    A sentence may continue from one block into the next (only inside a line longer than
    a block); a sentence end is always explicit.
    """
    for text in iter_text_blocks(paths, chunk_chars):
        yield tokenizer.tokens(text)


@contextlib.contextmanager
def spool_streams(paths: CorpusPaths) -> Iterator[list[str]]:
    """Make a corpus readable twice: copy each input that can be read only once (stdin ``-``,
    a FIFO, bash's ``<(...)``: :func:`~embedkit.io.is_stream`) to a temporary file for the
    block.

    Building a vocabulary and then windows reads the corpus twice, but a pipe gives its data
    once (opening a FIFO again waits for a writer that has finished). Yields ``paths`` with
    each such input replaced by its decompressed copy, named in messages as it was given
    (``<stdin>``, ``fifo``); the copies are removed afterwards. A FIFO given twice is read once
    and its copy used twice, as a file given twice is read twice. Regular files pass through
    unchanged.

    Raises
    ------
    ParameterError
        When ``-`` is given twice (:func:`~embedkit.io.check_stdin_once`).
    EmbedkitError
        As :func:`~embedkit.io.open_input`, for a stream that cannot be read.
    """
    check_stdin_once(paths)
    names = [os.fspath(p) for p in paths]
    streams = list(dict.fromkeys(name for name in names if is_stream(name)))
    if not streams:
        yield names
        return
    with tempfile.TemporaryDirectory(prefix="embedkit-stdin-") as tmp:
        copies: dict[str, str] = {}
        for number, name in enumerate(streams):
            spooled = os.path.join(tmp, f"{number}.txt")
            with open_input(name, binary=True) as src, open(spooled, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            copies[name] = NamedPath(spooled, describe(name))
        yield [copies.get(name, name) for name in names]
