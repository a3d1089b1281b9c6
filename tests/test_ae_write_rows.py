"""encode and decode write their output one block of rows at a time (never the whole matrix in
memory): the same bytes as writing the whole matrix, in every output format, atomically, to
links and pipes as well as files."""

from __future__ import annotations

import errno
import gzip
import os
import threading
import time
import types
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import streaming
from embedkit.ae import Autoencoder, load_model
from embedkit.ae.data import read_matrix, write_matrix
from embedkit.ae.models import Architecture
from embedkit.cli import main
from embedkit.core import tensor as tensor_module

ROWS, FEATURES, HIDDEN = 50, 12, 3
#: Block sizes of a few rows that divide neither 50 nor each other.
ENCODE_BLOCK_ROWS, DECODE_BLOCK_ROWS = 7, 6


def data(dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.standard_normal((FEATURES, HIDDEN)))[0]
    X = (rng.standard_normal((ROWS, HIDDEN)) * [3, 2, 1]) @ basis.T
    return (X + 0.1 * rng.standard_normal(X.shape) + 2).astype(dtype)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows for encode (of its input) and 6 for decode (of its output): 50 rows
    are 8 and 9 blocks, the last ones short."""
    def block_rows(X, size=None):
        return ENCODE_BLOCK_ROWS if X.shape[1] == FEATURES and len(X) else DECODE_BLOCK_ROWS
    monkeypatch.setattr(streaming, "block_rows", block_rows)


@pytest.fixture
def fixed_clock(monkeypatch):
    """zipfile stamps each member with the time: the same time for both archives compared."""
    clock = types.SimpleNamespace(time=lambda: 1.7e9, localtime=time.localtime)
    monkeypatch.setattr(zipfile, "time", clock)


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "m.npz"
    Autoencoder(HIDDEN, kind="nonlinear", epochs=2, random_state=0).fit(data()).save(path)
    return path


def write_vec(path, X):
    with open(path, "w") as out:
        out.write(f"{len(X)} {X.shape[1]}\n")
        for i, row in enumerate(X):
            out.write(f"w{i} " + " ".join(f"{v:.6g}" for v in row) + "\n")


def inputs(tmp_path, command, model):
    """The input files of ``command``: word vectors (.vec, whose words the word formats keep)
    and a float64 .npy (memory-mapped)."""
    X = data()
    if command == "decode":
        X = model.transform(X) * 1.5  # codes, not all of them seen in training
    write_vec(tmp_path / "in.vec", X)
    np.save(tmp_path / "in.npy", X.astype(np.float64))
    return {"vec": tmp_path / "in.vec", "npy": tmp_path / "in.npy"}


OUTPUTS = {  # output name: the inputs it can be written from
    "out.npy": ("vec", "npy"), "out.npz": ("vec", "npy"), "out.csv": ("vec", "npy"),
    "out.tsv": ("vec", "npy"), "out.vec": ("vec",), "out.bin": ("vec",),
    "out.fasttext.bin": ("vec",), "out.npy.gz": ("npy",), "out.csv.bz2": ("npy",),
}


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_every_output_format_is_the_whole_matrix_path_byte_for_byte(
        tmp_path, small_blocks, fixed_clock, model_path, command):
    """Each format written block by block (8 or 9 blocks) against write_matrix of the whole
    result, as encode and decode wrote before; stdout too."""
    model = load_model(model_path)
    method = "transform" if command == "encode" else "inverse_transform"
    for kind, path in inputs(tmp_path, command, model).items():
        matrix = read_matrix(path)
        whole = getattr(model, method)(matrix.values)
        assert whole.dtype == (np.float32 if kind == "vec" else np.float64)
        for name, kinds in OUTPUTS.items():
            if kind not in kinds:
                continue
            fmt = ["--format", "fasttext"] if "fasttext" in name else []
            streamed = tmp_path / f"{kind}-{name}"
            result = CliRunner().invoke(main, [command, str(model_path), str(path), "-o",
                                               str(streamed), *fmt])
            assert result.exit_code == 0, result.output
            reference = tmp_path / f"reference-{kind}-{name}"
            write_matrix(reference, whole, matrix.words, "fasttext" if fmt else None)
            assert streamed.read_bytes() == reference.read_bytes(), (kind, name)
        result = CliRunner().invoke(main, [command, str(model_path), str(path)])
        write_matrix(tmp_path / "stdout.csv", whole)
        assert result.stdout_bytes == (tmp_path / "stdout.csv").read_bytes()


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_rows_stay_in_order_across_blocks_that_do_not_divide_the_rows(
        tmp_path, small_blocks, command):
    """The values against the model's formula row by row (linear, untied: codes W(x − mean),
    reconstructions Uh + mean), read back from the .npy written block by block."""
    X = data(np.float64)
    model = Autoencoder(HIDDEN, tied=False, epochs=2, random_state=0).fit(X)
    model.save(tmp_path / "m.npz")
    W, U = model.params_["W"], model.params_["U"]
    if command == "encode":
        given, expected = X, (X - model.mean_) @ W.T
    else:
        given = (X - model.mean_) @ W.T + 0.5
        expected = given @ U.T + model.mean_
    np.save(tmp_path / "in.npy", given)
    blocks = getattr(model, f"{'transform' if command == 'encode' else 'inverse_transform'}"
                            "_blocks")(given)
    assert [len(b) for b in blocks.blocks][-1] == ROWS % (
        ENCODE_BLOCK_ROWS if command == "encode" else DECODE_BLOCK_ROWS)  # a short last block
    result = CliRunner().invoke(main, [command, str(tmp_path / "m.npz"), str(tmp_path / "in.npy"),
                                       "-o", str(tmp_path / "out.npy")])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-12, atol=1e-12)


def failing_rows(model, X, after: int, error: BaseException) -> streaming.RowBlocks:
    """``model.transform_blocks(X)`` that raises ``error`` instead of its block ``after``."""
    rows = model.transform_blocks(X)

    def blocks():
        for i, block in enumerate(rows.blocks):
            if i == after:
                raise error
            yield block
    return streaming.RowBlocks(rows.shape, rows.dtype, blocks())


@pytest.mark.parametrize("name", ["old.npy", "old.npz", "old.csv", "old.vec", "old.npy.gz"])
@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("failed mid-way")])
def test_a_failure_mid_way_leaves_the_existing_output_untouched_and_no_partial_file(
        tmp_path, small_blocks, name, error):
    X = data()
    model = Autoencoder(HIDDEN, epochs=1, random_state=0).fit(X)
    words = [f"w{i}" for i in range(ROWS)]
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"what was there before")
    with pytest.raises(type(error)):
        write_matrix(out / name, failing_rows(model, X, 3, error), words)
    assert os.listdir(out) == [name]
    assert (out / name).read_bytes() == b"what was there before"
    with pytest.raises(type(error)):
        write_matrix(out / f"new-{name}", failing_rows(model, X, 3, error), words)
    assert os.listdir(out) == [name]


def test_a_failing_encode_command_writes_nothing(tmp_path, small_blocks, model_path,
                                                 monkeypatch):
    np.save(tmp_path / "in.npy", data())
    (tmp_path / "codes.npy").write_bytes(b"before")
    calls = []
    encode = Architecture.encode

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 4:
            raise MemoryError("no room for the fourth block")
        return encode(self, *args)
    monkeypatch.setattr(Architecture, "encode", failing)
    result = CliRunner().invoke(main, ["encode", str(model_path), str(tmp_path / "in.npy"),
                                       "-o", str(tmp_path / "codes.npy")])
    assert result.exit_code != 0 and len(calls) == 4
    assert sorted(os.listdir(tmp_path)) == ["codes.npy", "in.npy", "m.npz"]
    assert (tmp_path / "codes.npy").read_bytes() == b"before"


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_a_symbolic_link_output_stays_a_link_to_the_rewritten_file(tmp_path, small_blocks,
                                                                    model_path, suffix):
    np.save(tmp_path / "in.npy", data())
    real = tmp_path / "store" / f"codes{suffix}"
    real.parent.mkdir()
    real.write_bytes(b"old codes")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(real)
    result = CliRunner().invoke(main, ["encode", str(model_path), str(tmp_path / "in.npy"),
                                       "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    expected = load_model(model_path).transform(data())
    written = np.load(real) if suffix == ".npy" else np.loadtxt(real, delimiter=",")
    np.testing.assert_allclose(written, expected, rtol=1e-6)
    assert os.listdir(real.parent) == [real.name]


@pytest.mark.parametrize("command", ["encode", "decode"])
@pytest.mark.parametrize("suffix", [".npy", ".npy.gz", ".csv"])
def test_a_fifo_output_is_written_in_place(tmp_path, small_blocks, model_path, command,
                                           suffix):
    """A named pipe (which cannot be memory-mapped): the .npy header, then the rows, as the
    file would hold them."""
    model = load_model(model_path)
    given = data() if command == "encode" else model.transform(data())
    np.save(tmp_path / "in.npy", given)
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = CliRunner().invoke(main, [command, str(model_path), str(tmp_path / "in.npy"),
                                       "-o", str(fifo)])
    reader.join(30)
    assert result.exit_code == 0, result.output
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    whole = model.transform(given) if command == "encode" else model.inverse_transform(given)
    write_matrix(tmp_path / f"reference{suffix}", whole)
    raw = received[0]
    assert raw == (tmp_path / f"reference{suffix}").read_bytes()
    if suffix == ".npy.gz":
        raw = gzip.decompress(raw)
    if suffix != ".csv":
        assert raw.startswith(b"\x93NUMPY")


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EOPNOTSUPP])
def test_the_space_of_a_mapped_npy_is_reserved_first(tmp_path, model_path, monkeypatch,
                                                     error):
    """A full disk when reserving (where writing into the map's holes would end the process
    with SIGBUS) is one line naming the output, which is left as it was; a filesystem that
    cannot reserve space is written all the same."""
    np.save(tmp_path / "in.npy", data())
    (tmp_path / "codes.npy").write_bytes(b"before")

    def posix_fallocate(fd, offset, length):
        raise OSError(error, os.strerror(error))
    monkeypatch.setattr(os, "posix_fallocate", posix_fallocate)
    result = CliRunner().invoke(main, ["encode", str(model_path), str(tmp_path / "in.npy"),
                                       "-o", str(tmp_path / "codes.npy")])
    assert sorted(os.listdir(tmp_path)) == ["codes.npy", "in.npy", "m.npz"]
    if error == errno.ENOSPC:
        assert result.exit_code == 1
        assert result.output == (f"embedkit: error: {tmp_path / 'codes.npy'}: cannot write "
                                 "(No space left on device)\n")
        assert (tmp_path / "codes.npy").read_bytes() == b"before"
    else:
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"),
                                      load_model(model_path).transform(data()))


@pytest.mark.parametrize("method", ["transform_blocks", "inverse_transform_blocks"])
def test_blocks_left_half_way_leave_gradients_on(method):
    """A caller that stops after one block (an error while writing it) must not leave the
    core's no-grad mode switched on: training afterwards would compute no gradients."""
    X = data(np.float64)
    model = Autoencoder(HIDDEN, epochs=1, random_state=0).fit(X)
    given = X if method == "transform_blocks" else model.transform(X)
    blocks = iter(getattr(model, method)(given).blocks)
    next(blocks)
    assert tensor_module._grad_enabled
    again = Autoencoder(HIDDEN, epochs=1, random_state=0).fit(X)
    np.testing.assert_array_equal(again.params_["W"], model.params_["W"])
