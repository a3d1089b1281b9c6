"""Inputs of the matrix commands that cannot be memory-mapped (CSV/TSV, word vector files) at
scale: read one block at a time and, past a size, converted once to an anonymous temporary file
that is streamed like a .npy and leaves nothing behind on any exit."""

from __future__ import annotations

import re
import tempfile

import numpy as np
import pytest

from embedkit import streaming
from embedkit.ae import load_model
from embedkit.ae.data import read_matrix
from embedkit.errors import EmbedkitError
from embedkit.formats import delimited, word2vec
from embedkit.vectors.formats import load_vectors, save_vectors


def low_rank(n_rows=2000, n_features=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_features, k)))[0]
    X = (rng.standard_normal((n_rows, k)) * np.linspace(4, 1.5, k)) @ basis.T
    return X + 0.05 * rng.standard_normal(X.shape) + 3.0


@pytest.fixture
def small_limits(tmp_path, monkeypatch):
    """Blocks of about 4 kB of text, a conversion past 20 kB of numbers, training runs of
    8 kB, and a temporary directory of the test's own (returned)."""
    monkeypatch.setattr(delimited, "BLOCK_TEXT_BYTES", 4096)
    monkeypatch.setattr(streaming, "SPILL_BYTES", 20_000)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 8192)
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def write_csv(path, X, header=True):
    with open(path, "w") as out:
        if header:
            out.write(",".join(f"f{j}" for j in range(X.shape[1])) + "\n")
        np.savetxt(out, X, delimiter=",", fmt="%.17g")  # float64 round-trips exactly


def test_a_large_csv_is_converted_once_and_gives_the_npy_files_results(tmp_path, small_limits,
                                                                          cli):
    X = low_rank()
    np.save(tmp_path / "x.npy", X)
    write_csv(tmp_path / "x.csv", X)
    matrix = read_matrix(tmp_path / "x.csv")
    assert streaming.is_mapped(matrix.values) and matrix.values.dtype == np.float64
    np.testing.assert_array_equal(matrix.values, X)
    outputs = {}
    for name in ("x.npy", "x.csv"):
        stem = name.replace(".", "_")
        trained = cli("autoencode", tmp_path / name, "--hidden", 3, "--epochs", 2, "--seed", 4,
                      "-o", tmp_path / f"{stem}.npz", "--codes", tmp_path / f"{stem}_codes.npy")
        assert trained.exit_code == 0, trained.output
        notes = [line for line in trained.stderr.splitlines() if line.startswith("embedkit: note")]
        compared = cli("compare-pca", tmp_path / f"{stem}.npz", tmp_path / name, "--json")
        encoded = cli("encode", tmp_path / f"{stem}.npz", tmp_path / name)
        assert compared.exit_code == 0 and encoded.exit_code == 0
        outputs[name] = (load_model(tmp_path / f"{stem}.npz"),
                         np.load(tmp_path / f"{stem}_codes.npy"), compared.stdout,
                         encoded.stdout, notes)
    (npy_model, npy_codes, npy_pca, npy_encoded, npy_notes), \
        (csv_model, csv_codes, csv_pca, csv_encoded, csv_notes) = outputs.values()
    # the same rows in the same order (runs of rows shuffled alike): the same model, bit for bit
    np.testing.assert_array_equal(csv_model.components_, npy_model.components_)
    np.testing.assert_array_equal(csv_model.mean_, npy_model.mean_)
    np.testing.assert_array_equal(csv_codes, npy_codes)
    assert csv_pca == npy_pca and csv_encoded == npy_encoded
    assert npy_notes == [] and len(csv_notes) == 1
    assert "x.csv" in csv_notes[0] and "temporary file" in csv_notes[0]
    assert list(small_limits.iterdir()) == []


def test_a_small_csv_stays_in_memory_without_a_note(tmp_path, cli):
    X = low_rank(n_rows=50)
    write_csv(tmp_path / "x.csv", X, header=False)
    assert not streaming.is_mapped(read_matrix(tmp_path / "x.csv").values)
    result = cli("autoencode", tmp_path / "x.csv", "--hidden", 2, "--epochs", 1,
                 "-o", tmp_path / "m.npz")
    assert result.exit_code == 0 and "note" not in result.stderr


@pytest.mark.parametrize("bad, message", [
    ("1,2,oops,4", "line 1502, field 3: 'oops' is not a number"),
    ("1,2,3", "line 1502: 3 fields, expected 4 like line 2"),
    ("1,nan,3,4", "line 1502, column 2: nan"),
])
def test_a_bad_row_after_the_conversion_began_is_named_and_leaves_nothing(
        tmp_path, small_limits, cli, bad, message):
    lines = ["a,b,c,d"] + [f"{i},{i % 7},{i % 5},{i % 3}" for i in range(2000)]
    lines[1501] = bad  # line 1502 of the file, past 20 kB of numbers
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(EmbedkitError, match=message):
        read_matrix(tmp_path / "bad.csv")
    out = tmp_path / "out"
    out.mkdir()
    result = cli("autoencode", tmp_path / "bad.csv", "--hidden", 2, "-o", out / "m.npz")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("embedkit: error: ") and message in errors[0]
    assert "temporary file" in result.stderr  # the conversion had begun
    assert list(out.iterdir()) == [] and list(small_limits.iterdir()) == []


def test_ctrl_c_during_the_conversion_leaves_no_temporary_file(tmp_path, small_limits,
                                                              monkeypatch, cli):
    write_csv(tmp_path / "x.csv", low_rank())
    reader = delimited.iter_delimited
    seen = []

    def interrupted(*args, **kwargs):
        for number, block in enumerate(reader(*args, **kwargs)):
            if number == 40:  # past the start of the conversion (block 14)
                seen.extend(small_limits.iterdir())
                raise KeyboardInterrupt
            yield block

    monkeypatch.setattr(delimited, "iter_delimited", interrupted)
    result = cli("autoencode", tmp_path / "x.csv", "--hidden", 2, "-o", tmp_path / "m.npz")
    assert result.exit_code == 130
    assert "temporary file" in result.stderr
    # the temporary file has no name even while it is written, so no exit path can leave it
    assert seen == [] and list(small_limits.iterdir()) == []
    assert not (tmp_path / "m.npz").exists()


def test_a_full_disk_is_a_one_line_error_naming_the_directory(tmp_path, small_limits,
                                                             monkeypatch):
    write_csv(tmp_path / "x.csv", low_rank())

    def full(*args, **kwargs):
        class Full:
            def write(self, data):
                raise OSError(28, "No space left on device")

            def close(self):
                pass
        return Full()

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    with pytest.raises(EmbedkitError, match=f"in {small_limits}: No space left on device; set "
                                            "TMPDIR"):
        read_matrix(tmp_path / "x.csv")


def test_text_read_in_blocks_equals_the_whole_file_read_at_once(tmp_path, monkeypatch):
    """Line numbers, the header, comments and the width check carry across block ends."""
    X = low_rank(n_rows=300, n_features=5)
    text = "\ufeffx\ty\tz\tu\tv\n# a comment\n\n" + "".join(
        "\t".join(f"{v:.17g}" for v in row) + ("\n\n" if i % 50 == 0 else "\n")
        for i, row in enumerate(X))
    (tmp_path / "x.tsv").write_text(text)
    whole = read_matrix(tmp_path / "x.tsv").values
    monkeypatch.setattr(delimited, "BLOCK_TEXT_BYTES", 200)
    np.testing.assert_array_equal(read_matrix(tmp_path / "x.tsv").values, whole)
    np.testing.assert_array_equal(whole, X)
    lines = text.splitlines()
    lines[250] = lines[250].rsplit("\t", 1)[0]
    (tmp_path / "x.tsv").write_text("\n".join(lines))
    with pytest.raises(EmbedkitError, match="line 251: 4 fields, expected 5 like line 4"):
        read_matrix(tmp_path / "x.tsv")


@pytest.mark.parametrize("name", ["v.vec", "v.bin", "v.txt.gz"])
def test_a_large_vector_file_is_converted_once_and_gives_the_npy_files_model(
        tmp_path, small_limits, monkeypatch, cli, name):
    monkeypatch.setattr(word2vec, "TEXT_BLOCK", 64)
    monkeypatch.setattr(word2vec, "BINARY_CHUNK", 4096)
    words = [f"w{i}" for i in range(2000)]
    save_vectors(tmp_path / name, words, low_rank().astype(np.float32))
    whole = load_vectors(tmp_path / name)  # in memory: the values as the file spells them
    np.save(tmp_path / "v.npy", whole.vectors)
    matrix = read_matrix(tmp_path / name)
    assert streaming.is_mapped(matrix.values) and matrix.words == words
    np.testing.assert_array_equal(matrix.values, whole.vectors)
    models = []
    for data, codes in ((tmp_path / "v.npy", "c.npz"), (tmp_path / name, "c.vec")):
        result = cli("autoencode", data, "--hidden", 3, "--epochs", 2, "--seed", 1, "-o",
                     tmp_path / "m.npz", "--codes", tmp_path / codes)
        assert result.exit_code == 0, result.output
        models.append(load_model(tmp_path / "m.npz").components_)
    np.testing.assert_array_equal(models[0], models[1])
    codes = load_vectors(tmp_path / "c.vec")  # the words kept beside the converted rows
    assert codes.words == words
    np.testing.assert_allclose(codes.vectors, np.load(tmp_path / "c.npz")["vectors"], rtol=1e-5,
                               atol=1e-5)
    assert list(small_limits.iterdir()) == []


@pytest.mark.parametrize("name, message", [("v.vec", "line 1502, column 5: nan"),
                                           ("v.bin", "vector 1501 (byte ")])
def test_nan_deep_in_a_vector_file_is_named_after_the_conversion_began(
        tmp_path, small_limits, monkeypatch, name, message):
    monkeypatch.setattr(word2vec, "TEXT_BLOCK", 64)
    monkeypatch.setattr(word2vec, "BINARY_CHUNK", 4096)
    X = low_rank().astype(np.float32)
    if name.endswith(".bin"):
        X[1500, 4] = np.nan
    save_vectors(tmp_path / name, [f"w{i}" for i in range(2000)], X)
    if name.endswith(".vec"):  # the text writer refuses NaN: put it in by hand
        lines = (tmp_path / name).read_text().split("\n")
        fields = lines[1501].split(" ")
        lines[1501] = " ".join(fields[:5] + ["nan"] + fields[6:])
        (tmp_path / name).write_text("\n".join(lines))
    notes = []
    with pytest.raises(EmbedkitError, match=re.escape(message)):
        read_matrix(tmp_path / name, note=notes.append)
    assert len(notes) == 1 and list(small_limits.iterdir()) == []


def test_progress_counts_the_rows_of_a_converted_file_and_nothing_for_a_mapped_one(
        tmp_path, small_limits):
    X = low_rank()
    write_csv(tmp_path / "x.csv", X)
    np.save(tmp_path / "x.npy", X)
    seen = []
    read_matrix(tmp_path / "x.csv", progress=seen.append)
    assert sum(seen) == len(X) and len(seen) > 10  # block by block
    seen.clear()
    read_matrix(tmp_path / "x.npy", progress=seen.append)
    assert seen == []
