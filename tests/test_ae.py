"""Autoencoders: gradients against THEORY.md, planted-subspace recovery, denoising, the
contractive penalty, scikit-learn's estimator checks, the CLI round trip and bad input."""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks

from embedkit.ae import Autoencoder, load_model, training
from embedkit.ae.models import Architecture
from embedkit.ae.noise import Noise, parse_noise
from embedkit.ae.pca import principal_angles
from embedkit.ae.regularizers import contractive_penalty
from embedkit.cli import main
from embedkit.core import Tensor, ops
from embedkit.errors import DivergenceError, EmbedkitError, Interrupted
from embedkit.vectors.formats import load_vectors, save_vectors


def planted(n_rows=3000, n_features=20, k=4, noise=0.05, seed=0):
    """Rows near a random k-dimensional subspace (well separated spectrum), and its basis."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_features, k)))[0]
    X = (rng.standard_normal((n_rows, k)) * np.linspace(3, 1.5, k)) @ basis.T
    return X + noise * rng.standard_normal(X.shape) + 5.0, basis


@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0


def test_tied_linear_gradient_matches_theory():
    rng = np.random.default_rng(3)
    W, x = rng.standard_normal((3, 7)), rng.standard_normal(7)
    Wt = Tensor(W, requires_grad=True)
    arch = Architecture("linear", tied=True)
    _, h = arch.encode({"W": Wt}, Tensor(x[None, :]))
    residual = arch.decode({"W": Wt}, h) - Tensor(x[None, :])
    (0.5 * ops.sum(residual * residual)).backward()
    b = W.T @ W @ x - x
    np.testing.assert_allclose(Wt.grad, np.outer(W @ x, b) + np.outer(W @ b, x), rtol=1e-12)


@pytest.mark.parametrize("tied", [True, False])
def test_linear_autoencoder_recovers_planted_subspace(tied):
    X, basis = planted()
    model = Autoencoder(4, tied=tied, epochs=5, random_state=0).fit(X)
    assert np.degrees(principal_angles(basis, model.components_.T)).max() < 1.0
    centred = X - X.mean(axis=0)
    pca_error = np.mean((centred - centred @ basis @ basis.T) ** 2)
    assert -model.score(X) <= pca_error * 1.001


def test_untrained_model_is_far_from_the_subspace():
    X, basis = planted()
    model = Autoencoder(4, epochs=0, random_state=0).fit(X)
    assert np.degrees(principal_angles(basis, model.components_.T)).max() > 45


def test_denoising_beats_plain_autoencoder_on_masked_digits(digits):
    settings = dict(kind="nonlinear", tied=False, activation="sigmoid",
                    output_activation="sigmoid", epochs=30, lr=1e-2, batch_size=64,
                    random_state=0)
    plain = Autoencoder(64, **settings).fit(digits)
    denoising = Autoencoder(64, noise="mask:0.3", **settings).fit(digits)
    masked = Noise("mask", 0.3)(digits, np.random.default_rng(1))

    def error(model):
        return np.mean((model.reconstruct(masked) - digits) ** 2)

    assert error(denoising) < 0.85 * error(plain)


def test_contractive_penalty_lowers_encoder_jacobian_norm(digits):
    settings = dict(kind="nonlinear", tied=False, activation="sigmoid", epochs=15, lr=1e-2,
                    random_state=0)
    norms = []
    for weight in (0.0, 0.1):
        model = Autoencoder(16, contractive=weight, **settings).fit(digits)
        params = {k: Tensor(v.astype(np.float64)) for k, v in model.params_.items()}
        a, h = model.architecture.encode(params, Tensor(digits - model.mean_))
        norms.append(contractive_penalty(model.architecture, params, a, h).item())
    assert norms[1] < 0.5 * norms[0]


def test_contractive_penalty_matches_jacobian():
    rng = np.random.default_rng(0)
    arch = Architecture("nonlinear", True, "tanh")
    params = {k: Tensor(rng.standard_normal(v.shape)) for k, v in
              arch.init_params(5, 3, rng, np.float64).items()}
    x = rng.standard_normal((1, 5))
    a, h = arch.encode(params, Tensor(x))
    jacobian = (1 - np.tanh(a.data[0]) ** 2)[:, None] * params["W"].data
    assert contractive_penalty(arch, params, a, h).item() == pytest.approx(
        np.sum(jacobian ** 2))


@parametrize_with_checks([Autoencoder(1, epochs=3, random_state=0),
                          Autoencoder(3, kind="nonlinear", tied=False, activation="tanh",
                                      noise="gaussian:0.1", epochs=3, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_same_seed_same_bits(digits):
    a = Autoencoder(5, kind="nonlinear", noise="mask:0.2", epochs=2, random_state=7).fit(digits)
    b = Autoencoder(5, kind="nonlinear", noise="mask:0.2", epochs=2, random_state=7).fit(digits)
    assert all(np.array_equal(a.params_[k], b.params_[k]) for k in a.params_)


def test_divergence_raises():
    X, _ = planted(n_rows=300)
    with pytest.raises(DivergenceError, match="diverged"):
        Autoencoder(4, kind="nonlinear", activation="relu", lr=1e30, epochs=3,
                    random_state=0).fit(X * 1e20)


@pytest.mark.parametrize("spec", ["gauss:0.1", "mask:1.5", "mask", "gaussian:x"])
def test_bad_noise_spec(spec):
    with pytest.raises(EmbedkitError, match="noise"):
        parse_noise(spec)


def test_early_stopping_keeps_the_best_weights(monkeypatch, digits):
    scripted = iter([3.0, 2.0, 1.0, 1.5, 1.2, 1.1, 0.5])
    snapshots = []

    def fake_validation_error(arch, params, X, **rows):
        snapshots.append({k: v.data.copy() for k, v in params.items()})
        return next(scripted)

    monkeypatch.setattr(training, "reconstruction_error", fake_validation_error)
    model = Autoencoder(4, kind="nonlinear", val_split=0.2, patience=3, epochs=7,
                        random_state=0).fit(digits)
    assert model.n_iter_ == 6  # epochs 4, 5, 6 were not better than epoch 3
    assert all(np.array_equal(model.params_[k], snapshots[2][k]) for k in model.params_)


def test_learning_rate_is_held_then_annealed():
    schedule = training.learning_rate(0.01, 1000)
    assert schedule(0) == schedule(799) == 0.01
    assert schedule(900) == pytest.approx(0.01 * (1 + training.FINAL_LR_FRACTION) / 2)
    assert schedule(1000) == schedule(5000) == pytest.approx(0.01 * training.FINAL_LR_FRACTION)
    rates = [schedule(step) for step in range(1001)]
    assert all(a >= b for a, b in itertools.pairwise(rates))


# ---------------------------------------------------------------- checkpoints

RESUMABLE = dict(kind="nonlinear", tied=False, noise="mask:0.3", val_split=0.2, epochs=4,
                 random_state=3)


def _stop_after_epoch(n):
    def callback(record):
        if record["event"] == "epoch" and record["epoch"] == n:
            raise KeyboardInterrupt
    return callback


def test_resumed_fit_is_bit_identical_to_an_uninterrupted_one(tmp_path, digits):
    checkpoint = tmp_path / "ck.npz"
    full = Autoencoder(8, **RESUMABLE).fit(digits)
    with pytest.raises(Interrupted,
                       match=r"after epoch 2 of 4; the checkpoint .*ck.npz holds epoch 2"):
        Autoencoder(8, **RESUMABLE).fit(digits, callback=_stop_after_epoch(2),
                                        checkpoint=checkpoint)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    resumed = Autoencoder(8, **RESUMABLE).fit(digits, resume=checkpoint)
    assert all(np.array_equal(full.params_[k], resumed.params_[k]) for k in full.params_)
    assert [r["val_mse"] for r in resumed.history_] == [r["val_mse"] for r in full.history_]


def test_resume_rejects_other_settings_data_and_files(tmp_path, digits):
    checkpoint = tmp_path / "ck.npz"
    Autoencoder(4, **{**RESUMABLE, "epochs": 1}).fit(digits, checkpoint=checkpoint)
    with pytest.raises(EmbedkitError, match="written with lr = 0.001, this run has 0.01"):
        Autoencoder(4, **{**RESUMABLE, "lr": 0.01}).fit(digits, resume=checkpoint)
    with pytest.raises(EmbedkitError, match="written for other data"):
        Autoencoder(4, **RESUMABLE).fit(digits[::-1], resume=checkpoint)
    np.save(tmp_path / "junk.npy", digits)
    with pytest.raises(EmbedkitError, match="not an embedkit autoencoder checkpoint"):
        Autoencoder(4, **RESUMABLE).fit(digits, resume=tmp_path / "junk.npy")


# ---------------------------------------------------------------- command line

def test_cli_round_trip(tmp_path, digits):
    np.save(tmp_path / "x.npy", digits)
    runner = CliRunner()
    model_path, codes_path = tmp_path / "m.npz", tmp_path / "codes.npy"
    result = runner.invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "6",
                                  "--epochs", "2", "-o", str(model_path), "--codes",
                                  str(codes_path), "--log-json", str(tmp_path / "log.jsonl")])
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.stderr
    model = load_model(model_path)
    codes = np.load(codes_path)
    np.testing.assert_allclose(codes, model.transform(digits), rtol=1e-5, atol=1e-6)
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2
    result = runner.invoke(main, ["encode", str(model_path), str(tmp_path / "x.npy")])
    assert result.exit_code == 0
    np.testing.assert_allclose(np.loadtxt(result.stdout.splitlines(), delimiter=","), codes,
                               rtol=1e-5, atol=1e-6)
    result = runner.invoke(main, ["decode", str(model_path), str(codes_path), "-o",
                                  str(tmp_path / "r.npy")])
    assert result.exit_code == 0
    reconstruction = np.load(tmp_path / "r.npy")
    np.testing.assert_allclose(reconstruction, model.reconstruct(digits), rtol=1e-4, atol=1e-5)
    # a tied linear model at the PCA optimum reconstructs as well as PCA
    assert np.mean((reconstruction - digits) ** 2) < np.mean((digits - digits.mean(0)) ** 2)


def test_cli_word_vectors_and_csv_stdin(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    save_vectors(tmp_path / "v.vec", words, rng.standard_normal((40, 10)).astype(np.float32))
    runner = CliRunner()
    result = runner.invoke(main, ["autoencode", str(tmp_path / "v.vec"), "--hidden", "3",
                                  "--epochs", "1", "-o", str(tmp_path / "m.npz"), "--codes",
                                  str(tmp_path / "c.vec")])
    assert result.exit_code == 0, result.output
    codes = load_vectors(tmp_path / "c.vec")
    assert codes.words == words and codes.vectors.shape == (40, 3)
    csv = "a,b,c,d\n" + "\n".join(",".join(f"{v:.3f}" for v in row)
                                  for row in rng.standard_normal((30, 4)))
    result = runner.invoke(main, ["autoencode", "-", "--hidden", "2", "--epochs", "1", "-o",
                                  str(tmp_path / "m2.npz")], input=csv)
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "m2.npz").n_features_in_ == 4


@pytest.mark.parametrize("name, content, hidden, message", [
    ("nan.npy", np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 6.0]]), 1, "row 2, column 2: nan"),
    ("flat.npy", np.arange(5.0), 1, "expected a 2-D matrix"),
    ("ragged.csv", "1,2,3\n4,5,6\n7,8\n", 1, "line 3: 2 fields, expected 3"),
    ("word.csv", "x,y\n1,2\n3,oops\n", 1, "line 3, field 2: 'oops' is not a number"),
    ("wide.npy", np.arange(30.0).reshape(10, 3), 3,
     "wide.npy: a linear autoencoder needs --hidden below the number of features "
     "(n_features=3), got 3"),
])
def test_cli_bad_input_one_line_error(tmp_path, name, content, hidden, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    out = tmp_path / "model.npz"
    result = CliRunner().invoke(main, ["autoencode", str(path), "--hidden", str(hidden),
                                       "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith("embedkit: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("failure, status", [(EmbedkitError("c.npy: disk full"), 1),
                                             (KeyboardInterrupt(), 130)])
def test_cli_failing_codes_write_leaves_no_model_either(tmp_path, monkeypatch, failure, status):
    """The codes writer fails half-way through its file: neither the model nor the codes nor
    the log stays (the model was written first)."""
    import embedkit.cli.ae as ae_cli
    from embedkit.io import atomic_output

    def write_then_fail(path, values, words=None, fmt=None):
        with atomic_output(path, binary=True) as out:
            out.write(b"\x93NUMPY" + b"\0" * 4096)
            out.flush()
            raise failure

    np.save(tmp_path / "x.npy", planted(n_rows=50)[0])
    monkeypatch.setattr(ae_cli, "write_matrix", write_then_fail)
    result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "2",
                                       "--epochs", "1", "-o", str(tmp_path / "m.npz"),
                                       "--codes", str(tmp_path / "c.npy"), "--log-json",
                                       str(tmp_path / "log.jsonl")])
    assert result.exit_code == status, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


@pytest.mark.parametrize("options, advice", [
    (["--noise", "gaussian:1e30"], "try a smaller --noise"),
    (["--l1", "1e300"], "try a smaller --l1"),
    (["--contractive", "1e300"], "try a smaller --contractive"),
    (["--weight-decay", "1e300"], "try a smaller --weight-decay"),
    (["--lr", "1e10"], "try a smaller --lr"),
    (["--lr", "1e10", "--l1", "0.1"], "try a smaller --lr or --l1"),
])
def test_divergence_advice_names_the_options_that_can_cause_it(tmp_path, options, advice):
    # Every divergence said "try a smaller --lr", even one on the first batch, before any
    # step of the learning rate, caused by --noise or a penalty.
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(200, 6)))
    result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "2",
                                       *options, "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("embedkit: error: training diverged at epoch ")
    assert last.endswith(f"; nothing was written: {advice}"), last


def test_data_too_large_to_square_is_said_so(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(200, 6)) * 1e200)
    result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "2",
                                       "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 1 and result.stderr.endswith(
        "nothing was written: the data's values are too large to square in this precision: "
        "scale them down\n")


def test_cli_divergence_writes_nothing(tmp_path):
    X, _ = planted(n_rows=300)
    np.save(tmp_path / "x.npy", X * 1e20)
    out = tmp_path / "model.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would print lines before ours
        result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden",
                                           "2", "--kind", "nonlinear", "--activation", "relu",
                                           "--lr", "1e30", "-o", str(out)])
    assert result.exit_code == 1 and "diverged" in result.stderr and not out.exists()
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "x.npy"]


def test_cli_resume_equals_uninterrupted_run(tmp_path, digits):
    np.save(tmp_path / "x.npy", digits)
    checkpoint = tmp_path / "ck.npz"
    with pytest.raises(Interrupted):  # the command's defaults, stopped after epoch 2 of 4
        Autoencoder(6, epochs=4, random_state=1).fit(digits, callback=_stop_after_epoch(2),
                                                     checkpoint=checkpoint)
    runner = CliRunner()
    for extra, out in ((["--resume", str(checkpoint)], "resumed.npz"), ([], "full.npz")):
        result = runner.invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "6",
                                      "--epochs", "4", "-o", str(tmp_path / out), *extra])
        assert result.exit_code == 0, result.output
    assert "epoch 3/4" in result.stderr
    full, resumed = load_model(tmp_path / "full.npz"), load_model(tmp_path / "resumed.npz")
    assert all(np.array_equal(full.params_[k], resumed.params_[k]) for k in full.params_)
    result = runner.invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "5",
                                  "--resume", str(checkpoint), "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 1 and "n_components = 6, this run has 5" in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_sigint_during_autoencode_writes_nothing_and_exits_130(tmp_path, embedkit_child):
    X = np.random.default_rng(0).standard_normal((3000, 40)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    checkpoint, model, codes = tmp_path / "ck.npz", tmp_path / "m.npz", tmp_path / "c.npy"
    process = embedkit_child(
        "autoencode", str(tmp_path / "x.npy"), "--hidden", "4", "--batch-size", "8", "--epochs",
        "1000", "--checkpoint", str(checkpoint), "-o", str(model), "--codes", str(codes),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # the first checkpoint: training is under way
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpoint.exists() and process.poll() is None
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    last = stderr.splitlines()[-1]
    assert re.fullmatch(r"embedkit: interrupted: training stopped (in epoch \d+ of 1000, after "
                        r"batch \d+ of 375|after epoch \d+ of 1000); the checkpoint .*ck.npz "
                        r"holds epoch \d+", last)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "x.npy"]


def test_cli_header_options_say_what_the_first_line_is(tmp_path):
    """pandas writes column numbers as a header (',0,1,2'), which detection takes for data:
    --header skips it; --no-header reads a first line as data; every AE reader has both."""
    pandas = tmp_path / "pandas.csv"
    pandas.write_text(",0,1,2\n0,1.0,2.0,3.5\n1,2.0,1.0,0.5\n2,3,4,1\n3,1,1,1\n")
    model = tmp_path / "m.npz"
    detected = CliRunner().invoke(main, ["autoencode", str(pandas), "--hidden", "1", "-o",
                                         str(model)])
    assert detected.exit_code == 1 and "line 1, field 1: '' is not a number" in detected.stderr
    result = CliRunner().invoke(main, ["autoencode", str(pandas), "--header", "--hidden", "1",
                                       "--epochs", "1", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert load_model(model).n_features_in_ == 4
    for command in (["encode", str(model)], ["compare-pca", str(model)]):
        result = CliRunner().invoke(main, [*command, str(pandas), "--header"])
        assert result.exit_code == 0, result.output
    named = tmp_path / "named.csv"
    named.write_text("a,b,c,d\n1,2,3,4\n5,6,7,9\n")
    result = CliRunner().invoke(main, ["encode", str(model), str(named), "--no-header"])
    assert result.exit_code == 1 and "named.csv: line 1, field 1: 'a'" in result.stderr
    glove = tmp_path / "glove.txt"
    glove.write_text("the 1 2 3 4\ncat 2 3 4 5\n")
    result = CliRunner().invoke(main, ["encode", str(model), str(glove), "--header"])
    assert result.exit_code == 1
    assert "glove.txt: line 1: expected a header '<count> <dim>'" in result.stderr
