"""The one table of file formats: every suffix means the same to every reader, writer and
command, and content without a telling suffix (stdin, other suffixes) is recognised."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.ae.data import output_format, read_matrix, write_matrix
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.formats import COMPRESSIONS, FORMATS, format_of, read_table, write_table
from embedkit.vectors import load_vectors, save_vectors

WORDS = ["the", "of", "naïve", "x\u00a0y", "日本"]
SUFFIXES = sorted((suffix, f.name) for f in FORMATS.values() for suffix in f.suffixes)


@pytest.fixture
def values():
    return np.random.default_rng(0).standard_normal((len(WORDS), 3)).astype(np.float32)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), b, rtol=5e-6, atol=1e-12)


def test_the_table_covers_what_both_old_tables_knew():
    assert dict(SUFFIXES) == {".vec": "text", ".txt": "text", ".w2v": "text", ".bin": "binary",
                              ".npz": "npz", ".npy": "npy", ".csv": "csv", ".tsv": "tsv"}
    for suffix, name in SUFFIXES:
        for compression in ("", *COMPRESSIONS):
            assert format_of(f"dir.v/File{suffix.upper()}{compression}").name == name
    assert format_of("-") is None and format_of("vectors") is None


@pytest.mark.parametrize(("suffix", "name"), SUFFIXES)
@pytest.mark.parametrize("compression", ["", ".gz"])
def test_every_suffix_means_the_same_to_every_reader_and_writer(tmp_path, values, suffix, name,
                                                                compression):
    """Word vectors written by the vector writer (train-w2v, convert) and by the matrix writer
    (autoencode --codes, encode -o) read back the same through the vector readers (neighbors,
    evaluate) and the matrix reader (autoencode, encode, compare-pca)."""
    path, other = tmp_path / f"a{suffix}{compression}", tmp_path / f"b{suffix}{compression}"
    holds_words = FORMATS[name].words != "never"
    if name == "npz" and compression:
        for write in (lambda p: save_vectors(p, WORDS, values),
                      lambda p: write_matrix(p, values, WORDS)):
            with pytest.raises(EmbedkitError, match="zip archive already"):
                write(path)
        return
    if holds_words:
        save_vectors(path, WORDS, values)
    else:
        with pytest.raises(EmbedkitError, match=f"{name.upper()} holds no words"):
            save_vectors(path, WORDS, values)
        write_table(path, values, WORDS, stdout="csv")
    write_matrix(other, values, WORDS)
    for written in (path, other):
        assert read_table(written).format == name
        matrix = read_matrix(written)
        close(matrix.values, values)
        if holds_words and not (name == "npy" and written == other):
            assert matrix.words == WORDS
            kv = load_vectors(written)
            assert kv.words == WORDS
            close(kv.vectors, values)
        else:
            assert matrix.words is None
            with pytest.raises(EmbedkitError, match="holds no words|needs a vocabulary"):
                load_vectors(written)


def test_train_w2v_text_output_is_read_as_word_vectors_by_autoencode_and_neighbors(tmp_path):
    """The bug of issue #13, kind 10: a .txt from train-w2v was CSV to autoencode."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    runner = CliRunner()
    vectors = tmp_path / "vectors.txt"
    result = runner.invoke(main, ["train-w2v", str(corpus), "--min-count", "1", "--dim", "4",
                                  "--epochs", "1", "--threads", "1", "-o", str(vectors)])
    assert result.exit_code == 0, result.stderr
    codes = tmp_path / "codes.txt"
    result = runner.invoke(main, ["autoencode", str(vectors), "--hidden", "2", "--epochs", "1",
                                  "-o", str(tmp_path / "m.npz"), "--codes", str(codes)])
    assert result.exit_code == 0, result.stderr
    assert load_vectors(codes).words == load_vectors(vectors).words
    result = runner.invoke(main, ["neighbors", str(codes), "cat", "-k", "1"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("cat\t1\t")


def test_train_w2v_refuses_a_format_without_words_before_training(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 5)
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--min-count", "1", "-o",
                                       str(tmp_path / "v.csv")])
    assert result.exit_code == 1
    assert "v.csv: CSV holds no words" in result.stderr
    assert "epoch" not in result.stderr  # refused before the first epoch
    assert not (tmp_path / "v.csv").exists()


@pytest.mark.parametrize("fmt", ["text", "binary", "npy", "npz", "csv"])
def test_content_without_a_telling_suffix_is_recognised(tmp_path, values, fmt):
    path = tmp_path / "data.dat"
    write_table(path, values, WORDS if fmt != "csv" else None, fmt=fmt)
    table = read_table(path)
    assert table.format == ("delimited" if fmt == "csv" else fmt)
    close(table.values, values)
    if fmt in ("text", "binary", "npz"):
        assert table.words == WORDS


def test_stdin_is_recognised_by_content(tmp_path, values, monkeypatch):
    for fmt in ("text", "npy", "csv"):
        path = tmp_path / f"x.{fmt}"
        write_table(path, values, WORDS if fmt == "text" else None, fmt=fmt)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
        close(read_matrix("-").values, values)


def test_unknown_suffixes_and_stdout_get_the_command_stream_format(tmp_path, values, capsys):
    save_vectors(tmp_path / "vectors", WORDS, values)
    assert (tmp_path / "vectors").read_bytes().startswith(b"5 3\n")
    write_matrix(tmp_path / "codes", values)
    assert read_table(tmp_path / "codes").format == "delimited"
    assert output_format(None).name == "csv" and output_format("-", WORDS).name == "csv"


def test_formats_needing_words_refuse_a_bare_matrix(tmp_path, values):
    for name in ("c.vec", "c.bin", "c.txt.gz"):
        with pytest.raises(EmbedkitError, match="word vector output .* needs word vectors"):
            write_matrix(tmp_path / name, values)
    assert list(tmp_path.iterdir()) == []
