"""Autoencoders: gradients against THEORY.md, planted-subspace recovery, denoising, the
contractive penalty, scikit-learn's estimator checks, the CLI round trip and bad input."""

from __future__ import annotations

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
from embedkit.errors import DivergenceError, EmbedkitError
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

    def fake_validation_error(arch, params, X):
        snapshots.append({k: v.data.copy() for k, v in params.items()})
        return next(scripted)

    monkeypatch.setattr(training, "reconstruction_error", fake_validation_error)
    model = Autoencoder(4, kind="nonlinear", val_split=0.2, patience=3, epochs=7,
                        random_state=0).fit(digits)
    assert model.n_iter_ == 6  # epochs 4, 5, 6 were not better than epoch 3
    assert all(np.array_equal(model.params_[k], snapshots[2][k]) for k in model.params_)


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
    ("wide.npy", np.ones((10, 3)), 3, "hidden size 3 must be below the number of features"),
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


def test_cli_divergence_writes_nothing(tmp_path):
    X, _ = planted(n_rows=300)
    np.save(tmp_path / "x.npy", X * 1e20)
    out = tmp_path / "model.npz"
    result = CliRunner().invoke(main, ["autoencode", str(tmp_path / "x.npy"), "--hidden", "2",
                                       "--kind", "nonlinear", "--activation", "relu", "--lr",
                                       "1e30", "-o", str(out)])
    assert result.exit_code == 1 and "diverged" in result.stderr and not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "x.npy"]
