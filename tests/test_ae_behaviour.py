"""Autoencoder behaviour checked directly: codes of off-centre data and the corruption
noises' actual rates."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import Autoencoder
from embedkit.ae.noise import Noise, parse_noise
from embedkit.errors import EmbedkitError


@pytest.fixture(scope="module")
def off_centre():
    """Rows near a 3-dimensional subspace of 8 features, centred far from the origin."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 8))
    return X + 0.01 * rng.normal(size=X.shape) + np.linspace(5, 12, 8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_codes_are_the_centred_rows_times_the_encoder(off_centre, dtype):
    model = Autoencoder(3, epochs=30, lr=1e-2, random_state=0, dtype=dtype).fit(off_centre)
    np.testing.assert_allclose(model.mean_, off_centre.mean(axis=0), rtol=1e-6)
    codes = model.transform(off_centre)
    W = model.params_["W"].astype(np.float64)
    expected = (off_centre - off_centre.mean(axis=0)) @ W.T
    tolerance = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(codes, expected, atol=tolerance * np.abs(expected).max())
    # reconstructions are back around the data's mean, and close to the rows
    rebuilt = model.reconstruct(off_centre)
    assert np.abs(rebuilt - off_centre).max() < 0.1
    np.testing.assert_allclose(model.inverse_transform(codes), rebuilt, rtol=1e-6)
    assert model.score(off_centre) == pytest.approx(-np.mean((rebuilt - off_centre) ** 2),
                                                    rel=1e-4)


def test_nonlinear_codes_are_the_activation_of_the_centred_rows(off_centre):
    model = Autoencoder(3, kind="nonlinear", activation="tanh", center=True, epochs=3,
                        random_state=0, dtype="float64").fit(off_centre)
    W, b = model.params_["W"], model.params_["b"]
    expected = np.tanh((off_centre - off_centre.mean(axis=0)) @ W.T + b)
    np.testing.assert_allclose(model.transform(off_centre), expected, rtol=1e-10, atol=1e-12)
    # without centring, the mean stays zero and the codes see the raw rows
    raw = Autoencoder(3, kind="nonlinear", activation="tanh", center=False, epochs=1,
                      random_state=0, dtype="float64").fit(off_centre)
    assert not raw.mean_.any()
    W, b = raw.params_["W"], raw.params_["b"]
    np.testing.assert_allclose(raw.transform(off_centre), np.tanh(off_centre @ W.T + b),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mask_noise_zeroes_its_share_of_entries(p, dtype):
    x = np.random.default_rng(1).uniform(1, 2, size=(200, 100)).astype(dtype)
    corrupted = parse_noise(f"mask:{p}")(x, np.random.default_rng(2))
    assert corrupted.shape == x.shape and corrupted.dtype == x.dtype
    zeroed = corrupted == 0
    # 20,000 entries: the share's standard error is at most 0.0035; 0.02 is over 5 of them
    assert abs(zeroed.mean() - p) < 0.02
    # entries not zeroed are left as they were
    np.testing.assert_array_equal(corrupted[~zeroed], x[~zeroed])
    assert not np.shares_memory(corrupted, x)


@pytest.mark.parametrize("sigma", [0.0, 0.1, 2.0])
def test_gaussian_noise_adds_its_standard_deviation(sigma):
    x = np.random.default_rng(1).uniform(1, 2, size=(200, 100))
    noise = parse_noise(f"gaussian:{sigma}")
    corrupted = noise(x, np.random.default_rng(3))
    added = corrupted - x
    assert abs(added.mean()) < 0.03 * max(sigma, 1e-9) + 1e-12
    assert abs(added.std() - sigma) < 0.02 * sigma + 1e-12
    assert corrupted.dtype == x.dtype
    assert str(noise) == f"gaussian:{sigma:g}"


def test_noise_is_fresh_on_every_call_and_follows_the_generator():
    x = np.ones((50, 40))
    noise = Noise("mask", 0.5)
    rng = np.random.default_rng(5)
    first, second = noise(x, rng), noise(x, rng)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, noise(x, np.random.default_rng(5)))


@pytest.mark.parametrize("spec, message", [
    ("gauss:0.1", "noise 'gauss': expected gaussian:SIGMA or mask:P"),
    ("mask:1.5", "noise mask:1.5: expected a probability in [0, 1)"),
    ("mask:1", "noise mask:1.0: expected a probability in [0, 1)"),
    ("mask:-0.1", "noise mask:-0.1: expected a probability in [0, 1)"),
    ("gaussian:-1", "noise gaussian:-1.0: expected a finite SIGMA ≥ 0"),
    ("gaussian:inf", "noise gaussian:inf: expected a finite SIGMA ≥ 0"),
    ("mask", "noise 'mask': expected gaussian:SIGMA or mask:P, e.g. gaussian:0.1 or mask:0.3"),
    ("mask:x", "noise 'mask:x': expected gaussian:SIGMA or mask:P, e.g. gaussian:0.1 or "
               "mask:0.3"),
    ("gaussian:0.1:2", "noise 'gaussian:0.1:2': expected gaussian:SIGMA or mask:P, e.g. "
                       "gaussian:0.1 or mask:0.3"),  # the kind ends at the first colon
])
def test_bad_noise_specs_name_the_noise_parameter_exactly(spec, message):
    with pytest.raises(EmbedkitError) as error:
        parse_noise(spec)
    assert str(error.value) == message
    assert error.value.params == ("noise",)


def test_a_seed_gives_the_same_corruption_from_one_version_to_the_next():
    """The draws behind each noise, pinned: a fitted model depends on them through ``--seed``
    (float32 uniforms for the mask, float64 normals added, not subtracted, for gaussian)."""
    x = np.random.default_rng(1).uniform(1, 2, size=(30, 20)).astype(np.float32)
    corrupted = Noise("gaussian", 0.5)(x, np.random.default_rng(7))
    assert corrupted.dtype == np.float32
    added = (0.5 * np.random.default_rng(7).standard_normal(x.shape)).astype(np.float32)
    np.testing.assert_array_equal(corrupted, x + added)
    masked = Noise("mask", 0.4)(x, np.random.default_rng(7))
    keep = np.random.default_rng(7).random(x.shape, dtype=np.float32) >= 0.4
    np.testing.assert_array_equal(masked, x * keep)


class ZeroDraws:
    """A generator whose uniform draws are all exactly 0 (each has probability 2⁻²⁴ in
    float32)."""

    def random(self, shape, dtype):
        return np.zeros(shape, dtype)


def test_mask_zero_keeps_an_entry_whose_draw_is_exactly_zero():
    x = np.ones((3, 4))
    np.testing.assert_array_equal(Noise("mask", 0.0)(x, ZeroDraws()), x)
    np.testing.assert_array_equal(Noise("mask", 0.1)(x, ZeroDraws()), np.zeros((3, 4)))
