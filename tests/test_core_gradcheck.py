"""Gradient checking: every primitive against central differences, the sparse gather, and
``embedkit gradcheck`` (including failing on a deliberately wrong VJP)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedkit.cli import main
from embedkit.core import PRIMITIVES, SparseRows, Tensor, gradcheck, ops, primitive
from embedkit.core.gradcheck import (
    _CHECKS,
    Case,
    _hinge_safe,
    check_gradient,
    register_check,
    registered_checks,
    run_checks,
    unregister_check,
)

CORE_PRIMITIVES = sorted(name for name, op in PRIMITIVES.items()
                         if op.__module__ == "embedkit.core.ops")
BINARY = ["add", "sub", "mul", "div"]


def test_every_core_primitive_has_a_check():
    assert len(CORE_PRIMITIVES) >= 30
    assert set(CORE_PRIMITIVES) <= set(registered_checks())


@pytest.mark.parametrize("name", CORE_PRIMITIVES)
def test_primitive_passes_gradient_check(name):
    results = run_checks(np.random.default_rng(3), [name])
    assert len(results) >= 3, "several shapes per primitive"
    assert len({r.shapes for r in results}) == len(results)
    assert any("two paths" in r.shapes for r in results), "a variable used on two paths"
    failed = [r for r in results if not r.passed]
    assert not failed
    assert all(r.max_rel_err < 1e-6 for r in results)


@pytest.mark.parametrize("name", BINARY + ["matmul", "mse", "rowdot"])
def test_binary_checks_include_broadcasting(name):
    shapes = [r.shapes.split()[:2] for r in run_checks(np.random.default_rng(0), [name])]
    assert any(len(s) == 2 and s[0] != s[1] for s in shapes)


def test_check_gradient_catches_a_wrong_vjp():
    @primitive(name="_test_wrong_cube")
    def cube(x):
        return x ** 3

    cube.defvjp(lambda g, ans, x: g * 3 * x)  # should be 3x²
    try:
        abs_err, rel_err = check_gradient(cube, [np.linspace(0.5, 2, 6)],
                                          np.random.default_rng(0))
        assert rel_err > 0.1 and abs_err > 0.1
    finally:
        PRIMITIVES.pop("_test_wrong_cube")


def test_check_gradient_reports_a_gradient_of_the_wrong_shape():
    @primitive(name="_test_bad_shape")
    def scale(x, y):
        return x * y

    # forgets to undo broadcasting for y
    scale.defvjp(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
    try:
        errs = check_gradient(scale, [np.ones((3, 2)), np.ones(2)], np.random.default_rng(0))
        assert errs == (np.inf, np.inf)
    finally:
        PRIMITIVES.pop("_test_bad_shape")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_check_gradient_fails_a_vjp_that_is_not_finite(bad):
    # NaN compares false with everything: a largest-error test that skips it passes the case
    @primitive(name="_test_not_finite")
    def double(x):
        return 2 * x

    double.defvjp(lambda g, ans, x: np.where(x > 0, bad, 2 * g))
    register_check("_test_not_finite", lambda rng: [Case(double, (np.linspace(-1, 1, 4),))])
    try:
        errs = check_gradient(double, [np.linspace(-1, 1, 4)], np.random.default_rng(0))
        assert errs == (np.inf, np.inf)
        [result] = run_checks(np.random.default_rng(0), ["_test_not_finite"])
        assert not result.passed
    finally:
        PRIMITIVES.pop("_test_not_finite")
        unregister_check("_test_not_finite")


def test_unknown_check_name_is_an_error():
    with pytest.raises(ValueError, match="no gradient check named 'nope'"):
        run_checks(np.random.default_rng(0), ["nope"])


# ---------------------------------------------------------------- the cases of the primitives

_BROADCASTING = ("(3,4) (3,4) -> (3,4); (3,4) (4,) -> (3,4); (2,1,4) (3,1) -> (2,3,4); "
                 "() (2,3) -> (2,3); (3,4) x on two paths -> (3,4)")
_ELEMENTWISE = "(5,) -> (5,); (3,4) -> (3,4); (2,3,2) -> (2,3,2); (3,4) x on two paths -> (3,4)"
_REDUCTION = ("(3,4) all axes -> (); (3,4) axis=0 -> (4,); (2,3,4) axis=(0,2) -> (3,); "
              "(2,3,4) axis=-1 keepdims -> (2,3,1); (3,4) x on two paths -> (3,4)")
_SOFTMAX = ("(3,5) axis=-1 -> (3,5); (3,5) axis=0 -> (3,5); (2,3,4) axis=-1 -> (2,3,4); "
            "(4,3) x on two paths -> (4,3)")
_LOSS = ("(5,4) labels (5,) -> (); (1,3) labels (1,) -> (); (8,10) labels (8,) -> (); "
         "(4,3) scores on two paths -> ()")
_PENALTY = "(5,) -> (); (3,4) -> (); (2,3,2) -> (); (3,4) x on two paths -> (3,4)"
#: What `embedkit gradcheck` runs for each core primitive: its inputs' shapes and the case's
#: detail (as printed), and the shape of the case's output.
CORE_CASES = {
    **dict.fromkeys(BINARY, _BROADCASTING),
    **dict.fromkeys(["neg", "square", "abs", "exp", "sigmoid", "tanh", "relu", "swish",
                     "softplus", "log_sigmoid", "log"], _ELEMENTWISE),
    "leaky_relu": _ELEMENTWISE + "; (5,) slope=0.3 -> (5,)",
    "elu": _ELEMENTWISE + "; (5,) alpha=0.5 -> (5,)",
    "power": "(3,4) p=2 -> (3,4); (3,4) p=3 -> (3,4); (3,4) p=-1 -> (3,4); (4,) p=0.5 -> (4,); "
             "(2,3) p=3 x on two paths -> (2,3)",
    "matmul": "(3,4) (4,2) -> (3,2); (4,) (4,2) -> (2,); (3,4) (4,) -> (3,); "
              "(2,3,4) (4,5) batched -> (2,3,5); (2,3,4) (1,4,2) batch broadcast -> (2,3,2); "
              "(2,3,4) (4,) batched times a vector -> (2,3); (3,3) x on two paths -> (3,3)",
    "transpose": "(3,4) -> (4,3); (2,3,4) axes=(1,2,0) -> (3,4,2); (3,2) x on two paths -> (2,2)",
    "reshape": "(3,4) to (2,6) -> (2,6); (2,3,2) to (-1,) -> (12,); (6,) x on two paths -> (3,2)",
    "sum": _REDUCTION,
    "mean": _REDUCTION,
    "softmax": _SOFTMAX,
    "log_softmax": _SOFTMAX,
    "softmax_cross_entropy": _LOSS,
    "svm_hinge": _LOSS,
    "mse": "(3,4) (3,4) -> (); (3,4) (4,) -> (); (5,) () -> (); (3,4) x on two paths -> ()",
    "l1_penalty": _PENALTY,
    "l2_penalty": _PENALTY,
    "gather": "(6,3) ids (4,) -> (4,3); (6,2) ids (2,3) -> (2,3,2); "
              "(5,3) table on two paths, both sparse -> (4,); "
              "(5,3) table on two paths, sparse+dense -> (3,)",
    "rowdot": "(3,4) (3,4) -> (3,); (3,4) (4,) -> (3,); (2,3,4) (3,4) -> (2,3); "
              "(3,4) x on two paths -> (3,)",
}


def _cases(name, seed=0):
    """The cases registered under ``name``, each with its output."""
    return [(case, case.fn(*[Tensor(x) for x in case.inputs]).data)
            for case in _CHECKS[name](np.random.default_rng(seed))]


def test_every_core_primitive_is_checked_on_the_documented_cases():
    assert set(CORE_CASES) == set(CORE_PRIMITIVES)
    assert [n for n in registered_checks() if n in CORE_CASES] == list(CORE_CASES)
    for name, expected in CORE_CASES.items():
        shown = "; ".join(f"{case.shapes} -> {str(np.shape(out)).replace(' ', '')}"
                          for case, out in _cases(name))
        assert shown == expected, name
    # what the command reports, case by case
    rows = run_checks(np.random.default_rng(0), ["div", "gather"])
    expected = (CORE_CASES["div"] + "; " + CORE_CASES["gather"]).split("; ")
    assert [f"{r.op} {r.shapes}" for r in rows] == [
        f"{'div' if i < 5 else 'gather'} {e.split(' -> ')[0]}" for i, e in enumerate(expected)]


@pytest.mark.parametrize("name", sorted(set(CORE_CASES) - {"gather", "softmax_cross_entropy",
                                                           "svm_hinge"}))
def test_case_inputs_keep_away_from_zero_with_both_signs(name):
    # kinks (relu, abs, l1 at 0) and poles (div, log) would spoil the central differences;
    # both signs reach both branches of the piecewise primitives (log's inputs are positive)
    values = np.concatenate([np.ravel(x) for case, _ in _cases(name, 7) for x in case.inputs])
    assert 0.2 <= np.abs(values).min() and np.abs(values).max() <= 1.5
    if name == "log":
        assert values.min() > 0
    else:
        assert values.min() < 0 < values.max()


def test_cases_with_a_setting_compute_with_that_setting():
    for case, out in _cases("leaky_relu") + _cases("elu"):
        x = case.inputs[0]
        if case.detail == "slope=0.3":
            np.testing.assert_allclose(out, np.where(x > 0, x, 0.3 * x))
        elif case.detail == "alpha=0.5":
            np.testing.assert_allclose(out, np.where(x > 0, x, 0.5 * np.expm1(x)))
    for case, out in _cases("power"):
        x, p = case.inputs[0], float(case.detail.split()[0].removeprefix("p="))
        np.testing.assert_allclose(out, x ** p * (x if "two paths" in case.detail else 1))
    for case, out in _cases("softmax") + _cases("mean"):
        x = case.inputs[0]
        if case.detail == "axis=0":
            np.testing.assert_allclose(out, np.exp(x) / np.exp(x).sum(axis=0)
                                       if out.shape == x.shape else x.mean(axis=0))
        elif case.detail == "axis=-1 keepdims":
            np.testing.assert_allclose(out, x.mean(axis=-1, keepdims=True))
        elif case.detail == "x on two paths" and out.shape == (3, 4):  # mean's
            np.testing.assert_allclose(out, x.mean(axis=1, keepdims=True) * x)


def test_loss_scores_keep_clear_of_the_hinge_kink():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 6, 400)
    scores = _hinge_safe(rng, labels, 6)
    margins = scores - scores[np.arange(400), labels][:, None]  # s_j - s_y
    assert np.all(margins[np.arange(400), labels] == 0)
    others = np.delete(margins.ravel(), np.arange(400) * 6 + labels)
    assert np.abs(others + 1).min() >= 0.1
    assert others.min() < -1 < others.max() and np.abs(others).max() <= 2.5

# ---------------------------------------------------------------- the sparse gather

def test_gather_gradient_is_sparse_and_equals_the_dense_one():
    rng = np.random.default_rng(5)
    table = Tensor(rng.standard_normal((10, 4)), requires_grad=True)
    ids = np.array([3, 7, 3, 0, 3])
    g = rng.standard_normal((5, 4))
    ops.gather(table, ids).backward(g)
    assert isinstance(table.grad, SparseRows)
    assert table.grad.values.shape == (5, 4)
    # the same lookup as a product with a one-hot matrix, whose gradient is dense
    onehot = Tensor(np.eye(10)[ids])
    dense_table = Tensor(table.data.copy(), requires_grad=True)
    (onehot @ dense_table).backward(g)
    np.testing.assert_allclose(table.grad.to_dense(), dense_table.grad)
    merged = table.grad.coalesce()
    np.testing.assert_array_equal(merged.ids, [0, 3, 7])
    np.testing.assert_allclose(merged.values[1], g[0] + g[2] + g[4])


def test_gather_never_materialises_the_table_gradient():
    # a read-only view of a 10⁹ × 8 table: a dense gradient would need 32 GB
    table = Tensor(np.broadcast_to(np.float32(1), (10 ** 9, 8)), requires_grad=True)
    ids = np.array([[5, 999_999_999], [5, 17]])
    out = ops.gather(table, ids)
    assert out.shape == (2, 2, 8) and out.dtype == np.float32
    ops.sum(out * out).backward()
    assert isinstance(table.grad, SparseRows)
    assert table.grad.values.shape == (4, 8) and table.grad.values.dtype == np.float32
    merged = table.grad.coalesce()
    np.testing.assert_array_equal(merged.ids, [5, 17, 999_999_999])
    np.testing.assert_allclose(merged.values[:, 0], [4, 2, 2])


def test_coalesce_keeps_sorted_unique_ids_and_merges_the_rest():
    values = np.arange(8.0).reshape(4, 2)
    sorted_unique = SparseRows(np.array([1, 4, 6, 9]), values, (10, 2))
    assert sorted_unique.coalesce() is sorted_unique  # nothing to merge: no copy
    # the same ids, but one repeated and out of order, must still be merged
    repeated = SparseRows(np.array([6, 1, 6, 9]), values, (10, 2))
    merged = repeated.coalesce()
    np.testing.assert_array_equal(merged.ids, [1, 6, 9])
    np.testing.assert_allclose(merged.values, [values[1], values[0] + values[2], values[3]])
    np.testing.assert_allclose(merged.to_dense(), repeated.to_dense())


def test_shared_rows_add_coalesce_and_densify_like_rows_copied_per_id():
    # CBOW's form (one row per bag, shared by its members) beside the plain form
    rng = np.random.default_rng(4)
    bags = rng.standard_normal((2, 3))
    indptr, ids, weights = np.array([0, 2, 5]), np.array([7, 2, 2, 0, 7]), np.arange(1.0, 6.0)
    shared = SparseRows(ids, bags, (8, 3), indptr, weights)
    copied = SparseRows(ids, weights[:, None] * np.repeat(bags, [2, 3], axis=0), (8, 3))
    np.testing.assert_allclose(shared.to_dense(), copied.to_dense(), rtol=1e-12)
    merged = shared.coalesce()
    assert merged.indptr is None
    np.testing.assert_array_equal(merged.ids, [0, 2, 7])
    np.testing.assert_allclose(merged.to_dense(), copied.to_dense(), rtol=1e-12)
    plain = SparseRows(np.array([[2, 5]]), rng.standard_normal((1, 2, 3)), (8, 3))
    for total in (shared + plain, plain + shared):
        np.testing.assert_allclose(total.to_dense(), copied.to_dense() + plain.to_dense(),
                                   rtol=1e-12)
    dense = rng.standard_normal((8, 3))
    np.testing.assert_allclose(dense + shared, dense + copied.to_dense(), rtol=1e-12)


def test_sparse_and_dense_gradients_of_one_table_add_up():
    table = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    ids = np.array([1, 1, 2])
    (ops.sum(ops.gather(table, ids)) + ops.sum(table)).backward()
    assert isinstance(table.grad, np.ndarray)
    np.testing.assert_array_equal(table.grad[:, 0], [1, 3, 2, 1])


# ---------------------------------------------------------------- the command

def test_cli_gradcheck_passes_every_primitive(runner):
    result = runner.invoke(main, ["gradcheck"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["op", "shapes"]
    assert {line.split()[0] for line in lines[1:]} >= set(CORE_PRIMITIVES)
    assert all(line.rstrip().endswith("PASS") for line in lines[1:])
    assert "FAIL" not in result.stdout


def test_cli_gradcheck_json_is_reproducible_and_selectable(runner):
    args = ["gradcheck", "--json", "--seed", "4", "--op", "relu", "--op", "gather"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    rows = json.loads(first.stdout)
    assert {r["op"] for r in rows} == {"relu", "gather"}
    assert all(set(r) == {"op", "shapes", "max_abs_err", "max_rel_err", "passed"} for r in rows)
    assert all(r["passed"] and r["max_rel_err"] < 1e-5 for r in rows)
    assert runner.invoke(main, args).stdout == first.stdout
    other_seed = runner.invoke(main, args[:3] + ["5"] + args[4:])
    assert other_seed.stdout != first.stdout


def test_cli_gradcheck_unknown_op_is_a_one_line_error(runner):
    result = runner.invoke(main, ["gradcheck", "--op", "nope"])
    assert result.exit_code == 2  # a usage error, as Click's
    assert result.stderr.startswith("embedkit: error: --op 'nope': no such gradient check")
    assert len(result.stderr.splitlines()) == 1


@pytest.fixture
def broken_primitive():
    """A primitive whose VJP forgets the factor 2 of d(x²)/dx, registered for checking."""
    @primitive(name="_test_broken_square")
    def broken_square(x):
        return x * x

    broken_square.defvjp(lambda g, ans, x: g * x)
    register_check("_test_broken_square",
                   lambda rng: [Case(broken_square, (rng.standard_normal((3, 4)),))])
    yield "_test_broken_square"
    unregister_check("_test_broken_square")
    PRIMITIVES.pop("_test_broken_square")


def test_cli_gradcheck_fails_on_a_wrong_vjp(runner, broken_primitive):
    result = runner.invoke(main, ["gradcheck"])
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith(broken_primitive)]
    assert len(rows) == 1 and rows[0].rstrip().endswith("FAIL")
    assert sum(line.rstrip().endswith("FAIL") for line in result.stdout.splitlines()) == 1
    as_json = json.loads(runner.invoke(main, ["gradcheck", "--json", "--op",
                                              broken_primitive]).stdout)
    assert [r["passed"] for r in as_json] == [False]
    assert as_json[0]["max_rel_err"] > 0.1


def test_loss_cases_draw_labels_of_every_class(monkeypatch):
    drawn = []

    def recording(rng, labels, k):
        drawn.append((labels.copy(), k))
        return _hinge_safe(rng, labels, k)

    monkeypatch.setattr(gradcheck, "_hinge_safe", recording)
    for seed in range(5):
        _CHECKS["svm_hinge"](np.random.default_rng(seed))
    assert [k for _, k in drawn[:4]] == [4, 3, 10, 3]
    for position in range(4):  # every class is some case's label, the first and last too
        labels = np.concatenate([d[0] for d in drawn[position::4]])
        k = drawn[position][1]
        assert labels.min() == 0 and labels.max() == k - 1


def test_unregistering_removes_a_check_and_ignores_an_unknown_name():
    gradcheck.register_check("test.unregister", lambda rng: [])
    assert "test.unregister" in gradcheck.registered_checks()
    gradcheck.unregister_check("test.unregister")
    assert "test.unregister" not in gradcheck.registered_checks()
    gradcheck.unregister_check("test.unregister")  # already gone: nothing to do, no error


def test_the_gather_checks_catch_a_gradient_that_keeps_one_row_per_repeated_id(monkeypatch):
    """Each sparse gather case looks a row up twice or more (in its ids, or through two
    paths): a gradient that writes repeated rows instead of adding them must fail them (the
    sparse+dense case adds its rows into the dense gradient, without ``to_dense``)."""
    def overwrite(self):
        dense = np.zeros(self.shape, dtype=self.dtype)
        dense[self.ids.reshape(-1)] = self.values.reshape((-1,) + self.shape[1:])
        return dense

    monkeypatch.setattr(SparseRows, "to_dense", overwrite)
    results = run_checks(np.random.default_rng(0), ["gather"])
    assert [r.passed for r in results] == [False, False, False, True]


def test_check_gradient_works_in_float64_on_any_input():
    rng = np.random.default_rng(0)
    # integer and float32 inputs are cast: steps of 1e-6 would be lost in them
    for x in (np.array([1, 2, 3]), np.array([0.5, 1.5], dtype=np.float32)):
        abs_err, rel_err = check_gradient(ops.square, [x], rng)
        assert abs_err < 1e-6 and rel_err < 1e-6
    # an input that does not reach the output has the zero gradient, which is right
    assert check_gradient(lambda a, b: ops.square(a), [np.ones(2), np.ones(3)], rng)[1] < 1e-6
    # an empty input has nothing to compare
    assert check_gradient(ops.square, [np.ones((0, 3))], rng) == (0.0, 0.0)


def test_a_case_passes_at_exactly_its_tolerance_and_unknown_names_list_the_known():
    error = run_checks(np.random.default_rng(5), ["exp"])[0].max_rel_err
    assert run_checks(np.random.default_rng(5), ["exp"], rtol=error)[0].passed
    with pytest.raises(ValueError) as e:
        run_checks(np.random.default_rng(5), ["nope"])
    assert str(e.value) == ("no gradient check named 'nope'; known: "
                            + ", ".join(registered_checks()))


def test_inputs_away_from_zero_fill_their_range_with_both_signs():
    x = gradcheck.away_from_zero(np.random.default_rng(0), (50, 40))
    magnitude = np.abs(x)
    assert x.shape == (50, 40)
    assert 0.2 <= magnitude.min() < 0.21 and 1.49 < magnitude.max() <= 1.5
    assert 0.4 < (x > 0).mean() < 0.6


def test_loss_scores_are_independent_draws_over_their_whole_ranges():
    # the hinge's scores: each row shifted by its own uniform draw on [-1, 1] (the losses
    # ignore it, the L2 penalty of the two-path case does not), plus offsets uniform on
    # [-2.5, 2.5] but for the 0.1 either side of the kink, every one drawn on its own
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 6, 400)
    scores = _hinge_safe(rng, labels, 6)
    own = scores[np.arange(400), labels]
    others = np.delete((scores - own[:, None]).ravel(), np.arange(400) * 6 + labels)
    assert -1 <= own.min() < -0.98 and 0.98 < own.max() <= 1
    assert len(np.unique(own)) == 400
    assert 0.1 <= np.abs(others + 1).min() < 0.101  # no wider gap than the docstring's
    assert -2.5 <= others.min() < -2.49 and 2.49 < others.max() <= 2.5
    # redrawn offsets too: no two alike (up to the rounding of the shift's subtraction)
    assert len(np.unique(np.round(others, 9))) == len(others)


def test_the_gather_cases_compute_what_they_name():
    cases = _CHECKS["gather"](np.random.default_rng(0))
    outputs = [case.fn(*[Tensor(x) for x in case.inputs]).data for case in cases]
    first, mixed = cases[0].inputs[0], cases[3].inputs[0]
    # the first case's ids, read back from its rows (the table's values are all distinct)
    ids = np.abs(outputs[0][:, None, :] - first[None]).sum(axis=2).argmin(axis=1)
    np.testing.assert_array_equal(outputs[0], first[ids])
    assert len(set(ids.tolist())) < len(ids)  # a repeated id
    # sparse+dense: the gathered rows summed over axis 0 plus each column's sum of squares,
    # so each output column depends on its own input column only
    np.testing.assert_allclose(outputs[3], mixed[ids].sum(axis=0) + (mixed ** 2).sum(axis=0),
                               rtol=1e-12)
