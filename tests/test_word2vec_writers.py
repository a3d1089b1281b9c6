"""word2vec writers called directly: every float32 written as C's ``%.5e`` writes it, rows
of several blocks each after its own word, binary records in little-endian float32, and the
words each format cannot hold."""

from __future__ import annotations

import io

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.formats import word2vec
from embedkit.formats.word2vec import check_words, format_rows, write_binary, write_text


def printf(block):
    return [(" ".join(f"{v:.5e}" for v in row.tolist()) + "\n").encode() for row in block]


def test_rows_are_written_as_printf_writes_each_float32():
    rng = np.random.default_rng(0)
    tiny = np.finfo(np.float32).smallest_subnormal
    edges = np.array([0.0, -0.0, 1.0, -1.0, 10.0, 1e-5, 9.999996, 9.999994, 99999.95, 0.5,
                      1.0000005, tiny, -tiny, 3 * tiny, np.finfo(np.float32).tiny,
                      np.finfo(np.float32).max, -np.finfo(np.float32).max, 1e38, 1e-38,
                      123456.5, 0.1, 2.5e-3], dtype=np.float32)
    # every decade float32 holds, both signs, and values near the digits' rounding points
    spread = (rng.standard_normal(4000) * 10.0 ** rng.integers(-45, 39, 4000)).astype(np.float32)
    powers = np.float32(10.0) ** np.arange(-38, 39, dtype=np.float32)
    near = np.concatenate([np.nextafter(powers, np.float32(0)), powers,
                           np.nextafter(powers, np.float32(np.inf))]).astype(np.float32)
    for values, dim in ((edges, 1), (edges[:20], 5), (spread, 40), (near[:230], 10)):
        block = values.reshape(-1, dim)
        assert format_rows(block) == printf(block)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(EmbedkitError,
                       match=r"^cannot write NaN or infinite values to a vector file$"):
        format_rows(np.array([[1.0, bad]], dtype=np.float32))


def rows_of(n, dim=3):
    return np.arange(n * dim, dtype=np.float64).reshape(n, dim) / 7 - 5


def test_text_rows_of_several_blocks_each_follow_their_word():
    n = 2 * word2vec.TEXT_BLOCK + 3
    words = [f"w{i}" for i in range(n)]
    vectors = rows_of(n)
    out = io.BytesIO()
    write_text(out, words, vectors)
    lines = out.getvalue().split(b"\n")
    assert lines[-1] == b"" and len(lines) == n + 1
    expected = printf(vectors.astype(np.float32))
    for i in (0, word2vec.TEXT_BLOCK - 1, word2vec.TEXT_BLOCK, n - 1):
        assert lines[i] + b"\n" == f"w{i} ".encode() + expected[i]


def test_binary_records_of_several_blocks_are_little_endian_float32():
    n = word2vec.TEXT_BLOCK + 2
    words = [f"w{i}" for i in range(n)]
    vectors = rows_of(n)  # float64: written as float32
    out = io.BytesIO()
    write_binary(out, words, vectors)
    record = 4 * 3
    raw = out.getvalue()
    position = 0
    for i in range(n):
        head = f"w{i} ".encode()
        assert raw[position:position + len(head)] == head
        position += len(head)
        row = np.frombuffer(raw[position:position + record], dtype="<f4")
        np.testing.assert_array_equal(row, vectors[i].astype(np.float32))
        position += record
        assert raw[position:position + 1] == b"\n"
        position += 1
    assert position == len(raw)


def test_words_a_format_cannot_hold_are_named_with_their_row():
    assert check_words(["a", "b c", "d\te"], binary=False) is None  # text takes spaces, tabs
    assert check_words(["a", "", "c"], binary=False) == "an empty word (row 2)"
    assert check_words(["a", "", "c"], binary=True) == "an empty word (row 2)"
    assert (check_words(["a", "b", "new\nline"], binary=False)
            == "the word 'new\\nline' (row 3), which holds a newline")
    assert (check_words(["a", "b", "new\nline"], binary=True)
            == "the word 'new\\nline' (row 3), which holds a newline")
    assert (check_words(["a", "b c"], binary=True)
            == "the word 'b c' (row 2), which holds an ASCII space")
    # the first problem in the order of the checks, at the first row that has it
    assert (check_words(["x y", "p\nq", "r\ns"], binary=True)
            == "the word 'p\\nq' (row 2), which holds a newline")
    assert check_words(["a\0b"], binary=True) is None  # the join's separator is no newline


def test_a_float64_block_is_written_as_its_float32_values():
    # 1.000005 in float64 is just below the tie, in float32 just above it
    block = np.array([[1.000005, -2.5e-7]])
    assert format_rows(block) == printf(block.astype(np.float32)) == [
        b"1.00001e+00 -2.50000e-07\n"]
