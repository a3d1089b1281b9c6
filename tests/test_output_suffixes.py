"""An output's suffix says what it holds: each output either writes what its suffix promises
or refuses the name before any work, naming the suffixes it accepts (a new user met
``autoencode -o model.vec`` writing a zip archive, ``vocab -o v.npz`` writing text, and
``train-w2v --format npy`` on stdout dropping the words)."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.text.vocab import Vocabulary

CORPUS = "the cat sat on the mat\nthe dog sat on the log\n" * 20


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "c.txt").write_text(CORPUS)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(30, 4)))
    return tmp_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


MODEL = "a model or checkpoint is an .npz archive: expected a name ending in .npz"
VOCAB = "a vocabulary is word<TAB>count text: expected a name ending in .tsv, .txt or .vocab"
W2V = ("train-w2v", "{d}/c.txt", "--min-count", "1", "--dim", "4", "--epochs", "1")
AE = ("autoencode", "{d}/x.npy", "--hidden", "2", "--epochs", "1")


@pytest.mark.parametrize("args, name, message", [
    ((*AE, "-o"), "model.vec", f"{MODEL}, not .vec"),
    ((*AE, "-o"), "model.csv", f"{MODEL}, not .csv"),
    ((*AE, "-o", "{d}/m.npz", "--checkpoint"), "ck.npy", f"{MODEL}, not .npy"),
    ((*W2V, "--checkpoint"), "ck.txt", f"{MODEL}, not .txt"),
    (("vocab", "{d}/c.txt", "-o"), "v.npz", f"{VOCAB}, not .npz"),
    (("vocab", "{d}/c.txt", "-o"), "v.npy.gz", f"{VOCAB}, not .npy"),
    ((*W2V, "--save-vocab"), "v.bin", f"{VOCAB}, not .bin"),
])
def test_a_suffix_promising_another_kind_of_file_is_refused_before_work(files, args, name,
                                                                         message):
    path = files / name
    result = run(*(a.format(d=files) for a in args), path)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"embedkit: error: {path}: {message}\n"  # no epoch line
    assert sorted(p.name for p in files.iterdir()) == ["c.txt", "x.npy"]


@pytest.mark.parametrize("args, name", [
    ((*AE, "-o"), "model.npz"), ((*AE, "-o"), "model"), ((*AE, "-o"), "model.ae"),
    (("vocab", "{d}/c.txt", "-o"), "v.tsv"), (("vocab", "{d}/c.txt", "-o"), "v.vocab.gz"),
    (("vocab", "{d}/c.txt", "-o"), "counts"), ((*W2V, "--save-vocab"), "v.txt"),
])
def test_the_suffixes_accepted_and_names_without_one_still_write(files, args, name):
    result = run(*(a.format(d=files) for a in args), files / name)
    assert result.exit_code == 0, result.output
    assert (files / name).stat().st_size > 0


def test_the_library_refuses_a_vocabulary_named_npz(tmp_path):
    with pytest.raises(EmbedkitError, match="v.npz: a vocabulary is word<TAB>count text"):
        Vocabulary(["a"], np.array([1])).save(tmp_path / "v.npz")
    assert not (tmp_path / "v.npz").exists()


@pytest.mark.parametrize("args", [
    (*W2V, "--format", "npy"), (*W2V, "-o", "-", "--format", "npy"),
    ("convert", "{d}/v.npz", "-", "--format", "npy"),
])
def test_word_vectors_as_npy_on_stdout_are_refused_before_work(files, args):
    # .npy holds no words: they were dropped without a word.
    assert run(*(a.format(d=files) for a in W2V), "-o", files / "v.npz").exit_code == 0
    result = run(*(a.format(d=files) for a in args))
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and result.stderr == (
        "embedkit: error: <stdout>: a .npy holds no words (they go to <stem>.vocab beside the "
        "file): write word vectors to stdout as word2vec text, .npz or .bin, or name a "
        "FILE.npy\n")


def test_a_matrix_as_npy_on_stdout_still_writes(files):
    model = files / "m.npz"
    assert run(*(a.format(d=files) for a in AE), "-o", model).exit_code == 0
    result = CliRunner().invoke(main, ["encode", str(model), str(files / "x.npy"), "--format",
                                       "npy"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\x93NUMPY")
