"""embedkit export-projector: files for the Embedding Projector load back with the right shapes."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.vectors import load_vectors, save_vectors


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(50)] + ["café", "東京"]
    counts = np.arange(len(words), 0, -1) * 7
    return words, rng.standard_normal((len(words), 6)).astype(np.float32) * 3, counts


def load_back(directory):
    tensors = np.loadtxt(directory / "tensors.tsv", delimiter="\t", ndmin=2)
    lines = (directory / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    config = (directory / "projector_config.pbtxt").read_text()
    shape = [int(n) for n in re.findall(r"tensor_shape: (\d+)", config)]
    return tensors, [line.split("\t") for line in lines], config, shape


@pytest.mark.parametrize("block", [None, 7])
def test_npz_with_counts_round_trips(tmp_path, vectors, monkeypatch, block):
    if block:  # several blocks, a short last one
        monkeypatch.setattr("embedkit.vectors.projector.TEXT_BLOCK", block)
    words, matrix, counts = vectors
    save_vectors(tmp_path / "v.npz", words, matrix, counts)
    result = run("export-projector", tmp_path / "v.npz", "-o", tmp_path / "new" / "proj")
    assert result.exit_code == 0, result.output
    tensors, metadata, config, shape = load_back(tmp_path / "new" / "proj")
    assert tensors.shape == matrix.shape and shape == list(matrix.shape)
    np.testing.assert_allclose(tensors, matrix, rtol=6e-6)
    assert metadata[0] == ["word", "count"]
    assert [row[0] for row in metadata[1:]] == words
    assert [int(row[1]) for row in metadata[1:]] == counts.tolist()
    assert 'tensor_path: "tensors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config
    assert 'tensor_name: "v"' in config


def test_text_vectors_have_ranks_and_limit_keeps_the_first(tmp_path, vectors):
    words, matrix, _ = vectors
    save_vectors(tmp_path / "v.vec", words, matrix)
    result = run("export-projector", tmp_path / "v.vec", "-o", tmp_path / "p", "--limit", 10)
    assert result.exit_code == 0, result.output
    tensors, metadata, _, shape = load_back(tmp_path / "p")
    assert tensors.shape == (10, 6) and shape == [10, 6]
    assert metadata[0] == ["word", "rank"] and metadata[1:3] == [["w0", "1"], ["w1", "2"]]
    assert len(metadata) == 11
    np.testing.assert_allclose(tensors, matrix[:10], rtol=6e-6)


def test_memory_mapped_npy_with_vocabulary(tmp_path, vectors):
    words, matrix, counts = vectors
    save_vectors(tmp_path / "m.npy", words, matrix, counts)
    result = run("export-projector", tmp_path / "m.npy", "--mmap", "-o", tmp_path / "p")
    assert result.exit_code == 0, result.output
    tensors, metadata, _, _ = load_back(tmp_path / "p")
    np.testing.assert_allclose(tensors, load_vectors(tmp_path / "m.npy").vectors, rtol=6e-6)
    assert metadata[-1] == ["東京", str(counts[-1])]


def test_words_that_would_break_the_tsv_are_refused(tmp_path):
    save_vectors(tmp_path / "v.npz", ["ok", "tab\there"], np.ones((2, 3), dtype=np.float32))
    result = run("export-projector", tmp_path / "v.npz", "-o", tmp_path / "p")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "row 2" in result.stderr
    assert "'tab\\there'" in result.stderr
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_output_that_is_a_file_is_an_error(tmp_path, vectors):
    words, matrix, _ = vectors
    save_vectors(tmp_path / "v.vec", words, matrix)
    (tmp_path / "afile").write_text("x")
    result = run("export-projector", tmp_path / "v.vec", "-o", tmp_path / "afile")
    assert result.exit_code != 0 and "afile" in result.output + result.stderr


@pytest.mark.parametrize("counts, message", [
    (np.array([3, 2]), "expected a 1-D array of 3 non-negative integers, one per word, got "
                       "int64 of shape (2,)"),
    (np.array([3, 2, 1, 0]), "expected a 1-D array of 3 non-negative integers, one per word, "
                             "got int64 of shape (4,)"),
    (np.array([3, -2, 1]), "entry 2 (the word 'b') is -2: expected a 1-D array of 3 "
                           "non-negative integers, one per word"),
    (np.array([3.5, 2, 1]), "expected a 1-D array of 3 non-negative integers, one per word, "
                            "got float64 of shape (3,)"),
])
@pytest.mark.parametrize("command", ["export-projector", "convert"])
def test_a_hand_made_npz_with_bad_counts_is_refused_naming_the_field(tmp_path, counts, message,
                                                                     command):
    # Such counts were accepted, then export-projector crashed in zip() (too few) or wrote
    # them as they were (negative), and convert to .npz kept them.
    path = tmp_path / "hand.npz"
    np.savez(path, words=np.array(["a", "b", "c"]), vectors=np.eye(3, dtype=np.float32),
             counts=counts)
    out = tmp_path / ("proj" if command == "export-projector" else "out.npz")
    args = [command, str(path), "-o", str(out)] if command == "export-projector" else \
        [command, str(path), str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"embedkit: error: {path}[counts]: {message}\n"
    assert not out.exists()
