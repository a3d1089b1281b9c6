"""Machine-readable output is valid and messages are ours (kinds 8 and 9 of issue 13).

* every ``--json`` / ``--log-json`` is strict JSON (RFC 8259): a non-finite number is ``null``;
* a Python warning never reaches stderr as Python prints it (source path, code line);
* a ``ValueError`` that our own checks did not raise is an internal error, not a user error;
* a matrix whose rows are all the same is one clear line (case 06's compare-pca part).
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.io import to_json
from embedkit.vectors import save_vectors

DATA = Path(__file__).parent / "data"


def strict_json(text: str):
    """Parse as RFC 8259 JSON: bare NaN / Infinity are errors (Python's json accepts them)."""
    def refuse(constant):
        raise ValueError(f"not JSON: bare {constant}")
    return json.loads(text, parse_constant=refuse)


def test_to_json_writes_null_for_non_finite_numbers():
    value = {"nan": math.nan, "inf": [math.inf, -math.inf, 1.5], "np": np.float32("nan"),
             "array": np.array([1.0, np.nan]), "int": np.int64(3), "tuple": (np.inf, "x"),
             "nested": {"deep": [{"x": float("-inf")}]}}
    assert strict_json(to_json(value)) == {
        "nan": None, "inf": [None, None, 1.5], "np": None, "array": [1.0, None], "int": 3,
        "tuple": [None, "x"], "nested": {"deep": [{"x": None}]}}


def test_to_json_keeps_finite_values_exactly():
    assert strict_json(to_json({"x": 0.1, "y": 1e308, "b": True, "n": None})) == {
        "x": 0.1, "y": 1e308, "b": True, "n": None}


def run(args, **kwargs):
    return CliRunner().invoke(main, args, **kwargs)


@pytest.fixture
def vectors(tmp_path):
    words = ["king", "queen", "man", "woman", "apple", "pear"]
    rng = np.random.default_rng(3)
    path = tmp_path / "v.vec"
    save_vectors(path, words, rng.normal(size=(len(words), 4)).astype(np.float32))
    return path


def test_evaluate_json_with_undefined_correlations_is_strict_json(tmp_path, vectors):
    # Constant human scores: Spearman and Pearson are undefined (NaN in SciPy).
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("king\tqueen\t5\nman\twoman\t5\napple\tpear\t5\n")
    result = run(["evaluate", str(vectors), "--similarity", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    record = strict_json(result.stdout)["similarity"][0]
    assert record["spearman"] is None and record["pearson"] is None
    assert "Warning" not in result.stderr and ".py:" not in result.stderr


def test_neighbors_and_analogy_json_are_strict_json(vectors):
    for args in (["neighbors", str(vectors), "king", "--json"],
                 ["analogy", str(vectors), "man", "king", "woman", "--json"]):
        result = run(args)
        assert result.exit_code == 0, result.output
        for line in result.stdout.splitlines():
            assert strict_json(line)["neighbors"]


def test_gradcheck_json_is_strict_json():
    result = run(["gradcheck", "--op", "add", "--json"])
    assert result.exit_code == 0, result.output
    assert strict_json(result.stdout)[0]["op"] == "add"


def test_log_json_of_both_trainings_is_strict_json(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 5)
    # --subsample 0: on ten lines every word is frequent, and subsampling may empty an epoch
    result = run(["train-w2v", str(corpus), "--min-count", "1", "--subsample", "0", "--dim",
                  "4", "--epochs", "2", "--threads", "1", "-o", str(tmp_path / "v.vec"),
                  "--log-json",
                  str(tmp_path / "w2v.jsonl")])
    assert result.exit_code == 0, result.output
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(20, 4)))
    result = run(["autoencode", str(tmp_path / "x.npy"), "--hidden", "2", "--epochs", "2",
                  "-o", str(tmp_path / "m.npz"), "--log-json", str(tmp_path / "ae.jsonl")])
    assert result.exit_code == 0, result.output
    for log in ("w2v.jsonl", "ae.jsonl"):
        records = [strict_json(line) for line in (tmp_path / log).read_text().splitlines()]
        assert len(records) == 2


def test_w2v_log_with_an_infinite_rate_writes_null(tmp_path, monkeypatch):
    # An epoch too fast for the clock has words_per_sec = inf in the library's record.
    import embedkit.w2v.train as train
    monkeypatch.setattr(train.time, "perf_counter", lambda: 0.0)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c a\n" * 5)
    result = run(["train-w2v", str(corpus), "--min-count", "1", "--subsample", "0", "--dim",
                  "2", "--epochs", "1", "--threads", "1", "-o", str(tmp_path / "v.vec"),
                  "--log-json",
                  str(tmp_path / "log.jsonl")])
    assert result.exit_code == 0, result.output
    assert strict_json((tmp_path / "log.jsonl").read_text())["words_per_sec"] is None


def test_case06_compare_pca_on_identical_rows_is_one_clear_line():
    result = run(["compare-pca", "--fit", "1", str(DATA / "case06_constant.npy"), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("embedkit: error: ")
    assert "case06_constant.npy" in lines[0] and "zero variance" in lines[0]


def test_autoencode_on_identical_rows_is_one_clear_line(tmp_path):
    result = run(["autoencode", str(DATA / "case06_constant.npy"), "--hidden", "1",
                  "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert "case06_constant.npy" in result.stderr and "zero variance" in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_compare_pca_library_refuses_identical_rows_too():
    from embedkit.ae import Autoencoder
    from embedkit.ae.pca import compare_with_pca
    from embedkit.errors import EmbedkitError
    model = Autoencoder(1, epochs=1).fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(EmbedkitError, match="zero variance"):
        compare_with_pca(model, np.ones((10, 3)))


def test_a_stray_library_warning_is_one_line_of_ours(tmp_path, monkeypatch):
    import embedkit.cli.text as text_cli

    real = text_cli.corpus_vocabulary

    def noisy(*args, **kwargs):
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero encountered in log
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(text_cli, "corpus_vocabulary", noisy)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n")
    result = run(["vocab", str(corpus), "--min-count", "1"])
    assert result.exit_code == 0
    assert result.stdout == "a\t1\nb\t1\n"
    assert result.stderr.splitlines() == [
        "embedkit: warning: divide by zero encountered in log",
        "embedkit: warning: something odd"]


def test_a_library_value_error_is_an_internal_error(tmp_path, monkeypatch):
    import embedkit.cli.text as text_cli

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(text_cli, "corpus_vocabulary", broken)
    monkeypatch.delenv("EMBEDKIT_DEBUG", raising=False)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n")
    result = run(["vocab", str(corpus)])
    assert result.exit_code == 1
    assert result.stderr == ("embedkit: error: internal error (set EMBEDKIT_DEBUG=1 for a "
                             "traceback): operands could not be broadcast together\n")
    monkeypatch.setenv("EMBEDKIT_DEBUG", "1")
    result = run(["vocab", str(corpus)])
    assert isinstance(result.exception, ValueError)


def test_our_own_error_is_a_plain_user_error(tmp_path):
    result = run(["vocab", str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    assert result.stderr.startswith("embedkit: error: ")
    assert "internal error" not in result.stderr and "missing.txt" in result.stderr


def test_a_parameter_error_exits_2_naming_the_option(tmp_path, monkeypatch):
    """A library ParameterError is a usage error (status 2, as Click's); its parameter names
    become the command's options, and any other EmbedkitError still exits with 1."""
    import embedkit.cli.text as text_cli
    from embedkit.errors import ParameterError

    def refuse(*args, **kwargs):
        raise ParameterError("min_count 3: expected max_vocab above it (not min_count_x)",
                             params=("min_count", "max_vocab"))

    monkeypatch.setattr(text_cli, "corpus_vocabulary", refuse)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n")
    result = run(["vocab", str(corpus)])
    assert result.exit_code == 2
    assert result.stderr == ("embedkit: error: --min-count 3: expected --max-vocab above it "
                             "(not min_count_x)\n")


@pytest.mark.parametrize("path", ["f64.max_vocab", "runs/max_vocab", "max_vocab.txt",
                                  "./max_vocab"])
def test_a_parameter_named_inside_a_file_name_stays_a_file_name(tmp_path, monkeypatch, path):
    """Only the parameter's own word becomes the option: a file name that contains it (as the
    default vocabulary f64.vocab of f64.npy contains vocab) is named as it is."""
    import embedkit.cli.text as text_cli
    from embedkit.errors import EmbedkitError

    def refuse(*args, **kwargs):
        raise EmbedkitError(f"give max_vocab (default {path} does not exist), or max_vocab.",
                            params=("max_vocab",))

    monkeypatch.setattr(text_cli, "corpus_vocabulary", refuse)
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n")
    result = run(["vocab", str(corpus)])
    assert result.exit_code == 1
    assert result.stderr == (f"embedkit: error: give --max-vocab (default {path} does not "
                             "exist), or --max-vocab.\n")


def test_library_messages_never_spell_command_line_options():
    """Below embedkit/cli/ an error names its parameter (``score_column``, listed in
    ``params``); only the CLI knows it as ``--score-column``, and a library caller never
    sees an option it has no way to give."""
    import ast
    import re

    import embedkit

    root = Path(embedkit.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "cli" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                for part in ast.walk(node.exc):
                    if (isinstance(part, ast.Constant) and isinstance(part.value, str)
                            and re.search(r"(?<![\w-])--[a-z]", part.value)):
                        offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("args", [
    ["compare-pca", "-", "-"], ["encode", "-", "-"], ["decode", "-", "-"],
    ["evaluate", "-", "--similarity", "-"],
    ["evaluate", "{vec}", "--similarity", "-", "--analogies", "-"],
    ["evaluate", "{vec}", "--similarity", "-", "--similarity", "-"],
    ["evaluate", "{npy}", "--vocab", "-", "--analogies", "-"],
])
def test_stdin_given_twice_is_a_usage_error_before_reading(args, vectors, tmp_path):
    # Each read what came first and found stdin empty for the rest (evaluate scored an empty
    # second file), as the corpus commands did before check_stdin_once.
    np.save(tmp_path / "m.npy", np.eye(3, dtype=np.float32))
    args = [a.format(vec=vectors, npy=tmp_path / "m.npy") for a in args]
    result = run(args, input="cat dog 1.0\n" * 5)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr == (
        "embedkit: error: '-' (stdin) given 2 times: stdin can be read only once; give it once\n")
