"""Optimizers (dense and sparse), learning-rate schedules, float32 throughout, checkpoints."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from embedkit.core import SparseRows, Tensor, ops
from embedkit.core.optim import SGD, Adagrad, Adam, Optimizer, RMSProp
from embedkit.core.schedules import constant, cosine, linear_decay

OPTIMIZERS = {
    "sgd": lambda params: SGD(params, lr=0.5),
    "momentum": lambda params: SGD(params, lr=0.1, momentum=0.9),
    "rmsprop": lambda params: RMSProp(params, lr=3e-3),
    "adam": lambda params: Adam(params, lr=1e-2),
    "adagrad": lambda params: Adagrad(params, lr=0.1),
}


def param(a) -> Tensor:
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- one step, known values

def test_sgd_step_and_momentum_accumulate():
    p = param([1.0, -2.0])
    opt = SGD([p], lr=0.1, momentum=0.5)
    for _ in range(2):
        p.grad = np.array([1.0, 2.0])
        opt.step()
    # v₁ = g, v₂ = 0.5 g + g: the parameter moved by lr (1 + 1.5) g
    np.testing.assert_allclose(p.data, [1 - 0.25, -2 - 0.5])
    assert opt.steps == 2


@pytest.mark.parametrize("make, size", [
    (lambda p: Adam(p, lr=0.01), 0.01),                       # m̂ / √v̂ = sign(g)
    (lambda p: Adagrad(p, lr=0.01, eps=0), 0.01),             # g / √(g²)
    (lambda p: RMSProp(p, lr=0.01, decay=0.9, eps=0), 0.01 / math.sqrt(0.1)),
])
def test_first_adaptive_step_has_a_known_size(make, size):
    p = param([1.0, 1.0, 1.0])
    p.grad = np.array([3.0, -0.02, 500.0])
    make([p]).step()
    np.testing.assert_allclose(p.data, 1 - size * np.sign([3.0, -0.02, 500.0]), rtol=1e-6)


def test_zero_grad_and_parameters_without_gradient():
    a, b = param([1.0]), param([2.0])
    opt = SGD([a, b], lr=1.0)
    a.grad = np.array([0.5])
    opt.step()
    assert a.data[0] == 0.5 and b.data[0] == 2.0
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("bad", [lambda p: SGD(p, lr=0.0), lambda p: SGD(p, 0.1, momentum=1.0),
                                 lambda p: Adam(p, beta2=1.5), lambda p: RMSProp(p, decay=-0.1)])
def test_bad_hyperparameters_are_refused(bad):
    with pytest.raises(ValueError):
        bad([param([1.0])])


# ---------------------------------------------------------------- sparse rows

def _sparse_and_dense(make, n_steps, ids, dtype=np.float64):
    """Train a table through ``gather`` and a copy through a one-hot product (dense grads)."""
    rng = np.random.default_rng(2)
    start = rng.standard_normal((12, 3)).astype(dtype)
    sparse = Tensor(start.copy(), requires_grad=True)
    dense = Tensor(start.copy(), requires_grad=True)
    opt_sparse, opt_dense = make([sparse]), make([dense])
    onehot = Tensor(np.eye(12, dtype=dtype)[ids])
    for _ in range(n_steps):
        # integer weights: sums of duplicate rows are exact in any order
        weights = rng.integers(-3, 4, (len(ids), 3)).astype(dtype)
        for opt, rows in ((opt_sparse, ops.gather(sparse, ids)), (opt_dense, onehot @ dense)):
            opt.zero_grad()
            ops.sum(rows * weights).backward()
            opt.step()
        assert isinstance(sparse.grad, SparseRows) and isinstance(dense.grad, np.ndarray)
    return start, sparse.data, dense.data


IDS = np.array([4, 1, 4, 9, 4, 1])


def test_sparse_sgd_equals_dense_sgd_exactly():
    start, sparse, dense = _sparse_and_dense(lambda p: SGD(p, lr=0.5), 3, IDS)
    np.testing.assert_array_equal(sparse, dense)
    untouched = np.setdiff1d(np.arange(12), IDS)
    np.testing.assert_array_equal(sparse[untouched], start[untouched])
    assert not np.array_equal(sparse[IDS], start[IDS])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_sparse_steps_equal_dense_steps_on_touched_rows(name):
    # the same rows each step: lazy state updates then match the dense ones
    start, sparse, dense = _sparse_and_dense(OPTIMIZERS[name], 4, IDS)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-12)
    untouched = np.setdiff1d(np.arange(12), IDS)
    np.testing.assert_array_equal(sparse[untouched], start[untouched])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_step_with_shared_gradient_rows_equals_the_dense_step(name):
    # CBOW's gradient form: one row per bag, added to each member times its weight
    rng = np.random.default_rng(5)
    start = rng.standard_normal((6, 3))
    grad = SparseRows(np.array([4, 1, 4, 0]), rng.standard_normal((2, 3)), start.shape,
                      np.array([0, 3, 4]), np.array([0.5, 0.5, 0.25, 2.0]))
    sparse = Tensor(start.copy(), requires_grad=True)
    dense = Tensor(start.copy(), requires_grad=True)
    for tensor, g in ((sparse, grad), (dense, grad.to_dense())):
        tensor.grad = g
        OPTIMIZERS[name]([tensor]).step()
    np.testing.assert_allclose(sparse.data, dense.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sparse.data[[2, 3, 5]], start[[2, 3, 5]])
    assert not np.array_equal(sparse.data[[0, 1, 4]], start[[0, 1, 4]])


def test_sparse_state_is_lazy():
    table = Tensor(np.zeros((4, 2)), requires_grad=True)
    opt = Adam([table], lr=0.1)
    table.grad = SparseRows(np.array([0, 2, 0]), np.ones((3, 2)), (4, 2))
    opt.step()
    m = opt.state[0]["m"]
    np.testing.assert_allclose(m[[0, 2]], [[0.2, 0.2], [0.1, 0.1]])
    assert not m[[1, 3]].any()


# ---------------------------------------------------------------- float32 stays float32

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_stays_float32(name):
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    table = Tensor(rng.standard_normal((7, 3)).astype(np.float32), requires_grad=True)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    hidden = ops.swish(x @ w) * ops.gather(table, np.array([1, 6, 1, 0]))
    loss = ops.softmax_cross_entropy(hidden, np.array([0, 2, 1, 1])) + ops.l2_penalty(w)
    assert hidden.dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32 and table.grad.dtype == np.float32
    opt = OPTIMIZERS[name]([w, table])
    opt.step()
    assert w.dtype == np.float32 and table.dtype == np.float32
    assert all(a.dtype == np.float32 for state in opt.state for a in state.values())


# ---------------------------------------------------------------- training on digits

@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16).astype(np.float32), y


def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    return ops.softmax_cross_entropy(ops.tanh(x @ w1 + b1) @ w2 + b2, y)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_two_layer_mlp_learns_digits(name, digits):
    x, y = digits
    rng = np.random.default_rng(0)
    params = [Tensor(a.astype(np.float32), requires_grad=True) for a in (
        rng.standard_normal((64, 32)) / 8, np.zeros(32), rng.standard_normal((32, 10)) / 6,
        np.zeros(10))]
    opt = OPTIMIZERS[name](params)
    initial = _mlp_loss(params, x, y).item()
    for _ in range(5):
        order = rng.permutation(len(x))
        for batch in np.array_split(order, 14):
            opt.zero_grad()
            _mlp_loss(params, x[batch], y[batch]).backward()
            opt.step()
    final = _mlp_loss(params, x, y).item()
    assert initial > 2.0  # about log 10 at the start
    assert final < 0.3 * initial, (initial, final)


# ---------------------------------------------------------------- schedules and checkpoints

def test_schedules():
    assert constant(0.1)(0) == constant(0.1)(10 ** 6) == 0.1
    decay = linear_decay(0.025, 1e-4, 100)
    assert math.isclose(decay(0), 0.025) and math.isclose(decay(50), (0.025 + 1e-4) / 2)
    assert decay(100) == decay(500) == 1e-4 and decay(99) > 1e-4
    anneal = cosine(1e-3, 1e-6, 10)
    assert anneal(0) == 1e-3 and math.isclose(anneal(5), (1e-3 + 1e-6) / 2)
    assert math.isclose(anneal(10), 1e-6) and math.isclose(anneal(99), 1e-6)
    assert all(anneal(t) > anneal(t + 1) for t in range(10))


@pytest.mark.parametrize("args", [(0.0, 0.0, 10), (0.1, 0.2, 10), (0.1, 0.01, 0),
                                  (0.1, -0.01, 10)])
def test_bad_schedules_are_refused(args):
    with pytest.raises(ValueError):
        linear_decay(*args)


def test_optimizer_follows_its_schedule():
    p = param([0.0])
    opt = SGD([p], lr=linear_decay(1.0, 0.5, 2))
    moves = []
    for _ in range(3):
        assert opt.lr == [1.0, 0.75, 0.5][len(moves)]
        before = p.data.copy()
        p.grad = np.array([1.0])
        opt.step()
        moves.append((before - p.data).item())
    assert moves == [1.0, 0.75, 0.5]


def test_a_rate_given_to_step_overrides_the_schedule_for_that_step_only():
    p = Tensor(np.zeros((2, 2), dtype=np.float32), requires_grad=True)
    opt = SGD([p], lr=linear_decay(1.0, 0.5, 2))
    p.grad = np.ones((2, 2), dtype=np.float32)
    opt.step(lr=0.25)
    assert p.data.dtype == np.float32 and p.data.tolist() == [[-0.25, -0.25], [-0.25, -0.25]]
    assert opt.steps == 1 and opt.lr == 0.75  # the schedule moved on regardless
    p.grad = SparseRows(np.array([1, 1]), np.ones((2, 2), dtype=np.float32), (2, 2))
    opt.step(lr=0.5)
    assert p.data.tolist() == [[-0.25, -0.25], [-1.25, -1.25]]


def _train(opt: Optimizer, p: Tensor, n: int) -> None:
    for _ in range(n):
        opt.zero_grad()
        ops.sum(ops.square(p - 3.0)).backward()
        opt.step()


def test_state_dict_resumes_exactly(tmp_path):
    p = param([1.0, -1.0])
    opt = Adam([p], lr=0.1)
    _train(opt, p, 3)
    np.savez(tmp_path / "state.npz", **opt.state_dict())
    resumed_p = param(p.data.copy())
    resumed = Adam([resumed_p], lr=0.1)
    with np.load(tmp_path / "state.npz") as saved:
        resumed.load_state_dict(dict(saved))
    assert resumed.steps == 3
    _train(opt, p, 2)
    _train(resumed, resumed_p, 2)
    np.testing.assert_array_equal(p.data, resumed_p.data)


def test_state_dict_of_another_shape_is_refused():
    state = Adam([param([1.0, 2.0])]).state_dict()
    with pytest.raises(ValueError, match="optimizer state '0.m'"):
        Adam([param([1.0, 2.0, 3.0])]).load_state_dict(state)


# ---------------------------------------------------------------- several steps, the formulas

GRADS = [np.array([3.0, -0.5]), np.array([-1.0, 2.0]), np.array([0.25, 4.0])]


def _reference(kind: str, lr: float, eps: float, b1: float, b2: float) -> np.ndarray:
    """The documented update rules, one scalar at a time, over GRADS."""
    out = []
    for j in range(2):
        p, m, v = 1.0, 0.0, 0.0
        for t, grads in enumerate(GRADS, start=1):
            g = grads[j]
            if kind == "rmsprop":
                v = b2 * v + (1 - b2) * g * g
                p -= lr * g / (math.sqrt(v) + eps)
            elif kind == "adagrad":
                v += g * g
                p -= lr * g / (math.sqrt(v) + eps)
            else:
                m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
                p -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize("kind, make", [
    ("rmsprop", lambda p: RMSProp(p, lr=0.1, decay=0.8, eps=0.5)),
    ("adagrad", lambda p: Adagrad(p, lr=0.1, eps=0.5)),
    ("adam", lambda p: Adam(p, lr=0.1, beta1=0.7, beta2=0.8, eps=0.5)),
])
def test_adaptive_steps_follow_their_formulas_over_several_steps(kind, make):
    # a large eps and three steps: the state's recursion and eps's sign both show
    p = param([1.0, 1.0])
    opt = make([p])
    for g in GRADS:
        p.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(p.data, _reference(kind, 0.1, 0.5, 0.7, 0.8), rtol=1e-12)


def test_default_learning_rates():
    assert Adam([param([1.0])]).lr == 1e-3 and RMSProp([param([1.0])]).lr == 1e-3
    assert Adagrad([param([1.0])]).lr == 1e-2


@pytest.mark.parametrize("make, message", [
    (lambda p: SGD(p, 0.1, momentum=1.0), r"momentum must be in \[0, 1\), got 1.0"),
    (lambda p: Adam(p, beta1=-0.5), r"beta1 must be in \[0, 1\), got -0.5"),
    (lambda p: Adam(p, beta2=1.5), r"beta2 must be in \[0, 1\), got 1.5"),
    (lambda p: RMSProp(p, decay=1.0), r"decay must be in \[0, 1\), got 1.0"),
])
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make([param([1.0])])


def test_plain_sgd_keeps_no_state():
    # a velocity table as large as the embeddings, for nothing, and in every checkpoint
    p = param([1.0, 2.0])
    assert set(SGD([p], 0.1).state_dict()) == {"steps"}
    assert set(SGD([p], 0.1, momentum=0.5).state_dict()) == {"steps", "0.velocity"}


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sparse_sgd_updates_a_parameter_not_in_c_order(momentum):
    p = Tensor(np.asfortranarray(np.zeros((4, 3))), requires_grad=True)
    p.grad = SparseRows(np.array([1, 1, 3]), np.ones((3, 3)), (4, 3))
    SGD([p], 0.5, momentum=momentum).step()
    np.testing.assert_array_equal(p.data, [[0] * 3, [-1] * 3, [0] * 3, [-0.5] * 3])


def test_a_missing_or_misshapen_state_is_named_with_what_was_found():
    state = Adam([param([1.0, 2.0])]).state_dict()
    with pytest.raises(ValueError, match=r"'0.m': expected an array of shape \(3,\), got \(2,\)"):
        Adam([param([1.0, 2.0, 3.0])]).load_state_dict(state)
    del state["0.v"]
    with pytest.raises(ValueError, match=r"'0.v': expected an array of shape \(2,\), got nothing"):
        Adam([param([1.0, 2.0])]).load_state_dict(state)


@pytest.mark.parametrize("make, message", [
    (lambda: constant(0.0), "learning rate must be > 0, got 0.0"),
    (lambda: linear_decay(0.1, 0.2, 10), "final learning rate must be between 0 and 0.1, got 0.2"),
    (lambda: cosine(0.1, 0.01, 0), "a decaying schedule needs total_steps >= 1, got 0"),
    (lambda: cosine(0.1, -0.01, 5), "final learning rate must be between 0 and 0.1, got -0.01"),
])
def test_bad_schedules_say_what_is_wrong(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_decay_to_the_same_rate_is_a_constant():
    for schedule in (linear_decay(0.1, 0.1, 10), cosine(0.1, 0.1, 10)):
        assert schedule(0) == schedule(5) == schedule(50) == 0.1
