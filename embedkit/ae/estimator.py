"""The autoencoder as a scikit-learn transformer: ``fit``, ``transform`` (codes),
``inverse_transform`` (reconstructions), ``score`` (negative reconstruction error).

It is one by scikit-learn's protocol, not by inheriting its base classes, so that importing it
and fitting a float NumPy matrix import no scikit-learn: its import (``sklearn.base`` loads
``sklearn.utils``, ``scipy.stats``, ...) is about 84 MB of memory, more than a third of a
200 MB matrix. Scikit-learn is imported when it is needed: to check any other input (lists,
DataFrames, sparse matrices, other dtypes), for the tags when scikit-learn asks, and for the
error of an unfitted model.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Iterator

import numpy as np

from embedkit import streaming
from embedkit.ae import blocks
from embedkit.ae.checkpoint import DATA_KEY, load_checkpoint
from embedkit.ae.models import Architecture
from embedkit.ae.noise import parse_noise
from embedkit.ae.polish import polish_linear
from embedkit.ae.regularizers import Penalties
from embedkit.ae.training import Callback, TrainingSettings, reconstruction_error, train
from embedkit.archive import AE_MODEL, read_archive, with_prefix, write_archive
from embedkit.core import Tensor, no_grad
from embedkit.errors import EmbedkitError, ParameterError
from embedkit.training import DEFAULT_CHECKPOINT_EVERY, Checkpoints

#: Bumped when the layout of saved models changes.
MODEL_FORMAT = 1


class Autoencoder:
    """An autoencoder ``x̂ = g(U f(W x + b) + c)`` trained on embedkit's backprop core.

    With the defaults it is the tied linear autoencoder ``x̂ = WᵀW x`` of THEORY.md on centred
    data, whose optimum spans the PCA subspace.

    A scikit-learn transformer (``clone``, ``Pipeline``, grid search, its estimator checks)
    that does not inherit scikit-learn's ``BaseEstimator`` (see the module's docstring): it
    has no HTML display in notebooks and no metadata-routing requests (``set_fit_request``).

    Parameters
    ----------
    n_components : int
        Hidden size ``k`` (below the number of features for the linear kind).
    kind : {"linear", "nonlinear"}
    tied : bool
        Use ``U = Wᵀ``.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish"}
        Hidden activation ``f`` of the nonlinear kind.
    output_activation : {"identity", "sigmoid"}
        Output activation ``g`` of the nonlinear kind.
    center : bool or "auto"
        Subtract the training mean before encoding (and add it back after decoding); "auto"
        centres the linear kind only (the nonlinear kind has biases, and a sigmoid output
        needs targets in [0, 1]).
    noise : str, optional
        Denoising: ``"gaussian:SIGMA"`` or ``"mask:P"``, fresh noise on each batch.
    l1 : float
        Weight of the L1 penalty on the codes (sparse autoencoder).
    contractive : float
        Weight of the squared Frobenius norm of the encoder's Jacobian.
    weight_decay : float
        Weight of ``Σ w²`` over the weight matrices.
    optimizer : {"adam", "sgd", "rmsprop", "adagrad"}
    lr : float
        Learning rate, held for the first 80% of the steps, then annealed along a cosine to
        ``lr / 1000`` (see :func:`embedkit.ae.training.learning_rate`).
    epochs : int
    batch_size : int
    val_split : float
        Fraction of rows held out; training stops after ``patience`` epochs without a lower
        validation error and keeps the best weights.
    patience : int
    polish : bool
        Finish linear models exactly on their learned subspace (see :func:`polish_linear`).
    dtype : {"float32", "float64"}
        Precision of training.
    random_state : int, numpy.random.Generator or None
        Seed of initialisation, batch order, split and noise.

    Attributes
    ----------
    params_ : dict of ndarray
        ``W`` (k × n_features), and ``U`` (n_features × k), ``b``, ``c`` when present.
    mean_ : ndarray of shape (n_features,)
        Subtracted before encoding (zeros without centring).
    components_ : ndarray of shape (k, n_features)
        Orthonormal basis of the decoder's column space (where reconstructions live, up to
        ``mean_`` and ``c``), ordered by the decoder's singular values.
    history_ : list of dict
        One record per epoch (see :func:`embedkit.ae.training.train`).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    """

    def __init__(self, n_components: int = 2, *, kind: str = "linear", tied: bool = True,
                 activation: str = "sigmoid", output_activation: str = "identity",
                 center: bool | str = "auto", noise: str | None = None, l1: float = 0.0,
                 contractive: float = 0.0, weight_decay: float = 0.0, optimizer: str = "adam",
                 lr: float = 1e-3, epochs: int = 50, batch_size: int = 256,
                 val_split: float = 0.0, patience: int = 10, polish: bool = True,
                 dtype: str = "float32", random_state=None):
        self.n_components = n_components
        self.kind = kind
        self.tied = tied
        self.activation = activation
        self.output_activation = output_activation
        self.center = center
        self.noise = noise
        self.l1 = l1
        self.contractive = contractive
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.val_split = val_split
        self.patience = patience
        self.polish = polish
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ sklearn protocol

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's parameters, which are the estimator's (scikit-learn's rule)."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The estimator's parameters by name (``deep`` has no effect: none is an estimator)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Autoencoder:
        """Set parameters by name; returns ``self``.

        Raises
        ------
        ParameterError
            For a name that is not a parameter (a ``ValueError``, as scikit-learn expects).
        """
        names = self._param_names()
        for name in params:
            if name not in names:
                raise ParameterError(f"{name!r} is not a parameter of {type(self).__name__}; "
                                     f"expected one of {', '.join(names)}", params=(name,))
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """The class and the parameters that differ from their defaults, as scikit-learn
        shows estimators."""
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if repr(value) != repr(defaults[name].default)]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        """Scikit-learn's tags: a transformer that keeps float32 and float64."""
        # imported when scikit-learn asks for them, so it is loaded already
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self) -> None:
        """Raise scikit-learn's ``NotFittedError`` (what its users catch) before a fit."""
        if not self.__sklearn_is_fitted__():
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 "call 'fit' first.")

    def fit_transform(self, X, y=None, **fit_params) -> np.ndarray:
        """``fit(X, y, **fit_params)``, then the codes of ``X`` (:meth:`transform`)."""
        return self.fit(X, y, **fit_params).transform(X)

    @property
    def architecture(self) -> Architecture:
        """The model's :class:`Architecture` (validated)."""
        return Architecture(self.kind, bool(self.tied), self.activation, self.output_activation)

    def fit(self, X, y=None, *, callback: Callback | None = None,
            checkpoint: str | os.PathLike | None = None,
            checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
            resume: str | os.PathLike | None = None, name: str = "X") -> Autoencoder:
        """Train on the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        callback : callable, optional
            Progress hook, see :func:`embedkit.ae.training.train`; also called with
            ``{"event": "rows", "rows": n}`` as each block of a pass over the data outside
            training (the mean, the polish's XᵀX, the checkpoint's digest) is done.
        checkpoint : path, optional
            Save the training state here (atomically) every ``checkpoint_every`` epochs and
            after the last one.
        checkpoint_every : int
        resume : path, optional
            Continue from a checkpoint written with the same ``X`` and settings (``epochs``
            may differ; the random state comes from the checkpoint, not ``random_state``).
            With the same ``epochs`` the weights are bit-identical to an uninterrupted fit.
        name : str
            What error messages call ``X`` (the CLI gives the file's name).

        Returns
        -------
        self

        Raises
        ------
        EmbedkitError
            For bad settings, or a checkpoint of other data or settings;
            :class:`DivergenceError` when training diverges.
        Interrupted
            On Ctrl-C during training, saying where it stopped (nothing is fitted).
        """
        X = self._validated(X, reset=True)
        arch = self.architecture
        settings = TrainingSettings(self.optimizer, float(self.lr), int(self.epochs),
                                    int(self.batch_size), float(self.val_split),
                                    int(self.patience))
        penalties = Penalties(float(self.l1), float(self.contractive), float(self.weight_decay))
        noise = parse_noise(self.noise)
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype {self.dtype!r} is not one of float32, float64",
                                params=("dtype",))
        rng = _generator(self.random_state)
        dtype = np.dtype(self.dtype)
        center = arch.linear if self.center == "auto" else bool(self.center)
        # the data are centred batch by batch, never copied whole (a memory map streams)
        rows_read = (lambda n: callback({"event": "rows", "rows": n})) if callback else None
        mean = (blocks.column_mean(X, rows_read) if center else np.zeros(X.shape[1])
                ).astype(X.dtype)
        params = arch.init_params(X.shape[1], int(self.n_components), rng, dtype, name)
        checkpoints = Checkpoints(checkpoint, checkpoint_every)
        context = (self._run_context(X, mean, dtype, rows_read) if checkpoint or resume
                   else {})
        self.history_ = train(
            arch, params, X, settings, rng, noise=noise, penalties=penalties,
            callback=callback, resume=load_checkpoint(resume, context) if resume else None,
            checkpoints=checkpoints, context=context, mean=mean)
        if self.polish and arch.linear and self.epochs:
            polish_linear(arch, params, X, penalties, mean=mean, progress=rows_read)
        self.mean_ = mean.astype(dtype)
        self.params_ = params
        self.n_iter_ = len(self.history_)
        self.components_ = _orthonormal_rows(arch.decoder_weight(
            {k: Tensor(v) for k, v in params.items()}).data)
        return self

    def _run_context(self, X: np.ndarray, mean: np.ndarray, dtype: np.dtype,
                     progress: streaming.Progress | None = None) -> dict:
        """What a checkpoint must share with the run resuming from it: the settings (except
        ``epochs`` and ``random_state``) and the preprocessed data."""
        context = {key: value for key, value in self.get_params().items()
                   if key not in ("epochs", "random_state")}
        context[DATA_KEY] = blocks.digest(X, mean, dtype, progress)
        return context

    def _validated(self, X, reset: bool, finite: bool = False) -> np.ndarray:
        """``X`` checked as scikit-learn does. A float matrix in memory or memory-mapped is
        checked here, one block at a time (not read for it when known to be ``finite``), and
        is neither copied nor loaded (so fit, transform and score stream a map); anything
        else goes through scikit-learn's checks, which read it whole."""
        if not _streamable(X):
            from sklearn.utils.validation import validate_data

            return validate_data(self, X, dtype=[np.float64, np.float32], reset=reset)
        if not finite:
            _check_finite(X, "X")
        if reset:
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)  # a refit on a matrix has no names
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        elif hasattr(self, "feature_names_in_"):
            # scikit-learn's wording, which its users' warning filters match
            warnings.warn(f"X does not have valid feature names, but {type(self).__name__} "
                          "was fitted with feature names", UserWarning, stacklevel=2)
        return X

    def _tensors(self, dtype: np.dtype) -> dict[str, Tensor]:
        return {name: Tensor(value.astype(dtype, copy=False))
                for name, value in self.params_.items()}

    def transform(self, X, progress: streaming.Progress | None = None) -> np.ndarray:
        """The codes ``f(W (x − mean) + b)`` of the rows of ``X`` (same float dtype as ``X``),
        one block of rows at a time; ``progress`` is called with each block's row count."""
        return self.transform_blocks(X, progress).gather()

    def transform_blocks(self, X, progress: streaming.Progress | None = None,
                         finite: bool = False) -> streaming.RowBlocks:
        """:meth:`transform` one block of rows at a time, never holding the result whole.

        ``X`` is checked now (a memory map one block at a time, unless ``finite`` says the
        caller has checked it, as :func:`~embedkit.ae.data.read_matrix` does: a pass over a
        large map less); each block of codes is
        computed as it is asked for, from a block of about
        :data:`~embedkit.streaming.BLOCK_BYTES` of ``X`` copied out of a memory map, so
        memory holds the model and a block or two whatever the number of rows.

        Returns
        -------
        RowBlocks
            Shape (n_samples, n_components), ``X``'s float dtype.
        """
        self._check_fitted()
        X = self._validated(X, reset=False, finite=finite)
        tensors = self._tensors(X.dtype)

        def codes() -> Iterator[np.ndarray]:
            for _, block in streaming.iter_blocks(X, progress=progress):
                centred = blocks.centred_rows(block, slice(None), self.mean_, X.dtype)
                with no_grad():  # not held across the yield: a caller may stop half-way
                    code = self.architecture.encode(tensors, Tensor(centred))[1].data
                yield code
        return streaming.RowBlocks((len(X), len(self.params_["W"])), X.dtype, codes())

    def inverse_transform(self, X, progress: streaming.Progress | None = None) -> np.ndarray:
        """Reconstructions from codes: ``g(U h + c) + mean``, decoded one block of rows at a
        time into the result; ``progress`` is called with each block's row count."""
        return self.inverse_transform_blocks(X, progress).gather()

    def inverse_transform_blocks(self, X, progress: streaming.Progress | None = None,
                                 finite: bool = False) -> streaming.RowBlocks:
        """:meth:`inverse_transform` one block of rows at a time (about
        :data:`~embedkit.streaming.BLOCK_BYTES` of reconstructions each), never holding the
        result whole; memory-mapped codes are checked (unless known to be ``finite``, as for
        :meth:`transform_blocks`) and read one block at a time.

        Returns
        -------
        RowBlocks
            Shape (n_samples, n_features), the codes' float dtype.
        """
        self._check_fitted()
        codes = _check_codes(X, len(self.params_["W"]), finite)
        tensors = self._tensors(codes.dtype)
        mean = self.mean_.astype(codes.dtype)
        shape = (len(codes), self.n_features_in_)
        step = streaming.block_rows(np.empty((0, shape[1]), codes.dtype))

        def reconstructions() -> Iterator[np.ndarray]:
            for _, block in streaming.iter_blocks(codes, step, progress):
                with no_grad():  # not held across the yield: a caller may stop half-way
                    decoded = self.architecture.decode(tensors, Tensor(block)).data
                yield np.add(decoded.astype(codes.dtype, copy=False), mean)
        return streaming.RowBlocks(shape, codes.dtype, reconstructions())

    def reconstruct(self, X) -> np.ndarray:
        """``inverse_transform(transform(X))``."""
        return self.inverse_transform(self.transform(X))

    def score(self, X, y=None) -> float:
        """Negative mean squared reconstruction error (higher is better, as sklearn expects)."""
        self._check_fitted()
        X = self._validated(X, reset=False)
        return -reconstruction_error(self.architecture, self._tensors(X.dtype), X,
                                     mean=self.mean_)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike | None) -> None:
        """Write the fitted model as an ``.npz`` archive (atomically; None or ``-``: stdout)."""
        self._check_fitted()
        # generators are not JSON; the fit is done
        params = {**self.get_params(), "random_state": None}
        meta = {"format": MODEL_FORMAT, "params": params, "n_iter": self.n_iter_}
        arrays = {f"param_{name}": value for name, value in self.params_.items()}
        write_archive(path, meta, {"mean": self.mean_, "components": self.components_,
                                   **arrays})


def load_model(path: str | os.PathLike) -> Autoencoder:
    """Read a model written by :meth:`Autoencoder.save`.

    Raises
    ------
    EmbedkitError
        When the file is missing or is not an embedkit autoencoder.
    """
    meta, arrays = read_archive(path, AE_MODEL, MODEL_FORMAT)
    model = Autoencoder(**meta["params"])
    model.params_ = with_prefix(arrays, "param_")
    model.mean_ = arrays["mean"]
    model.components_ = arrays["components"]
    model.n_features_in_ = len(model.mean_)
    model.n_iter_ = meta["n_iter"]
    model.history_ = []
    return model


def _check_codes(codes, n_hidden: int, finite: bool = False) -> np.ndarray:
    if _streamable(codes):
        if not finite:
            _check_finite(codes, "codes")
    else:
        from sklearn.utils import check_array

        codes = check_array(codes, dtype=[np.float64, np.float32])
    if codes.shape[1] != n_hidden:
        raise EmbedkitError(f"codes have {codes.shape[1]} columns, the model expects "
                            f"{n_hidden}")
    return codes


def _check_finite(X: np.ndarray, where: str) -> None:
    # naming NaN and inf as scikit-learn's estimator checks require of the error
    streaming.check_finite(X, where, expected="finite numbers, not NaN or inf")


def _streamable(X) -> bool:
    """Whether ``X`` is a non-empty float32 or float64 NumPy matrix, in memory or
    memory-mapped, checked and read one block at a time (anything else, ``ndarray``
    subclasses such as ``np.matrix`` and other byte orders too, goes through scikit-learn's
    checks, which read it whole)."""
    return ((type(X) is np.ndarray or streaming.is_mapped(X)) and X.ndim == 2
            and X.dtype in (np.float32, np.float64) and bool(X.shape[0]) and bool(X.shape[1]))


def _orthonormal_rows(decoder: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the column space of ``decoder``, by singular value."""
    left, _, _ = np.linalg.svd(decoder.astype(np.float64), full_matrices=False)
    return left.T.astype(decoder.dtype)


def _generator(random_state) -> np.random.Generator:
    """A Generator from sklearn-style ``random_state`` (int, RandomState, Generator or None)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    return np.random.default_rng(random_state)
