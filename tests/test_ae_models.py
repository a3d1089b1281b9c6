"""The autoencoder's graphs and penalties checked directly: initial weights, the sigmoid output,
the untied decoder, activation slopes read from the pre-activation, and the penalties' values
and settings."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import Autoencoder
from embedkit.ae.models import Architecture
from embedkit.ae.regularizers import Penalties, contractive_penalty
from embedkit.core import Tensor
from embedkit.errors import EmbedkitError, ParameterError


def tensors(params):
    return {name: Tensor(value) for name, value in params.items()}


@pytest.mark.parametrize("tied", [True, False])
def test_initial_weights_are_glorot_uniform_in_the_training_dtype(tied):
    arch = Architecture("nonlinear", tied)
    n_features, n_hidden = 300, 200
    params = arch.init_params(n_features, n_hidden, np.random.default_rng(0), np.float32)
    limit = np.sqrt(6.0 / (n_features + n_hidden))
    assert set(params) == ({"W", "b", "c"} if tied else {"W", "U", "b", "c"})
    for name in ("W",) if tied else ("W", "U"):
        weights = params[name]
        assert weights.dtype == np.float32
        # the whole range is used, and nothing falls outside it (60000 uniform draws)
        assert np.abs(weights).max() <= limit
        assert weights.min() < -0.99 * limit and weights.max() > 0.99 * limit
    assert params["W"].shape == (n_hidden, n_features)
    for name, size in (("b", n_hidden), ("c", n_features)):
        assert params[name].dtype == np.float32
        np.testing.assert_array_equal(params[name], np.zeros(size))


def test_a_hidden_size_below_one_or_a_linear_identity_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match=r"^n_components must be at least 1, got 0$") as e:
        Architecture().init_params(4, 0, rng, np.float32)
    assert e.value.params == ("n_components",)
    with pytest.raises(EmbedkitError, match=r"^X: a linear autoencoder needs n_components below "
                       r"the number of features \(n_features=4\), got 4$"):
        Architecture().init_params(4, 4, rng, np.float32)


def test_the_sigmoid_output_squashes_the_untied_decoder():
    rng = np.random.default_rng(1)
    arch = Architecture("nonlinear", tied=False, activation="tanh", output_activation="sigmoid")
    params = {name: rng.standard_normal(value.shape) for name, value in
              arch.init_params(5, 3, rng, np.float64).items()}
    h = rng.standard_normal((4, 3)) * 3
    out = arch.decode(tensors(params), Tensor(h)).data
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(h @ params["U"].T + params["c"]))))
    # the decoder the estimator reports components from is U, not the encoder's Wᵀ
    assert arch.decoder_weight(tensors(params)).data is params["U"]


def test_an_estimator_with_a_sigmoid_output_reconstructs_inside_zero_one():
    X = np.random.default_rng(2).uniform(size=(60, 6))
    model = Autoencoder(2, kind="nonlinear", output_activation="sigmoid", center=False,
                        epochs=2, random_state=0).fit(X)
    rebuilt = model.reconstruct(X * 10 - 5)  # far outside the data: the identity would leave it
    assert (rebuilt > 0).all() and (rebuilt < 1).all()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu"])
def test_slopes_of_activations_read_the_pre_activation(activation):
    """relu, leaky_relu and elu take their derivative from ``a`` (sigmoid and tanh from ``h``)."""
    rng = np.random.default_rng(3)
    arch = Architecture("nonlinear", activation=activation)
    params = tensors(arch.init_params(4, 3, rng, np.float64))
    a, h = arch.encode(params, Tensor(rng.standard_normal((6, 4))))
    slope = arch.derivative(a, h).data
    expected = {"relu": np.where(a.data > 0, 1.0, 0.0),
                "leaky_relu": np.where(a.data > 0, 1.0, 0.1),  # slope 0.1 (THEORY.md)
                "elu": np.where(a.data > 0, 1.0, np.exp(a.data))}[activation]
    np.testing.assert_allclose(slope, expected)
    assert Architecture("linear").derivative(a, h) is None


def test_contractive_penalty_is_the_mean_over_rows_of_the_jacobian_norm():
    rng = np.random.default_rng(4)
    arch = Architecture("nonlinear", True, "relu")
    params = tensors({k: rng.standard_normal(v.shape) for k, v in
                      arch.init_params(5, 3, rng, np.float64).items()})
    x = rng.standard_normal((7, 5))
    a, h = arch.encode(params, Tensor(x))
    W = params["W"].data
    norms = [np.sum(((a_row > 0)[:, None] * W) ** 2) for a_row in a.data]
    assert contractive_penalty(arch, params, a, h).item() == pytest.approx(np.mean(norms))
    # linear: the Jacobian is W for every row
    linear = Architecture("linear")
    a, h = linear.encode(params, Tensor(x))
    assert contractive_penalty(linear, params, a, h).item() == pytest.approx(np.sum(W ** 2))


@pytest.mark.parametrize("value", [-0.1, float("inf"), float("nan")])
@pytest.mark.parametrize("name", ["l1", "contractive", "weight_decay"])
def test_penalty_weights_must_be_finite_and_not_negative(name, value):
    with pytest.raises(ParameterError, match=rf"^{name} must be a finite number ≥ 0, got") as e:
        Penalties(**{name: value})
    assert e.value.params == (name,)
    with pytest.raises(ParameterError, match=rf"^{name} must be a finite number ≥ 0"):
        Autoencoder(1, epochs=1, **{name: value}).fit(np.eye(3))


@pytest.mark.parametrize("field, value, allowed", [
    ("kind", "deep", "linear, nonlinear"),
    ("activation", "softplus", "sigmoid, tanh, relu, leaky_relu, elu, swish"),
    ("output_activation", "tanh", "identity, sigmoid")])
def test_an_unknown_architecture_setting_is_named_with_the_choices(field, value, allowed):
    with pytest.raises(ParameterError) as e:
        Architecture(**{field: value})
    assert str(e.value) == f"{field} {value!r} is not one of {allowed}"
    assert e.value.params == (field,)


def test_penalties_add_up_each_with_its_weight():
    rng = np.random.default_rng(5)
    arch = Architecture("nonlinear", tied=False, activation="tanh")
    params = tensors({k: rng.standard_normal(v.shape) for k, v in
                      arch.init_params(5, 3, rng, np.float64).items()})
    a, h = arch.encode(params, Tensor(rng.standard_normal((7, 5))))
    l1 = np.abs(h.data).sum(axis=1).mean()  # mean over the 7 rows
    decay = np.sum(params["W"].data ** 2) + np.sum(params["U"].data ** 2)  # no biases
    contractive = contractive_penalty(arch, params, a, h).item()
    assert Penalties()(arch, params, a, h) is None
    assert Penalties(l1=0.5)(arch, params, a, h).item() == pytest.approx(0.5 * l1)
    assert Penalties(weight_decay=0.25)(arch, params, a, h).item() == pytest.approx(
        0.25 * decay)
    assert Penalties(l1=0.5, contractive=2.0, weight_decay=0.25)(arch, params, a, h).item() \
        == pytest.approx(0.5 * l1 + 2.0 * contractive + 0.25 * decay)
