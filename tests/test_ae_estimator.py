"""The autoencoder estimator where a user meets it: resuming under another seed, progress over
every pass of the data, saved and loaded models, and the precision of its answers."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae import Autoencoder, load_model
from embedkit.errors import EmbedkitError, Interrupted


@pytest.fixture(scope="module")
def data():
    """Rows near a 3-dimensional subspace of 10 features, away from the origin."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 10))
    return X + 0.05 * rng.normal(size=X.shape) + np.linspace(1, 4, 10)


def test_a_resumed_fit_takes_its_random_state_from_the_checkpoint(tmp_path, data):
    settings = dict(kind="nonlinear", noise="mask:0.2", epochs=4, dtype="float64")
    full = Autoencoder(3, random_state=1, **settings).fit(data)
    checkpoint = tmp_path / "ck.npz"
    Autoencoder(3, random_state=1, **{**settings, "epochs": 2}).fit(data, checkpoint=checkpoint)
    # another seed (or none) on resuming is no mismatch: the generator's state is saved
    for seed in (2, None):
        resumed = Autoencoder(3, random_state=seed, **settings).fit(data, resume=checkpoint)
        for name in full.params_:
            np.testing.assert_array_equal(resumed.params_[name], full.params_[name])


@pytest.mark.parametrize("kind", ["linear", "nonlinear"])
def test_progress_counts_the_rows_of_every_pass_outside_training(tmp_path, data, kind):
    rows = []

    def callback(event):
        if event["event"] == "rows":
            rows.append(event["rows"])

    Autoencoder(3, kind=kind, epochs=1, random_state=0).fit(
        data, callback=callback, checkpoint=tmp_path / "ck.npz")
    # linear: the mean, the checkpoint's digest and the polish's XᵀX; nonlinear: the digest
    passes = 3 if kind == "linear" else 1
    assert sum(rows) == passes * len(data)
    rows.clear()
    Autoencoder(3, kind=kind, epochs=1, random_state=0).fit(data, callback=callback)
    assert sum(rows) == (passes - 1) * len(data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_is_the_error_of_the_reconstruction_in_the_datas_precision(data, dtype):
    model = Autoencoder(3, kind="nonlinear", tied=False, activation="tanh", epochs=2,
                        random_state=0, dtype="float64").fit(data)
    X = data.astype(dtype)
    # the float64 model is used in X's precision, as transform and inverse_transform do
    W, b = (model.params_[k].astype(dtype) for k in ("W", "b"))
    U, c = (model.params_[k].astype(dtype) for k in ("U", "c"))
    rebuilt = np.tanh(X @ W.T + b) @ U.T + c
    expected = np.sum(np.square(rebuilt - X), dtype=np.float64) / X.size
    assert model.score(X) == pytest.approx(-expected, rel=1e-12)


def test_a_saved_model_loads_with_its_settings_and_iterations_and_refits(tmp_path, data):
    model = Autoencoder(3, epochs=3, random_state=np.random.default_rng(4)).fit(data)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.n_iter_ == 3
    assert loaded.history_ == []
    assert loaded.get_params()["random_state"] is None
    np.testing.assert_array_equal(loaded.transform(data), model.transform(data))
    loaded.set_params(epochs=1).fit(data)  # a loaded model is an estimator like any other
    assert loaded.n_iter_ == 1


def test_a_file_that_is_no_model_is_named_as_such(tmp_path, data):
    np.savez(tmp_path / "other.npz", data=data)
    with pytest.raises(EmbedkitError, match=r"other\.npz: not an embedkit autoencoder model"):
        load_model(tmp_path / "other.npz")


def test_l1_and_weight_decay_each_add_their_penalty_to_the_loss(data):
    def last(**penalty):
        model = Autoencoder(3, kind="nonlinear", epochs=1, random_state=0, dtype="float64",
                            **penalty).fit(data)
        return model.history_[-1]

    plain = last()
    assert plain["train_loss"] == pytest.approx(plain["train_mse"], rel=1e-12)
    for penalty in ({"l1": 0.1}, {"weight_decay": 0.1}, {"contractive": 0.1}):
        record = last(**penalty)
        assert record["train_loss"] > record["train_mse"] + 1e-3, penalty


def test_training_sees_the_centred_rows(data):
    # a learning rate too small to move the weights: the first epoch's error is that of the
    # initial weights on the centred rows, which score() measures too
    model = Autoencoder(3, lr=1e-12, epochs=1, polish=False, random_state=0,
                        dtype="float64").fit(data)
    assert model.history_[0]["train_mse"] == pytest.approx(-model.score(data), rel=1e-6)


def test_a_float32_model_is_float32_throughout(data):
    model = Autoencoder(3, epochs=1, random_state=0, dtype="float32").fit(data)
    arrays = {"mean_": model.mean_, "components_": model.components_, **model.params_}
    assert {name: a.dtype for name, a in arrays.items()} == dict.fromkeys(arrays, np.float32)
    codes = model.transform(data.astype(np.float32))
    assert codes.dtype == np.float32
    assert model.inverse_transform(codes).dtype == np.float32
    # decoded with the float32 weights, as a float32 model computes
    W = model.params_["W"]
    np.testing.assert_array_equal(model.inverse_transform(codes), codes @ W + model.mean_)


def test_bad_dtype_names_the_parameter():
    with pytest.raises(EmbedkitError) as error:
        Autoencoder(2, dtype="float16").fit(np.ones((5, 3)) + np.eye(5, 3))
    assert str(error.value) == "dtype 'float16' is not one of float32, float64"
    assert error.value.params == ("dtype",)


@pytest.mark.parametrize("name, shown", [(None, "X"), ("rows.csv", "rows.csv")])
def test_fit_names_the_data_in_its_errors(data, name, shown):
    kwargs = {} if name is None else {"name": name}
    with pytest.raises(EmbedkitError, match=rf"^{shown}: a linear autoencoder needs"):
        Autoencoder(10).fit(data, **kwargs)


def test_checkpoint_every_is_passed_on(tmp_path, data):
    def stop_after_3(record):
        if record["event"] == "epoch" and record["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=r"the checkpoint .*ck\.npz holds epoch 2"):
        Autoencoder(3, epochs=5, random_state=0).fit(
            data, callback=stop_after_3, checkpoint=tmp_path / "ck.npz", checkpoint_every=2)


@pytest.mark.parametrize("blocks", [2, 3])
def test_codes_of_rows_in_several_blocks_are_all_there(monkeypatch, data, blocks):
    from embedkit import streaming

    model = Autoencoder(3, epochs=1, random_state=0, dtype="float64").fit(data)
    whole = model.transform(data)
    rows = -(-len(data) // blocks)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", rows * data.shape[1] * 8)
    np.testing.assert_array_equal(model.transform(data), whole)


def test_integer_codes_decode_as_floats(data):
    model = Autoencoder(3, epochs=1, random_state=0, dtype="float64").fit(data)
    codes = np.array([[1, 0, -2], [0, 3, 1]])
    np.testing.assert_array_equal(model.inverse_transform(codes),
                                  model.inverse_transform(codes.astype(np.float64)))


def test_codes_of_the_wrong_width_are_refused_in_one_line(data):
    model = Autoencoder(3, epochs=1, random_state=0).fit(data)
    with pytest.raises(EmbedkitError, match=r"^codes have 4 columns, the model expects 3$"):
        model.inverse_transform(np.zeros((2, 4)))


def test_a_legacy_random_state_seeds_the_fit_with_one_32_bit_draw(data):
    def fit(random_state):
        return Autoencoder(3, kind="nonlinear", epochs=1, random_state=random_state,
                           dtype="float64").fit(data).params_["W"]

    seed = np.random.RandomState(5).randint(2**32, dtype=np.uint64)
    np.testing.assert_array_equal(fit(np.random.RandomState(5)), fit(int(seed)))
    assert not np.array_equal(fit(np.random.RandomState(5)), fit(np.random.RandomState(6)))


def test_the_polish_leaves_a_penalised_model_as_trained(data):
    def weights(polish):
        return Autoencoder(3, weight_decay=0.01, epochs=2, polish=polish, random_state=0,
                           dtype="float64").fit(data).params_["W"]

    # the projection minimises the error alone, not the error plus a penalty
    np.testing.assert_array_equal(weights(True), weights(False))


def test_integer_rows_are_encoded_as_floats(data):
    model = Autoencoder(3, epochs=1, random_state=0, dtype="float64").fit(data)
    rows = np.rint(data * 10).astype(np.int64)
    np.testing.assert_array_equal(model.transform(rows), model.transform(rows.astype(float)))


def test_memory_mapped_rows_are_checked_as_in_memory_ones(tmp_path, data):
    model = Autoencoder(3, epochs=1, random_state=0).fit(data)
    np.save(tmp_path / "wide.npy", np.ones((4, 11)))
    wide = np.load(tmp_path / "wide.npy", mmap_mode="r")
    with pytest.raises(ValueError, match=r"^X has 11 features, but Autoencoder is expecting "
                                         r"10 features as input\.$"):
        model.transform(wide)
    bad = data.copy()
    bad[5, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(EmbedkitError, match=r"^X: row 6, column 3: nan; expected finite"):
        model.transform(np.load(tmp_path / "nan.npy", mmap_mode="r"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 10)))
    with pytest.raises(ValueError, match="0 sample"):
        Autoencoder(3).fit(np.load(tmp_path / "empty.npy", mmap_mode="r"))
