"""The autoencoder is a scikit-learn estimator by protocol, not by inheritance: fitting a NumPy
matrix imports no scikit-learn, and ``clone``, ``Pipeline``, grid search and feature names work
as they do for scikit-learn's own estimators."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from embedkit.ae import Autoencoder
from embedkit.errors import ParameterError

#: A value for every parameter, none of them the default.
NOT_DEFAULTS = dict(n_components=3, kind="nonlinear", tied=False, activation="tanh",
                    output_activation="sigmoid", center=True, noise="mask:0.1", l1=0.01,
                    contractive=0.02, weight_decay=0.03, optimizer="sgd", lr=0.05, epochs=2,
                    batch_size=32, val_split=0.2, patience=3, polish=False, dtype="float64",
                    random_state=11)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(200, 3)) @ rng.normal(size=(3, 8)) + 0.05 * rng.normal(size=(200, 8))


def test_fitting_a_numpy_matrix_imports_no_scikit_learn(tmp_path):
    script = """
import json, sys
import numpy as np
from embedkit.ae import Autoencoder
from embedkit.ae.pca import compare_with_pca
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 6)).astype(np.float32)
np.save(sys.argv[1], X.astype(np.float64))
for data in (X, np.load(sys.argv[1], mmap_mode="r")):
    model = Autoencoder(2, epochs=1, random_state=0).fit(data)
    model.inverse_transform(model.transform(data))
    model.score(data)
    compare_with_pca(model, data)  # the default solver for 6 features: the covariance one
nonlinear = Autoencoder(2, kind="nonlinear", val_split=0.2, epochs=2, random_state=0).fit(X)
compare_with_pca(nonlinear, X)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")))
"""
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "X.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_parameters_round_trip_through_clone_and_set_params():
    model = Autoencoder(**NOT_DEFAULTS)
    assert model.get_params() == NOT_DEFAULTS
    assert model.get_params(deep=True) == NOT_DEFAULTS
    copy = clone(model)
    assert type(copy) is Autoencoder and copy is not model
    assert copy.get_params() == NOT_DEFAULTS
    assert Autoencoder().set_params(**NOT_DEFAULTS).get_params() == NOT_DEFAULTS


def test_clone_leaves_the_fit_behind(data):
    model = Autoencoder(2, epochs=1, random_state=0).fit(data)
    copy = clone(model)
    assert not hasattr(copy, "params_") and not hasattr(copy, "n_features_in_")
    with pytest.raises(NotFittedError, match="not fitted"):
        copy.transform(data)


def test_an_unknown_parameter_is_refused_by_name():
    with pytest.raises(ParameterError, match=r"^'hidden' is not a parameter of Autoencoder; "
                                             r"expected one of n_components, kind, "):
        Autoencoder().set_params(epochs=3, hidden=4)


def test_repr_shows_the_parameters_that_differ_from_the_defaults():
    assert repr(Autoencoder()) == "Autoencoder()"
    assert repr(Autoencoder(16, noise="mask:0.2", epochs=50)) == \
        "Autoencoder(n_components=16, noise='mask:0.2')"


def test_in_a_pipeline_and_a_grid_search(data):
    pipeline = make_pipeline(StandardScaler(), Autoencoder(2, epochs=2, random_state=0))
    codes = pipeline.fit_transform(data)
    scaled = StandardScaler().fit_transform(data)
    alone = Autoencoder(2, epochs=2, random_state=0).fit(scaled)
    np.testing.assert_array_equal(codes, alone.transform(scaled))
    search = GridSearchCV(Autoencoder(epochs=2, random_state=0), {"n_components": [1, 3]},
                          cv=3).fit(data)
    # the data have rank 3: three components reconstruct them better than one
    assert search.best_params_ == {"n_components": 3}
    assert search.best_estimator_.transform(data).shape == (len(data), 3)


def test_feature_names_are_warned_about_and_dropped_as_scikit_learn_does(data):
    model = Autoencoder(2, epochs=1, random_state=0).fit(data)
    # what a fit on a DataFrame leaves (no DataFrame library is a test dependency)
    model.feature_names_in_ = np.array([f"f{i}" for i in range(data.shape[1])], dtype=object)
    with pytest.warns(UserWarning, match="^X does not have valid feature names, but "
                                         "Autoencoder was fitted with feature names$"):
        model.transform(data)
    model.fit(data)  # a refit on a matrix forgets the names, and warns no more
    assert not hasattr(model, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transform(data)
