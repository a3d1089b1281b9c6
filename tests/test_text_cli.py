"""The `vocab`, `windows` and `synth-corpus` commands: outputs, stdin, files, errors."""

import gzip

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main

FOX = "the quick brown fox jumps over the lazy dog\n"


def run(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c a\nb a\nc c a b\n" * 5)
    return path


def test_vocab_prints_tsv_and_writes_a_file(corpus, tmp_path):
    result = run("vocab", corpus, "--min-count", 1)
    assert result.exit_code == 0, result.output
    assert result.output == "a\t20\nb\t15\nc\t15\n"
    out = tmp_path / "v.tsv"
    assert run("vocab", corpus, "--max-vocab", 2, "-o", out).exit_code == 0
    assert out.read_text() == "a\t20\nb\t15\n"


def test_vocab_options_change_tokenising(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("The the, THE\n")
    assert run("vocab", path, "--min-count", 1).output == "the\t3\n"
    assert run("vocab", path, "--min-count", 1, "--no-lowercase").output == \
        "THE\t1\nThe\t1\nthe\t1\n"
    assert run("vocab", path, "--min-count", 1, "--tokenizer", "whitespace").output == \
        "the\t2\nthe,\t1\n"


def test_vocab_reports_pruning_on_stderr(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(" ".join(f"w{i}" for i in range(100)) + " a a a\n")
    result = run("vocab", path, "--min-count", 1, "--count-limit", 10)
    assert result.exit_code == 0
    assert "pruned while counting" in result.stderr
    assert result.stdout.startswith("a\t3\n")


def test_windows_fox_from_stdin_fixed_window(tmp_path):
    result = run("windows", "-", "--window", 2, "--fixed-window", "--subsample", 0,
                 "--min-count", 1, stdin=FOX)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == ["the\tquick", "the\tbrown", "quick\tthe", "quick\tbrown", "quick\tfox"]
    assert lines[9:13] == ["fox\tquick", "fox\tbrown", "fox\tjumps", "fox\tover"]
    assert len(lines) == 30


def test_windows_cbow_ids_and_gz_input_agree_with_plain(tmp_path):
    gz = tmp_path / "fox.txt.gz"
    gz.write_bytes(gzip.compress(FOX.encode()))
    args = ["--model", "cbow", "--window", 2, "--fixed-window", "--subsample", 0,
            "--min-count", 1]
    words = run("windows", gz, *args)
    assert words.exit_code == 0, words.output
    assert words.output.splitlines()[:2] == ["the\tquick brown", "quick\tthe brown fox"]
    assert words.output == run("windows", "-", *args, stdin=FOX).output
    ids = run("windows", gz, *args, "--ids").output.splitlines()
    vocab = run("vocab", gz, "--min-count", 1).output.split()[0::2]
    assert ids[1] == "\t".join([str(vocab.index("quick")),
                                " ".join(str(vocab.index(w)) for w in ("the", "brown", "fox"))])


def test_windows_npz_holds_pairs_vocabulary_and_noise(tmp_path, corpus):
    out = tmp_path / "data.npz"
    result = run("windows", corpus, "--min-count", 1, "--subsample", 0, "--window", 1,
                 "--fixed-window", "--ns-exponent", 1, "-o", out)
    assert result.exit_code == 0, result.output
    data = np.load(out)
    assert data["words"].tolist() == ["a", "b", "c"]
    # Window 1, fixed: every line of n words gives 2(n - 1) pairs.
    assert len(data["centres"]) == len(data["contexts"]) == 5 * (6 + 2 + 6)
    np.testing.assert_allclose(data["noise"], [20 / 50, 15 / 50, 15 / 50])
    tsv = run("windows", corpus, "--min-count", 1, "--subsample", 0, "--window", 1,
              "--fixed-window", "--ids").output.split()
    assert tsv[0::2] == [str(i) for i in data["centres"]]


def test_windows_same_seed_same_output(corpus):
    args = ["windows", corpus, "--min-count", 1, "--subsample", 0.05, "--seed"]
    first = run(*args, 3).output
    assert first.count("\n") > 10
    assert first == run(*args, 3).output
    assert first != run(*args, 4).output


@pytest.mark.parametrize("text, message", [
    ("", "no words found"),
    ("a b c\n", "no word occurs at least 5 times"),
])
@pytest.mark.parametrize("command", ["vocab", "windows"])
def test_empty_or_too_sparse_corpus_is_a_one_line_error(tmp_path, text, message, command):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    out = tmp_path / "out.tsv"
    result = run(command, path, "-o", out)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("embedkit: error: ") and "bad.txt" in result.output
    assert message in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["vocab", "windows", "train-w2v"])
def test_too_sparse_a_corpus_names_the_min_count_option(tmp_path, command):
    # it said "lower the min count", no option's name
    path = tmp_path / "bad.txt"
    path.write_text("a b c\n")
    result = run(command, path, "-o", tmp_path / "out.tsv")
    assert result.exit_code == 1
    assert result.output.endswith("(3 words, 3 distinct); lower --min-count\n")


def test_empty_stdin_is_named_stdin():
    result = run("windows", "-", stdin="")
    assert result.exit_code == 1
    assert result.output == "embedkit: error: <stdin>: no words found (empty corpus)\n"


def test_synth_corpus_is_deterministic(tmp_path):
    out = tmp_path / "p.txt"
    assert run("synth-corpus", "--sentences", 50, "-o", out).exit_code == 0
    assert out.read_text() == run("synth-corpus", "--sentences", 50).output
    assert out.read_text() != run("synth-corpus", "--sentences", 50, "--seed", 2).output
    assert len(out.read_text().splitlines()) == 50


@pytest.mark.parametrize("command", [["vocab"], ["train-w2v", "--epochs", "1", "--dim", "4"],
                                     ["windows"], ["phrases"]])
def test_stdin_given_twice_is_a_usage_error_before_reading(command):
    # train-w2v - - spooled stdin once and trained on it twice; vocab counted it twice.
    result = CliRunner().invoke(main, [command[0], "-", "-", *command[1:], "--min-count", "1"],
                                input="the cat sat on the mat\n" * 5)
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr == (
        "embedkit: error: '-' (stdin) given 2 times: stdin can be read only once; give it once\n")


def test_the_library_refuses_stdin_twice_too(tmp_path):
    from embedkit.errors import ParameterError
    from embedkit.text.vocab import build_vocabulary

    with pytest.raises(ParameterError, match="given 3 times"):
        build_vocabulary(["-", str(tmp_path / "x"), "-", "-"], min_count=1)
