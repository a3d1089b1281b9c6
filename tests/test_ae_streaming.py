"""Autoencoders and compare-pca on memory-mapped matrices: streamed block by block, the same
results as in memory, never the whole file resident."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import streaming
from embedkit.ae import Autoencoder, blocks
from embedkit.ae.data import read_matrix
from embedkit.ae.pca import SOLVERS, compare_with_pca, pca_reference, principal_angles
from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.npyfile import load_npy


def low_rank(n_rows=3000, n_features=24, k=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_features, k)))[0]
    X = (rng.standard_normal((n_rows, k)) * np.linspace(4, 1.5, k)) @ basis.T
    return (X + 0.05 * rng.standard_normal(X.shape) + 3.0).astype(dtype)


def mapped(tmp_path, X, name="x.npy"):
    np.save(tmp_path / name, X)
    array = load_npy(tmp_path / name, mmap=True)
    assert streaming.is_mapped(array)
    return array


def test_blocks_cover_every_row_once_and_centring_matches_the_whole_matrix(tmp_path):
    X = low_rank(n_rows=1001, dtype=np.float64)
    mean = X.mean(axis=0)
    seen = np.concatenate([block for _, block in streaming.iter_blocks(mapped(tmp_path, X), 97)])
    np.testing.assert_array_equal(seen, X)
    rows = np.array([5, 0, 1000, 5])
    np.testing.assert_array_equal(blocks.centred_rows(X, rows, mean, np.float32),
                                  (X - mean).astype(np.float32)[rows])
    # into a buffer of the data's dtype (a training batch: gathered and centred in place)
    for picked in (rows, slice(3, 7)):
        out = np.full((4, X.shape[1]), np.nan)
        assert blocks.centred_rows(X, picked, mean, X.dtype, out=out) is out
        np.testing.assert_array_equal(out, (X - mean)[picked])
    # data that come centred (a zero mean): the rows gathered, nothing subtracted
    out = np.full((4, X.shape[1]), np.nan)
    assert blocks.centred_rows(X, rows, np.zeros(X.shape[1]), X.dtype, out=out) is out
    np.testing.assert_array_equal(out, X[rows])
    out32 = np.empty((4, X.shape[1]), np.float32)
    blocks.centred_rows(X, rows, mean, np.float32, out=out32)
    np.testing.assert_array_equal(out32, (X - mean).astype(np.float32)[rows])
    np.testing.assert_allclose(blocks.column_mean(X), mean, rtol=1e-12)
    centred = X - mean
    np.testing.assert_allclose(blocks.centred_gram(X, mean), centred.T @ centred, rtol=1e-10)


def test_epoch_order_visits_each_row_once_in_shuffled_runs():
    rows = np.arange(10, 110)
    order = blocks.epoch_order(rows, np.random.default_rng(0), block=25)
    assert sorted(order) == list(rows)
    runs = [set(order[i:i + 25]) for i in range(0, 100, 25)]
    # each run of the order is one run of 25 consecutive rows, in a shuffled order
    assert all(max(run) - min(run) == 24 for run in runs)
    assert [min(run) for run in runs] != [10, 35, 60, 85]
    assert list(order[:25]) != sorted(order[:25])
    small = blocks.epoch_order(rows, np.random.default_rng(0), block=1000)
    np.testing.assert_array_equal(small, rows[np.random.default_rng(0).permutation(100)])


@pytest.mark.parametrize("options", [{}, {"kind": "nonlinear", "noise": "mask:0.2",
                                          "val_split": 0.2}])
def test_a_memory_map_trains_the_same_model_as_the_array_in_memory(tmp_path, options):
    X = low_rank()
    in_memory = Autoencoder(3, epochs=3, random_state=0, **options).fit(X)
    streamed = Autoencoder(3, epochs=3, random_state=0, **options).fit(mapped(tmp_path, X))
    for name, value in in_memory.params_.items():
        np.testing.assert_array_equal(streamed.params_[name], value)
    np.testing.assert_array_equal(streamed.mean_, in_memory.mean_)
    for a, b in zip(streamed.history_, in_memory.history_, strict=True):
        assert (a["train_loss"], a["val_mse"]) == (b["train_loss"], b["val_mse"])
    np.testing.assert_array_equal(streamed.transform(mapped(tmp_path, X, "y.npy")),
                                  in_memory.transform(X))
    assert streamed.score(mapped(tmp_path, X, "z.npy")) == pytest.approx(in_memory.score(X),
                                                                         rel=1e-6)


def test_numpys_own_memory_map_is_streamed_by_the_estimator(tmp_path, monkeypatch):
    """``Autoencoder.fit(np.load(path, mmap_mode="r"))`` trains in runs of rows, dropping each
    run's pages, as on embedkit's own map: the same model, not the full shuffle's."""
    X = low_rank(n_rows=4000)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 300 * X.shape[1] * 4)  # 300-row runs
    ours = Autoencoder(4, epochs=2, random_state=1).fit(mapped(tmp_path, X))
    np.save(tmp_path / "np.npy", X)
    numpys = np.load(tmp_path / "np.npy", mmap_mode="r")
    released = []
    release = streaming.release
    monkeypatch.setattr(streaming, "release", lambda a: (released.append(a), release(a)))
    model = Autoencoder(4, epochs=2, random_state=1).fit(numpys)
    assert len(released) >= 2 * 4000 // 300
    np.testing.assert_array_equal(model.params_["W"], ours.params_["W"])
    in_memory = Autoencoder(4, epochs=2, polish=False, random_state=1).fit(X)
    streamed = Autoencoder(4, epochs=2, polish=False, random_state=1).fit(numpys)
    assert streamed.history_[0]["train_loss"] != in_memory.history_[0]["train_loss"]


def test_runs_of_rows_shuffled_train_to_the_same_subspace(tmp_path, monkeypatch):
    X = low_rank(n_rows=4000)
    full = Autoencoder(4, epochs=4, random_state=1).fit(X)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 300 * X.shape[1] * 4)  # 300-row runs
    runs = Autoencoder(4, epochs=4, random_state=1).fit(mapped(tmp_path, X))
    # another order of the rows: another path, the same end
    assert runs.history_[0]["train_loss"] != full.history_[0]["train_loss"]
    comparison = compare_with_pca(runs, X)
    assert max(comparison.principal_angles_deg) < 0.5
    assert comparison.model_mse == pytest.approx(compare_with_pca(full, X).model_mse, rel=1e-3)


def test_transform_of_a_memory_map_centres_every_block(tmp_path, monkeypatch):
    X = low_rank(n_rows=500) + 10.0
    model = Autoencoder(3, epochs=2, random_state=0).fit(X)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 64 * X.shape[1] * 4)
    codes = model.transform(mapped(tmp_path, X))
    np.testing.assert_allclose(codes, (X - model.mean_) @ model.params_["W"].T, rtol=1e-4,
                               atol=1e-4)


def test_nan_in_the_middle_of_a_memory_map_is_named(tmp_path, monkeypatch):
    X = low_rank(n_rows=600)
    X[437, 5] = np.nan
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 100 * X.shape[1] * 4)
    with pytest.raises(EmbedkitError, match=r"X: row 438, column 6: nan"):
        Autoencoder(2, epochs=1).fit(mapped(tmp_path, X))


@pytest.mark.parametrize("solver", [s for s in SOLVERS if s != "full"])
def test_every_solver_equals_the_full_svd(solver, tmp_path):
    X = low_rank(n_rows=2500, n_features=30, k=5, dtype=np.float64)
    data = mapped(tmp_path, X) if solver in ("covariance", "incremental") else X
    ref = pca_reference(X, 6, "full")
    got = pca_reference(data, 6, solver, seed=0)
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.variances[:5], ref.variances[:5], rtol=1e-6)
    # the sixth axis is noise: its variance is only approximate for the sampled solvers
    np.testing.assert_allclose(got.variances[5], ref.variances[5], rtol=0.05)
    cosines = np.abs(np.sum(got.components[:5] * ref.components[:5], axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-6)


@pytest.mark.parametrize("solver", ["covariance", "randomized", "incremental"])
def test_comparison_with_each_solver_equals_the_full_one(solver):
    X = low_rank(n_rows=2000, n_features=40, k=4)
    model = Autoencoder(4, epochs=2, random_state=0).fit(X)
    ref = compare_with_pca(model, X, solver="full")
    got = compare_with_pca(model, X, solver=solver)
    assert got.k == ref.k
    for key in ("pca_mse", "model_mse", "captured_variance_ratio", "eigengap"):
        assert getattr(got, key) == pytest.approx(getattr(ref, key), rel=1e-4), key
    np.testing.assert_allclose(got.explained_variance_ratio, ref.explained_variance_ratio,
                               rtol=1e-5)
    np.testing.assert_allclose(got.principal_angles_deg, ref.principal_angles_deg, atol=0.01)


def test_a_memory_map_larger_than_the_address_space_limit_is_streamed(tmp_path):
    """fit (of ``np.load(..., mmap_mode="r")``), transform and compare-pca on a 200 MB file in
    a process whose heap may grow by less than the file: loading it whole would fail,
    streaming it does not."""
    pytest.importorskip("resource")
    path = tmp_path / "big.npy"
    rows, features = 800_000, 64
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 50_000):
        big[start:start + 50_000] = rng.standard_normal((50_000, features), dtype=np.float32)
    big.flush()
    del big
    script = textwrap.dedent(f"""
        import resource, numpy as np
        from embedkit.npyfile import load_npy
        from embedkit.ae import Autoencoder
        from embedkit.ae.pca import compare_with_pca
        X = load_npy({str(path)!r}, mmap=True)
        # room for the libraries and a few blocks, not for a copy of the data
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        limit = int(status["VmData"].split()[0]) * 1024 + X.nbytes * 3 // 4
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        try:
            np.ones(X.shape, X.dtype)
        except MemoryError:
            print("copy refused")
        # fit: numpy's own memory map, as an estimator's user passes it
        model = Autoencoder(4, epochs=1, batch_size=4096, polish=True, random_state=0).fit(
            np.load({str(path)!r}, mmap_mode="r"))
        print(model.transform(X).shape, round(compare_with_pca(model, X).eigengap, 3) >= 0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["copy refused", "(800000, 4) True"]


def test_the_cli_maps_npy_files_and_reads_text_formats(tmp_path):
    X = low_rank(n_rows=50)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", data=X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    for name in ("x.npy", "x.npz"):
        matrix = read_matrix(tmp_path / name)
        assert streaming.is_mapped(matrix.values), name
        np.testing.assert_array_equal(matrix.values, X)
    assert not streaming.is_mapped(read_matrix(tmp_path / "x.csv").values)


def _run_autoencode(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["autoencode", str(data), "--hidden", "2", "--epochs",
                                       "1", "-o", str(out / "m.npz"), "--codes",
                                       str(out / "c.npy")])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert list(out.iterdir()) == []
    return result.output.strip()


def test_inf_deep_in_a_mapped_matrix_stops_before_training_and_writes_nothing(tmp_path):
    X = low_rank(n_rows=100_000)  # 9.6 MB: more than one block
    X[94_321, 2] = np.inf
    np.save(tmp_path / "bad.npy", X)
    assert re.fullmatch(r"embedkit: error: \S*bad\.npy: row 94322, column 3: inf; expected "
                        r"finite numbers", _run_autoencode(tmp_path, tmp_path / "bad.npy"))


#: Lies a .npy header can tell about 600 rows of 24 float32: the bytes, then what autoencode says.
HEADER_LIES = {
    "more rows": ((b"(600, 24)", b"(900, 24)"), r"the header announces shape \(900, 24\) of "
                  r"float32 \(86400 bytes\) but 57600 bytes follow \(truncated or damaged file\)"),
    "fewer rows": ((b"(600, 24)", b"(500, 24)"), r"the header announces shape \(500, 24\) of "
                   r"float32 \(48000 bytes\) but 57600 bytes follow \(truncated or damaged "
                   r"file\)"),
    "another dtype": ((b"'<f4'", b"'<f8'"), r"the header announces shape \(600, 24\) of float64 "
                      r"\(115200 bytes\) but 57600 bytes follow \(truncated or damaged file\)"),
    "no dtype": ((b"'descr'", b"'dxscr'"), r"not a readable NumPy file \(.*\)"),
}


@pytest.mark.parametrize("lie", HEADER_LIES)
def test_a_header_that_lies_about_the_data_is_one_line_and_writes_nothing(tmp_path, lie):
    (old, new), expected = HEADER_LIES[lie]
    np.save(tmp_path / "lie.npy", low_rank(n_rows=600))
    raw = (tmp_path / "lie.npy").read_bytes()
    assert raw.count(old) == 1
    (tmp_path / "lie.npy").write_bytes(raw.replace(old, new))
    message = _run_autoencode(tmp_path, tmp_path / "lie.npy")
    assert re.fullmatch(rf"embedkit: error: \S*lie\.npy: {expected}", message), message


def test_a_matrix_of_strings_is_a_one_line_error(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
    message = _run_autoencode(tmp_path, tmp_path / "s.npy")
    assert message.endswith("expected real numbers, got dtype <U1")


@pytest.mark.parametrize("command", ["encode", "decode", "compare-pca"])
@pytest.mark.parametrize("bad", ["nan", "short", "long", "bool"])
def test_bad_input_to_the_other_matrix_commands_is_one_line_and_writes_nothing(
        tmp_path, monkeypatch, command, bad):
    """encode, decode and compare-pca (autoencode: above) on a .npy with a NaN row past the
    first block, a header promising more rows than the file holds or fewer, or booleans: one line
    naming the file and what was expected, exit 1, no output file."""
    X = low_rank(n_rows=600)
    model = tmp_path / "m.npz"
    Autoencoder(3, epochs=1, random_state=0).fit(X).save(model)
    data = X[:, :3].copy() if command == "decode" else X  # decode reads codes
    if bad == "nan":
        data[437, 1] = np.nan
    np.save(tmp_path / "bad.npy", data > 0 if bad == "bool" else data)
    if bad in ("short", "long"):
        raw = (tmp_path / "bad.npy").read_bytes()
        shape = f"(600, {data.shape[1]})".encode()
        lie = shape.replace(b"600", b"900" if bad == "short" else b"500")
        (tmp_path / "bad.npy").write_bytes(raw.replace(shape, lie))
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 100 * data.shape[1] * 4)  # six blocks
    out = tmp_path / "out"
    out.mkdir()
    options = (["--json", "--plot", str(out / "p.svg")] if command == "compare-pca"
               else ["-o", str(out / "y.npy")])
    result = CliRunner().invoke(main, [command, str(model), str(tmp_path / "bad.npy"),
                                       *options])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    expected = {"nan": r"row 438, column 2: nan; expected finite numbers",
                "short": r"the header announces shape \(900, \d+\) .*",
                "long": r"the header announces shape \(500, \d+\) .*",
                "bool": r"expected real numbers, got dtype bool"}[bad]
    assert re.fullmatch(rf"embedkit: error: \S*bad\.npy: {expected}", result.output.strip())
    assert list(out.iterdir()) == []


def test_one_pass_moments_equal_the_two_pass_ones():
    X = low_rank(n_rows=3000, dtype=np.float64) + 1e4  # far from the origin: cancellation
    mean, gram = blocks.moments(X)
    centred = X - X.mean(axis=0)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(gram, centred.T @ centred, rtol=1e-8, atol=1e-8 * len(X))


def test_float32_moments_are_formed_in_float32_yet_match_float64_ones(monkeypatch):
    """Each block's product is float32 for float32 data (as scikit-learn's covariance solver
    does): far from the origin the shift keeps it within 1e-5 of the float64 Gram matrix."""
    X = low_rank(n_rows=5000, n_features=16) + np.float32(1e3)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 700 * X.shape[1] * 4)  # eight blocks
    mean, gram = blocks.moments(X)
    exact_mean = X.astype(np.float64).mean(axis=0)
    centred = X - exact_mean
    exact = centred.T @ centred
    np.testing.assert_allclose(mean, exact_mean, rtol=1e-9)
    np.testing.assert_allclose(gram, exact, rtol=0, atol=1e-5 * np.abs(exact).max())


def test_the_polish_gram_of_float32_data_sums_float32_blocks_in_float64(monkeypatch):
    """The polish's XᵀX of float32 data: each block's product in float32 (rows centred first),
    the 200 blocks summed in float64: within 2e-7 of the largest entry of the float64 Gram
    matrix (summing the blocks in float32 misses by 5e-7, products of uncentred rows by far
    more); the polished model still spans PCA's subspace and matches its error."""
    X = low_rank(n_rows=20000, n_features=32, k=4) + np.float32(1e3)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 100 * X.shape[1] * 4)
    mean = X.astype(np.float64).mean(axis=0).astype(np.float32)
    centred = X.astype(np.float64) - mean
    exact = centred.T @ centred
    gram = blocks.centred_gram(X, mean)
    assert gram.dtype == np.float64
    np.testing.assert_allclose(gram, exact, rtol=0, atol=2e-7 * np.abs(exact).max())
    model = Autoencoder(4, epochs=2, random_state=0).fit(X)
    exact_centred = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    top = np.linalg.eigh(exact_centred.T @ exact_centred)[1][:, -4:]
    pca_error = np.mean((exact_centred - exact_centred @ top @ top.T) ** 2)
    assert np.degrees(principal_angles(top, model.components_.T)).max() < 1e-4
    error = np.mean((model.reconstruct(X).astype(np.float64) - X) ** 2)
    assert error == pytest.approx(pca_error, rel=1e-5)


@pytest.mark.parametrize("options", [{}, {"tied": False}])
def test_a_linear_model_is_measured_from_the_gram_matrix_as_from_the_data(options):
    X = low_rank(n_rows=2000, n_features=30, dtype=np.float64)
    model = Autoencoder(3, epochs=1, polish=False, random_state=0, **options).fit(X[:700])
    from_gram = compare_with_pca(model, X, solver="covariance")   # closed form
    from_data = compare_with_pca(model, X, solver="incremental")  # one pass over the rows
    assert from_gram.model_mse == pytest.approx(-model.score(X), rel=1e-9)
    for key in ("model_mse", "captured_variance_ratio", "pca_mse"):
        assert getattr(from_gram, key) == pytest.approx(getattr(from_data, key), rel=1e-6)


def test_progress_counts_every_row_of_every_pass(tmp_path, monkeypatch):
    X = low_rank(n_rows=1000)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 128 * X.shape[1] * 4)
    events = []
    model = Autoencoder(3, epochs=1, random_state=0).fit(mapped(tmp_path, X),
                                                         callback=events.append)
    # the mean and the polish's XᵀX each read all 1000 rows, in blocks of 128
    rows = [e["rows"] for e in events if e["event"] == "rows"]
    assert sum(rows) == 2000 and max(rows) == 128
    seen = []
    codes = model.transform(X, progress=seen.append)
    assert sum(seen) == 1000 and len(seen) == 8
    seen.clear()
    np.testing.assert_allclose(model.inverse_transform(codes, progress=seen.append),
                               model.reconstruct(X), rtol=1e-6)
    assert sum(seen) == 1000


@pytest.mark.parametrize(("solver", "kind", "passes"), [
    ("covariance", "linear", 1),     # the error comes from the XᵀX of the one pass
    ("covariance", "nonlinear", 2),  # a nonlinear model's error: one more pass
    ("incremental", "linear", 2), ("randomized", "linear", 2), ("full", "linear", 2)])
def test_compare_with_pca_reports_every_row_of_every_pass(tmp_path, monkeypatch, solver, kind,
                                                          passes):
    X = low_rank(n_rows=1000)
    model = Autoencoder(3, kind=kind, epochs=1, random_state=0).fit(X)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 128 * X.shape[1] * 4)
    seen = []
    data = mapped(tmp_path, X) if solver in ("covariance", "incremental") else X
    compare_with_pca(model, data, solver, progress=seen.append)
    assert sum(seen) == passes * len(X)
    if solver == "covariance":  # as each block is read, not once at the end
        assert max(seen) == 128


class _Bar:
    """Stands in for the CLI's tqdm bars: records each bar's description and updates."""

    made: list[_Bar] = []

    def __init__(self, **options):
        self.desc, self.total, self.counted = options.get("desc"), options.get("total"), 0
        _Bar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def update(self, n=1):
        self.counted += n

    def reset(self, total=None):
        self.total, self.counted = total, 0

    def write(self, *args, **kwargs):
        pass


def test_every_pass_of_the_matrix_commands_moves_a_progress_bar(tmp_path, monkeypatch):
    """autoencode (its batches and the passes outside training), encode, decode and
    compare-pca on a memory-mapped file: each bar counts every batch or row it stands for."""
    import embedkit.cli.ae as cli_ae

    X = low_rank(n_rows=1000)
    np.save(tmp_path / "x.npy", X)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 128 * X.shape[1] * 4)
    monkeypatch.setattr(cli_ae, "progress_bar", _Bar)

    def bars(*arguments):
        _Bar.made = []
        result = CliRunner().invoke(main, [*map(str, arguments)])
        assert result.exit_code == 0, result.output
        return {bar.desc: (bar.counted, bar.total) for bar in _Bar.made if bar.counted}

    model = tmp_path / "m.npz"
    # 2 epochs of 4 batches of 256 rows; the mean and the polish's XᵀX read every row
    assert bars("autoencode", tmp_path / "x.npy", "--hidden", 3, "--epochs", 2, "-o",
                model) == {"autoencode": (8, 8), "other passes": (2000, None)}
    assert bars("encode", model, tmp_path / "x.npy", "-o", tmp_path / "c.npy") == {
        "encode": (1000, 1000)}
    assert bars("decode", model, tmp_path / "c.npy", "-o", tmp_path / "r.npy") == {
        "decode": (1000, 1000)}
    for solver, passes in (("covariance", 1), ("incremental", 2)):
        assert bars("compare-pca", model, tmp_path / "x.npy", "--solver", solver) == {
            "compare-pca (every pass)": (passes * 1000, None)}, solver


def test_a_finite_but_exploding_loss_is_divergence_and_writes_nothing(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((200, 10)))
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "3",
                                       "--epochs", "20", "--kind", "nonlinear", "--lr", "1e6",
                                       "-o", str(out / "m.npz")])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("embedkit: error: training diverged at epoch"), last
    assert "times the" in last and "--lr" in last
    assert list(out.iterdir()) == []


def test_the_epoch_record_holds_the_learning_rate_at_the_epoch_end():
    model = Autoencoder(2, epochs=3, lr=1e-2, batch_size=50, random_state=0,
                        polish=False).fit(low_rank(n_rows=200))
    # the schedule ends at lr / 1000 after the last step
    assert model.history_[-1]["lr"] == pytest.approx(1e-5)
    assert model.history_[0]["lr"] == pytest.approx(1e-2)


def test_all_finite_reads_blocks_without_a_temporary_of_the_matrix(monkeypatch):
    import tracemalloc

    monkeypatch.setattr(streaming, "BLOCK_BYTES", 1 << 20)
    X = np.ones((40_000, 100), dtype=np.float32)  # 16 MB: np.isfinite(X) would be 4 MB more
    tracemalloc.start()
    assert streaming.all_finite(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20
    X[-1, -1] = np.inf
    assert not streaming.all_finite(X)
    X[-1, -1], X[0, 3] = 1, np.nan
    assert not streaming.all_finite(X)


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_encode_and_decode_read_a_mapped_input_twice_not_three_times(tmp_path, monkeypatch,
                                                                     command):
    """The finiteness check (read_matrix's, naming the file) and the pass that computes the
    output: the model's methods checked the map a second time."""
    X = low_rank(n_rows=1000)
    model = Autoencoder(3, epochs=1, random_state=0).fit(X)
    model.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X if command == "encode" else X[:, :3].copy())
    read = []
    iter_blocks = streaming.iter_blocks

    def counted(X, *args, **kwargs):
        for start, block in iter_blocks(X, *args, **kwargs):
            if streaming.is_mapped(X):
                read.append(len(block))
            yield start, block

    monkeypatch.setattr(streaming, "iter_blocks", counted)
    result = CliRunner().invoke(main, [command, str(tmp_path / "m.npz"),
                                       str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")])
    assert result.exit_code == 0, result.output
    assert sum(read) == 2 * 1000
    # the library still checks a map it is given without being told it is finite
    bad = X.copy()
    bad[700, 1] = np.inf
    with pytest.raises(EmbedkitError, match="X: row 701, column 2: inf"):
        model.transform_blocks(mapped(tmp_path, bad, "bad.npy"))
