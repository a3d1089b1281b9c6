"""Byte ranges of corpus files (embedkit.text.ranges, read by --cluster's workers) give exactly
the text a single pass reads, in blocks of about the asked size, with one-line errors."""

from __future__ import annotations

import gzip

import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.corpus import iter_text_blocks
from embedkit.text.ranges import ByteRange, file_size, iter_range_blocks, split_ranges

#: U+FEFF inside the text is a zero-width no-break space, not a byte-order mark: the second
#: one starts the second 16-byte read of the file.
TEXTS = {
    "plain": "the cat sat\r\non the mat\n\nthe dog\rran away\nlast line without end",
    "bom": "\ufeffthe cat sat on the mat\nthe dog\n",
    "inner feff": "0123456789abcde\n\ufeffword\nlast",
    "short last line": "a b\nc d",
    "spaces only at the end": "a b ",
}


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("range_bytes", [1, 7, 40, 10**6])
def test_ranges_read_exactly_the_text_of_a_single_pass(tmp_path, name, range_bytes):
    path = tmp_path / "c.txt"
    path.write_bytes(TEXTS[name].encode())
    pieces = split_ranges(str(path), file_size(str(path)), range_bytes)
    text = "".join(block for piece in pieces for block in iter_range_blocks(piece, 16))
    assert text == "".join(iter_text_blocks([path]))


def test_a_long_line_comes_in_blocks_of_about_the_asked_size(tmp_path):
    path = tmp_path / "long.txt"
    line = " ".join(f"w{i:03d}" for i in range(200)) + "\t" + "\t".join(["tab"] * 100)
    path.write_text(line + "\n")
    blocks = list(iter_range_blocks(ByteRange(str(path), 0, None), 16))
    assert "".join(blocks) == line + "\n"
    # cut at the last space or tab of each read: never longer than a read and a word
    assert len(blocks) > 60 and max(map(len, blocks)) <= 16 + 4


def test_bad_utf8_in_an_unfinished_last_line_names_the_file_and_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good line\nbad \xff")
    with pytest.raises(EmbedkitError) as error:
        list(iter_range_blocks(ByteRange(str(path), 0, None), 1 << 10))
    assert str(error.value) == (f"{path}: byte 15: not valid UTF-8 text (invalid start byte)")


def test_bad_utf8_in_a_compressed_file_counts_decompressed_bytes(tmp_path):
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"good line\nbad \xff here\n"))
    with pytest.raises(EmbedkitError) as error:
        list(iter_range_blocks(ByteRange(str(path), 0, None)))
    assert str(error.value) == (f"{path}: byte 15 of the decompressed text: not valid UTF-8 "
                                "text (invalid start byte)")
