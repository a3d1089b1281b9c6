"""A leading UTF-8 byte-order mark (EF BB BF) is skipped by every text reader on the text side:
corpora (plain, .gz, .bz2, stdin), vocabulary files, query streams (case 03's corpus part)."""

import bz2
import codecs
import gzip
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.io import open_input
from embedkit.text.corpus import iter_token_blocks
from embedkit.text.tokenize import SENTENCE_END
from embedkit.text.vocab import Vocabulary
from embedkit.vectors import save_vectors

DATA = Path(__file__).parent / "data"
BOM = codecs.BOM_UTF8
TEXT = "the cat\nthe dog\n"


def tokens(paths, tokenizer="regex"):
    from embedkit.text.tokenize import Tokenizer
    return [t for block in iter_token_blocks(paths, Tokenizer(tokenizer)) for t in block]


@pytest.mark.parametrize("compress", [bytes, gzip.compress, bz2.compress],
                         ids=["plain", "gz", "bz2"])
@pytest.mark.parametrize("tokenizer", ["regex", "whitespace"])
def test_corpus_files_skip_a_bom(tmp_path, compress, tokenizer):
    suffix = {bytes: "", gzip.compress: ".gz", bz2.compress: ".bz2"}[compress]
    path = tmp_path / f"c.txt{suffix}"
    path.write_bytes(compress(BOM + TEXT.encode()))
    assert tokens([path], tokenizer) == ["the", "cat", SENTENCE_END, "the", "dog",
                                         SENTENCE_END]


def test_each_file_of_a_corpus_may_start_with_a_bom(tmp_path):
    for name in "ab":
        (tmp_path / name).write_bytes(BOM + b"x y\n")
    assert tokens([tmp_path / "a", tmp_path / "b"], "whitespace") == [
        "x", "y", SENTENCE_END] * 2


def test_only_a_leading_bom_is_dropped(tmp_path):
    # U+FEFF inside the text is a zero-width no-break space: not the reader's business.
    path = tmp_path / "c.txt"
    path.write_bytes(BOM + BOM + b"x\n")
    with open_input(path) as stream:
        assert stream.read() == "\ufeffx\n"


def test_corpus_on_stdin_skips_a_bom(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(BOM + TEXT.encode())))
    assert tokens(["-"], "whitespace")[0] == "the"


def test_case03_corpus_with_bom_counts_the_twice():
    result = CliRunner().invoke(main, ["vocab", str(DATA / "case03_corpus_bom.txt"),
                                       "--min-count", "1", "--tokenizer", "whitespace"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "the\t2"
    assert "\ufeff" not in result.output


def test_vocab_of_stdin_with_a_bom_has_no_bom_word():
    result = CliRunner().invoke(main, ["vocab", "-", "--min-count", "1", "--tokenizer",
                                       "whitespace"], input=BOM + TEXT.encode())
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["the\t2", "cat\t1", "dog\t1"]


def test_vocabulary_file_skips_a_bom(tmp_path):
    path = tmp_path / "v.tsv"
    path.write_bytes(BOM + b"the\t2\ncat\t1\n")
    assert Vocabulary.load(path).words == ["the", "cat"]


def test_undecodable_text_is_still_named_utf8(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(BOM + b"ok\n\xff\n")
    with pytest.raises(ValueError, match=r"line 2, byte 7: not valid UTF-8 text"):
        tokens([path])


@pytest.fixture
def vectors(tmp_path):
    path = tmp_path / "v.vec"
    save_vectors(path, ["the", "cat", "dog"], np.eye(3, dtype=np.float32) + 0.1)
    return path


def test_query_stream_skips_a_bom(vectors):
    # A real pipe: the query reader takes the descriptor path.
    done = subprocess.run([sys.executable, "-m", "embedkit", "neighbors", str(vectors), "-k",
                           "1"], input=BOM + b"the\ncat\n", capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [line.split(b"\t")[0] for line in done.stdout.splitlines()] == [b"the", b"cat"]


def test_query_stream_without_descriptor_skips_a_bom(vectors):
    result = CliRunner().invoke(main, ["neighbors", str(vectors), "-k", "1"],
                                input=BOM + b"the\n")
    assert result.exit_code == 0, result.output
    assert result.output.split("\t")[0] == "the"


def test_a_bom_alone_is_no_query(vectors):
    done = subprocess.run([sys.executable, "-m", "embedkit", "neighbors", str(vectors)],
                          input=BOM, capture_output=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
