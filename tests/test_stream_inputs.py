"""Inputs told by their content, not their name: a gzip or bzip2 corpus or vector file whose
name does not say so, and pipes (a FIFO, bash's ``<(...)``) that can be read only once, both
as the shell passes them (subprocess, bash) and through the library."""

from __future__ import annotations

import bz2
import gzip
import os
import shutil
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.io import open_input
from embedkit.text.corpus import spool_streams
from embedkit.text.ranges import file_size

TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 20
WINDOWS = ["windows", "--min-count", "1", "--subsample", "0", "--fixed-window", "--window", "2"]
TIMEOUT = 60  # a second open of a FIFO waits for a writer that has gone: fail, do not hang

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash's <(...)")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def embedkit(script: str, cwd) -> subprocess.CompletedProcess:
    """``script``, a bash command line in which ``embedkit`` is this interpreter's CLI."""
    command = f'embedkit() {{ "{sys.executable}" -m embedkit "$@"; }}; {script}'
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress], ids=["gzip", "bzip2"])
def test_compressed_file_without_its_suffix_is_read_as_text(tmp_path, plain, compress):
    packed = tmp_path / "corpus"
    packed.write_bytes(compress(TEXT.encode()))
    expected = run("vocab", plain, "--min-count", 1)
    result = run("vocab", packed, "--min-count", 1)
    assert result.exit_code == 0, result.output
    assert result.output == expected.output
    assert run(*WINDOWS, packed).output == run(*WINDOWS, plain).output


def test_gzip_vectors_without_the_suffix_are_read(tmp_path):
    vectors = "3 2\nking 1 0\nqueen 0.9 0.1\nsheep 0 1\n"
    packed = tmp_path / "vectors.vec"  # word2vec text by its suffix, gzip by its bytes
    packed.write_bytes(gzip.compress(vectors.encode()))
    result = run("neighbors", packed, "king", "-k", 1)
    assert result.exit_code == 0, result.output
    assert "queen" in result.output


def test_a_compressed_file_without_the_suffix_is_one_range(tmp_path, plain):
    packed = tmp_path / "corpus"
    packed.write_bytes(gzip.compress(TEXT.encode()))
    assert file_size(str(packed)) is None  # read whole, never cut inside the gzip stream
    assert file_size(str(plain)) == len(TEXT)


def test_a_plain_file_starting_with_gzip_like_text_is_plain(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"BZh9 is not bzip2 here\n")
    with open_input(path) as stream:
        assert stream.read() == "BZh9 is not bzip2 here\n"


def _fifo_writer(fifo, data: bytes) -> threading.Thread:
    """A thread that writes ``data`` once into ``fifo`` (as a shell pipeline would)."""
    def write():
        with open(fifo, "wb") as out:
            out.write(data)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("compress", [bytes, gzip.compress], ids=["plain", "gzip"])
def test_a_fifo_is_spooled_once_and_read_twice(tmp_path, compress):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = _fifo_writer(fifo, compress(TEXT.encode()))
    with spool_streams([str(fifo), str(fifo)]) as paths:
        writer.join(TIMEOUT)
        assert not writer.is_alive()
        for _ in range(2):  # the copy, read again as often as needed
            for path in paths:
                with open_input(path) as stream:
                    assert stream.read() == TEXT


@needs_bash
@pytest.mark.parametrize("command", [WINDOWS, ["vocab", "--min-count", "1"]],
                         ids=["windows", "vocab"])
def test_gzip_corpus_through_process_substitution_and_a_fifo(tmp_path, plain, command):
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    os.mkfifo(tmp_path / "fifo")
    args = " ".join(command)
    expected = embedkit(f"embedkit {args} c.txt", tmp_path)
    assert expected.returncode == 0, expected.stderr
    substituted = embedkit(f"embedkit {args} <(cat c.txt.gz)", tmp_path)
    assert substituted.returncode == 0, substituted.stderr
    assert substituted.stdout == expected.stdout
    fifo = embedkit(f"cat c.txt.gz > fifo & embedkit {args} fifo; wait", tmp_path)
    assert fifo.returncode == 0, fifo.stderr
    assert fifo.stdout == expected.stdout


@needs_bash
def test_train_w2v_reads_a_gzip_fifo_every_epoch(tmp_path, plain):
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    os.mkfifo(tmp_path / "fifo")
    train = "train-w2v --min-count 1 --dim 4 --epochs 2 --threads 1"
    result = embedkit(f"cat c.txt.gz > fifo & embedkit {train} fifo -o fifo.vec; wait", tmp_path)
    assert result.returncode == 0, result.stderr
    assert embedkit(f"embedkit {train} c.txt -o plain.vec", tmp_path).returncode == 0
    assert (tmp_path / "fifo.vec").read_text() == (tmp_path / "plain.vec").read_text()


@needs_bash
@pytest.mark.parametrize("command", [["vocab"], WINDOWS], ids=["read once", "spooled"])
def test_errors_in_a_pipe_name_it_as_given_and_the_line(tmp_path, command):
    result = embedkit(f"embedkit {' '.join(command)} <(printf 'a b\\nc \\xff d\\n')", tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("embedkit: error: /dev/fd/")
    assert ": line 2, byte 7: not valid UTF-8 text" in lines[0]
    assert "embedkit-stdin" not in lines[0] and "Traceback" not in result.stderr


def test_corrupt_gzip_without_the_suffix_names_the_file(tmp_path):
    packed = tmp_path / "corpus"
    packed.write_bytes(gzip.compress(TEXT.encode() * 50)[:-30])
    with pytest.raises(EmbedkitError, match=r"corpus: corrupt or truncated compressed file"):
        with open_input(packed) as stream:
            stream.read()


@pytest.mark.timeout(TIMEOUT)
def test_cluster_refuses_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run("train-w2v", fifo, "--cluster", "local:1", "-o", tmp_path / "v.vec")
    assert result.exit_code == 1
    assert f"cannot read {fifo}: a pipe" in result.output
    assert not (tmp_path / "v.vec").exists()
