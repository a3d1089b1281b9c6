"""Bad input for every command: a one-line error naming the problem, no traceback, no output.

Each row of :data:`ROWS` is one command line (``{d}`` is a directory of fixture files, see
:func:`files`) with the exit status and the words its message must contain. What a row checks:

* the exit status: 1 for errors found by embedkit, 2 for an option's invalid value (found by
  Click, or by embedkit's own checks: a ``ParameterError``);
* "one line": stderr is exactly one line starting ``embedkit: error:``, or, for a value Click
  refused, Click's usage error, whose only line after the ``Usage:``/``Try ...`` lines starts
  ``Error:`` (Click's standard format, e.g. ``Error: Invalid value for '--dim' ...``);
* the message names the problem (file name, line, option or field);
* no traceback on stdout or stderr, and no exception escaped the command;
* nothing new anywhere under ``{d}``: no output file, no temporary file, no directory.

Tests run as root in CI, where a directory without write permission is still writable: the
read-only rows write under a regular file (``afile/out``), under ``/sys`` (where even root cannot
create files) or, for other users, into a ``chmod 555`` directory.
"""

from __future__ import annotations

import bz2
import os
import struct
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.io import atomic_output, atomic_outputs
from embedkit.vectors import load_vectors
from embedkit.vectors.formats import save_vectors

WORDS = ["the", "cat", "dog", "sat", "mat", "king", "queen"]
CORPUS = "the cat sat on the mat\nthe dog sat on the mat\n" * 10


def _readonly_dir(d) -> str:
    """A directory nobody running the tests can create files in."""
    if os.geteuid() != 0:
        path = d / "readonly"
        path.mkdir(exist_ok=True)
        path.chmod(0o555)
        return str(path)
    return "/sys"


def _npy_header(shape: str) -> bytes:
    """The first 128 bytes of a float64 ``.npy`` file of the given shape."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".ljust(117)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.encode() + b"\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The fixture files every row refers to as ``{d}/NAME``."""
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(WORDS), 3)).astype(np.float32)
    save_vectors(d / "good.vec", WORDS, vectors)
    save_vectors(d / "good.bin", WORDS, vectors)
    (d / "adir").mkdir()
    (d / "afile").write_text("a regular file, not a directory\n")
    (d / "empty.txt").write_bytes(b"")
    (d / "empty.vec").write_bytes(b"")
    (d / "empty.csv").write_bytes(b"")
    (d / "junk.bin").write_bytes(rng.integers(128, 256, 3000, dtype=np.uint8).tobytes())
    (d / "junk.vec").write_bytes((d / "junk.bin").read_bytes())
    (d / "junk.npy").write_bytes((d / "junk.bin").read_bytes())
    (d / "junk.npz").write_bytes((d / "junk.bin").read_bytes())
    (d / "junk.csv").write_bytes((d / "junk.bin").read_bytes())
    (d / "corpus.txt").write_text(CORPUS)
    (d / "badutf8.txt").write_bytes(b"the cat sat\nthe dog\nthe \xff\xfe mat\n")
    (d / "rare.txt").write_text("every word here occurs once\n")
    (d / "header.vec").write_text("seven three\nthe 1 2 3\n")
    (d / "count.vec").write_text("2 3\nthe 1 2 3\ncat 1 2\n")
    (d / "notnum.vec").write_text("2 3\nthe 1 2 3\ncat 1 x 3\n")
    (d / "short.vec").write_text("3 3\nthe 1 2 3\ncat 1 2 3\n")
    (d / "long.vec").write_text("1 3\nthe 1 2 3\ncat 1 2 3\n")
    (d / "nan.vec").write_text("2 3\nthe 1 2 3\ncat 1 nan 3\n")
    (d / "toolong.vec").write_text("2 3\nthe 1 2 3\ncat 3e38 3e38 1\n")  # finite, long
    (d / "badword.vec").write_bytes(b"2 3\nthe 1 2 3\nc\xffat 1 2 3\n")
    good_bin = (d / "good.bin").read_bytes()
    (d / "truncated.bin").write_bytes(good_bin[:-7])
    (d / "infinite.bin").write_bytes(b"1 2\nthe " + struct.pack("<2f", 1.0, np.inf) + b"\n")
    (d / "good.vec.bz2").write_bytes(bz2.compress((d / "good.vec").read_bytes()))
    (d / "truncated.vec.bz2").write_bytes((d / "good.vec.bz2").read_bytes()[:-20])
    (d / "huge.vec").write_text("100000000000 3\nthe 1 2 3\n")
    (d / "huge.npy").write_bytes(_npy_header("(100000000000, 5)") + b"\0" * 80)
    (d / "short.npy").write_bytes(_npy_header("(30, 5)") + b"\0" * 80)
    with zipfile.ZipFile(d / "hugemember.npz", "w") as archive:  # a damaged member header
        with archive.open("words.npy", "w") as member:
            np.save(member, np.array(WORDS))
        archive.writestr("vectors.npy", _npy_header("(100000000000, 5)") + b"\0" * 80)
    data = rng.normal(size=(30, 5))
    np.save(d / "data.npy", data)
    np.savetxt(d / "data.csv", data, delimiter=",")
    nan = data.copy()
    nan[4, 2] = np.nan
    np.save(d / "nan.npy", nan)
    (d / "inf.csv").write_text("a,b,c\n1,2,3\n4,inf,6\n")
    (d / "ragged.csv").write_text("1,2,3\n4,5,6\n7,8\n")
    (d / "words.csv").write_text("1,2,3\n4,five,6\n")
    (d / "badutf8.csv").write_bytes(b"1,2,3\n4,5,\xff\n")
    np.save(d / "onedim.npy", np.arange(5.0))
    np.save(d / "scalar.npy", np.float64(3.0))  # np.save of a number: a 0-D array
    np.savez(d / "scalar.npz", m=np.float64(3.0))
    (d / "scalar.vocab").write_text("the\n")
    np.save(d / "onerow.npy", np.arange(5.0)[None])
    np.save(d / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(d / "wide.npy", rng.normal(size=(30, 7)))
    np.savez(d / "two.npz", a=data, b=data)
    np.save(d / "codes3.npy", rng.normal(size=(4, 3)))
    np.save(d / "codes2.npy", rng.normal(size=(4, 2)))
    (d / "sim_bad.tsv").write_bytes(b"cat\tdog\t5.0\n\xff\xfe\t1\n")
    (d / "sim_none.tsv").write_text("lion\ttiger\t8\n")
    (d / "questions.txt").write_text("the cat sat mat\n")
    model = d / "model.npz"
    result = CliRunner().invoke(main, ["autoencode", str(d / "data.npy"), "--hidden", "2",
                                       "--epochs", "1", "-o", str(model)])
    assert result.exit_code == 0, result.output
    (d / "out").mkdir()
    return d


# (id, command line, exit status, words the message must contain, stdin)
ROWS = [
    # -- vocab ---------------------------------------------------------------------------------
    ("vocab-missing", "vocab {d}/nope.txt", 1, ["nope.txt", "no such file"], None),
    ("vocab-directory", "vocab {d}/adir", 1, ["adir", "directory"], None),
    ("vocab-empty", "vocab {d}/empty.txt", 1, ["empty.txt", "empty corpus"], None),
    ("vocab-empty-stdin", "vocab -", 1, ["<stdin>", "empty corpus"], ""),
    ("vocab-junk", "vocab {d}/junk.bin --min-count 1", 1, ["junk.bin", "line 1", "UTF-8"],
     None),
    ("vocab-bad-utf8", "vocab {d}/badutf8.txt --min-count 1", 1,
     ["badutf8.txt", "line 3", "UTF-8"], None),
    ("vocab-bad-utf8-stdin", "vocab - --min-count 1", 1, ["<stdin>: line 2, byte 9", "UTF-8"],
     b"the cat\n\xff\n"),
    ("vocab-min-count-unreached", "vocab {d}/rare.txt --min-count 2", 1,
     ["rare.txt", "at least 2"], None),
    ("vocab-min-count-zero", "vocab {d}/corpus.txt --min-count 0", 2, ["--min-count"], None),
    ("vocab-max-vocab-negative", "vocab {d}/corpus.txt --max-vocab -1", 2, ["--max-vocab"],
     None),
    ("vocab-count-limit-zero", "vocab {d}/corpus.txt --count-limit 0", 2, ["--count-limit"],
     None),
    ("vocab-out-missing-dir", "vocab {d}/corpus.txt -o {d}/missing/v.tsv", 1,
     ["v.tsv", "does not exist"], None),
    ("vocab-out-under-file", "vocab {d}/corpus.txt -o {d}/afile/v.tsv", 1,
     ["v.tsv", "cannot write"], None),
    ("vocab-out-readonly", "vocab {d}/corpus.txt -o {ro}/v.tsv", 1, ["v.tsv", "cannot write"],
     None),
    ("vocab-out-directory", "vocab {d}/corpus.txt -o {d}/out", 2, ["out", "directory"], None),
    # -- windows -------------------------------------------------------------------------------
    ("windows-missing", "windows {d}/nope.txt", 1, ["nope.txt", "no such file"], None),
    ("windows-empty-stdin", "windows -", 1, ["<stdin>", "empty corpus"], ""),
    ("windows-bad-utf8", "windows {d}/badutf8.txt --min-count 1", 1,
     ["badutf8.txt", "line 3"], None),
    ("windows-bad-utf8-stdin", "windows - --min-count 1", 1, ["<stdin>", "line 2", "UTF-8"],
     b"the cat\n\xff\n"),
    ("windows-window-zero", "windows {d}/corpus.txt --window 0", 2, ["--window"], None),
    ("windows-subsample-negative", "windows {d}/corpus.txt --subsample -1", 2,
     ["--subsample"], None),
    ("windows-sentence-length-zero", "windows {d}/corpus.txt --max-sentence-length 0", 2,
     ["--max-sentence-length"], None),
    ("windows-ns-exponent-nan", "windows {d}/corpus.txt --ns-exponent nan -o {d}/out/w.npz",
     2, ["--ns-exponent nan"], None),
    ("windows-model-unknown", "windows {d}/corpus.txt --model glove", 2, ["--model"], None),
    ("windows-npz-missing-dir", "windows {d}/corpus.txt -o {d}/missing/w.npz", 1,
     ["w.npz", "does not exist"], None),
    ("windows-out-npy", "windows {d}/corpus.txt -o {d}/out/w.npy", 1,
     ["w.npy", ".npz arrays or tab-separated text", "not .npy"], None),
    ("windows-out-npy-gz", "windows {d}/corpus.txt -o {d}/out/w.npy.gz", 1,
     ["w.npy.gz", "not .npy"], None),
    ("windows-out-npz-gz", "windows {d}/corpus.txt -o {d}/out/w.npz.bz2", 1,
     ["w.npz.bz2", "zip archive already", "drop the .bz2 suffix"], None),
    ("windows-tsv-under-file", "windows {d}/corpus.txt -o {d}/afile/w.tsv", 1,
     ["w.tsv", "cannot write"], None),
    # -- phrases -------------------------------------------------------------------------------
    ("phrases-missing", "phrases {d}/nope.txt", 1, ["nope.txt", "no such file"], None),
    ("phrases-directory", "phrases {d}/adir", 1, ["adir", "directory"], None),
    ("phrases-empty", "phrases {d}/empty.txt", 1, ["empty.txt", "empty corpus"], None),
    ("phrases-empty-stdin", "phrases -", 1, ["<stdin>", "empty corpus"], ""),
    ("phrases-junk", "phrases {d}/junk.bin --min-count 1", 1, ["junk.bin", "UTF-8"], None),
    ("phrases-bad-utf8", "phrases {d}/badutf8.txt --min-count 1", 1,
     ["badutf8.txt", "line 3", "UTF-8"], None),
    ("phrases-npmi-threshold-high", "phrases {d}/corpus.txt --scoring npmi --threshold 1.5", 2,
     ["--threshold 1.5", "[-1, 1]"], None),
    ("phrases-npmi-threshold-low", "phrases {d}/corpus.txt --scoring npmi --threshold -2", 2,
     ["--threshold -2", "[-1, 1]"], None),
    ("phrases-threshold-negative", "phrases {d}/corpus.txt --threshold -1", 2,
     ["threshold -1", "at least 0"], None),
    ("phrases-threshold-nan", "phrases {d}/corpus.txt --threshold nan", 2,
     ["threshold nan"], None),
    ("phrases-scoring-unknown", "phrases {d}/corpus.txt --scoring pmi", 2, ["--scoring"], None),
    ("phrases-passes-zero", "phrases {d}/corpus.txt --passes 0", 2, ["--passes"], None),
    ("phrases-pair-limit-zero", "phrases {d}/corpus.txt --pair-limit 0", 2, ["--pair-limit"],
     None),
    ("phrases-delimiter-empty", "phrases {d}/corpus.txt --delimiter=", 2,
     ["delimiter ''", "non-empty"], None),
    ("phrases-common-words-missing", "phrases {d}/corpus.txt --common-words {d}/nope.txt", 1,
     ["nope.txt", "no such file"], None),
    ("phrases-common-words-empty", "phrases {d}/corpus.txt --common-words {d}/empty.txt", 1,
     ["empty.txt", "no common words"], None),
    ("phrases-out-missing-dir", "phrases {d}/corpus.txt -o {d}/missing/p.txt", 1,
     ["p.txt", "does not exist"], None),
    ("phrases-save-under-file", "phrases {d}/corpus.txt --save-phrases {d}/afile/p.tsv", 1,
     ["p.tsv", "cannot write"], None),
    ("phrases-out-readonly", "phrases {d}/corpus.txt -o {ro}/p.txt", 1,
     ["p.txt", "cannot write"], None),
    # -- synth-corpus --------------------------------------------------------------------------
    ("synth-sentences-zero", "synth-corpus --sentences 0", 2, ["--sentences"], None),
    ("synth-out-missing-dir", "synth-corpus --sentences 5 -o {d}/missing/c.txt", 1,
     ["c.txt", "does not exist"], None),
    ("synth-out-readonly", "synth-corpus --sentences 5 -o {ro}/c.txt", 1,
     ["c.txt", "cannot write"], None),
    # -- gradcheck -----------------------------------------------------------------------------
    ("gradcheck-unknown-op", "gradcheck --op bogus", 2, ["--op 'bogus'"], None),
    # -- neighbors: every malformed vector file ------------------------------------------------
    ("neighbors-missing", "neighbors {d}/nope.vec the", 1, ["nope.vec", "no such file"], None),
    ("neighbors-directory", "neighbors {d}/adir the", 2, ["adir", "directory"], None),
    ("neighbors-empty", "neighbors {d}/empty.vec the", 1, ["empty.vec", "line 1", "header"],
     None),
    ("neighbors-junk-text", "neighbors {d}/junk.vec the", 1, ["junk.vec", "line 1", "header"],
     None),
    ("neighbors-junk-binary", "neighbors {d}/junk.bin the", 1, ["junk.bin", "line 1"], None),
    ("neighbors-bad-header", "neighbors {d}/header.vec the", 1,
     ["header.vec", "line 1", "header"], None),
    ("neighbors-wrong-count", "neighbors {d}/count.vec the", 1,
     ["count.vec", "line 3", "3 values", "found 2"], None),
    ("neighbors-not-a-number", "neighbors {d}/notnum.vec the", 1,
     ["notnum.vec", "line 3", "'x'"], None),
    ("neighbors-fewer-than-header", "neighbors {d}/short.vec the", 1,
     ["short.vec", "line 4", "header"], None),
    ("neighbors-more-than-header", "neighbors {d}/long.vec the", 1, ["long.vec", "header"],
     None),
    ("neighbors-header-count-huge", "neighbors {d}/huge.vec the", 1,
     ["huge.vec", "line 3", "100000000000"], None),
    ("neighbors-nan-value", "neighbors {d}/nan.vec the", 1, ["nan.vec", "line 3", "finite"],
     None),
    ("neighbors-inf-binary", "neighbors {d}/infinite.bin the", 1,
     ["infinite.bin", "vector 1", "finite"], None),
    ("neighbors-undecodable-word", "neighbors {d}/badword.vec the", 1,
     ["badword.vec", "line 3", "UTF-8"], None),
    ("neighbors-truncated-binary", "neighbors {d}/truncated.bin the", 1,
     ["truncated.bin", "vector 7", "truncated"], None),
    ("neighbors-truncated-bz2", "neighbors {d}/truncated.vec.bz2 the", 1,
     ["truncated.vec.bz2"], None),
    ("neighbors-junk-npz", "neighbors {d}/junk.npz the", 1, ["junk.npz"], None),
    ("neighbors-npz-member-header-huge", "neighbors {d}/hugemember.npz the", 1,
     ["hugemember.npz[vectors]", "(100000000000, 5)", "80 bytes"], None),
    ("neighbors-npz-member-header-huge-mmap", "neighbors {d}/hugemember.npz the --mmap", 1,
     ["hugemember.npz[vectors]", "(100000000000, 5)", "80 bytes"], None),
    ("neighbors-too-long-for-float32", "neighbors {d}/toolong.vec the", 1,
     ["toolong.vec", "row 2 ('cat')", "float32"], None),
    ("neighbors-npy-without-vocab", "neighbors {d}/nan.npy the", 1, ["nan.npy", "vocab"],
     None),
    ("neighbors-unknown-word", "neighbors {d}/good.vec kiwi", 1, ["'kiwi'", "unknown word"],
     None),
    ("neighbors-unknown-word-stdin", "neighbors {d}/good.bin", 1, ["'kiwi'", "unknown word"],
     "kiwi\n"),
    ("neighbors-bad-utf8-stdin", "neighbors {d}/good.vec -k 1", 1,
     ["embedkit: error: <stdin>: line 2, byte 6: not valid UTF-8 text"], b"the\nc\xffat\n"),
    ("neighbors-bad-utf8-stdin-bom", "neighbors {d}/good.vec -k 1", 1,
     ["<stdin>: line 1, byte 4: not valid UTF-8"], b"\xef\xbb\xbf\xfe\n"),
    ("neighbors-only-subtracted", "neighbors {d}/good.vec -- -the", 1,
     ["embedkit: error: query '-the': no word to add"], None),
    ("neighbors-k-zero", "neighbors {d}/good.vec the -k 0", 2, ["-k"], None),
    ("neighbors-limit-zero", "neighbors {d}/good.vec the --limit 0", 2, ["--limit"], None),
    # -- analogy -------------------------------------------------------------------------------
    ("analogy-unknown-word", "analogy {d}/good.vec the cat kiwi", 1, ["'kiwi'"], None),
    ("analogy-two-words", "analogy {d}/good.vec the cat", 2, ["three words"], None),
    ("analogy-bad-utf8-stdin", "analogy {d}/good.vec", 1,
     ["<stdin>: line 3, byte 25: not valid UTF-8"], b"the cat dog\nthe cat sat\n\xff\n"),
    ("analogy-stdin-two-words", "analogy {d}/good.vec", 1, ["three words"], "the cat\n"),
    ("analogy-method-unknown", "analogy {d}/good.vec the cat dog --method glove", 2,
     ["--method"], None),
    ("analogy-bad-header", "analogy {d}/header.vec the cat dog", 1, ["header.vec", "line 1"],
     None),
    # -- evaluate ------------------------------------------------------------------------------
    ("evaluate-nothing", "evaluate {d}/good.vec", 2, ["--similarity"], None),
    ("evaluate-similarity-missing", "evaluate {d}/good.vec --similarity {d}/nope.tsv", 1,
     ["nope.tsv", "no such file"], None),
    ("evaluate-similarity-directory", "evaluate {d}/good.vec --similarity {d}/adir", 2,
     ["adir", "directory"], None),
    ("evaluate-similarity-bad-utf8", "evaluate {d}/good.vec --similarity {d}/sim_bad.tsv", 1,
     ["sim_bad.tsv", "line 2", "UTF-8"], None),
    ("evaluate-similarity-no-pairs", "evaluate {d}/good.vec --similarity {d}/sim_none.tsv", 1,
     ["sim_none.tsv", "no usable pairs"], None),
    ("evaluate-analogies-no-header", "evaluate {d}/good.vec --analogies {d}/questions.txt", 1,
     ["questions.txt", "line 1", "section"], None),
    ("evaluate-analogies-empty", "evaluate {d}/good.vec --analogies {d}/empty.txt", 1,
     ["empty.txt", "no questions"], None),
    ("evaluate-restrict-zero", "evaluate {d}/good.vec --similarity {d}/sim_none.tsv "
     "--restrict-vocab 0", 2, ["--restrict-vocab"], None),
    ("evaluate-pair-columns-zero", "evaluate {d}/good.vec --similarity {d}/sim_none.tsv "
     "--pair-columns 0,1", 2, ["--pair-columns", "got 0,1"], None),
    ("evaluate-wrong-count", "evaluate {d}/count.vec --similarity {d}/sim_none.tsv", 1,
     ["count.vec", "line 3"], None),
    # -- autoencode ----------------------------------------------------------------------------
    ("ae-missing", "autoencode {d}/nope.npy --hidden 2", 1, ["nope.npy", "no such file"], None),
    ("ae-directory", "autoencode {d}/adir --hidden 2", 1, ["adir", "directory"], None),
    ("ae-empty-csv", "autoencode {d}/empty.csv --hidden 2", 1, ["empty.csv", "no data"], None),
    ("ae-empty-stdin", "autoencode - --hidden 2", 1, ["<stdin>", "no data"], ""),
    ("ae-junk-npy", "autoencode {d}/junk.npy --hidden 2", 1, ["junk.npy", "NumPy"], None),
    ("ae-junk-npz", "autoencode {d}/junk.npz --hidden 2", 1, ["junk.npz"], None),
    ("ae-junk-csv", "autoencode {d}/junk.csv --hidden 2", 1, ["junk.csv", "line 1", "UTF-8"],
     None),
    ("ae-bad-utf8-csv", "autoencode {d}/badutf8.csv --hidden 2", 1,
     ["badutf8.csv", "UTF-8"], None),
    ("ae-nan", "autoencode {d}/nan.npy --hidden 2", 1, ["nan.npy", "row 5", "column 3"], None),
    ("ae-inf-csv", "autoencode {d}/inf.csv --hidden 2", 1, ["inf.csv", "line 3", "column 2"],
     None),
    ("ae-ragged-csv", "autoencode {d}/ragged.csv --hidden 2", 1,
     ["ragged.csv", "line 3", "2 fields"], None),
    ("ae-words-csv", "autoencode {d}/words.csv --hidden 2", 1,
     ["words.csv", "line 2", "field 2", "'five'"], None),
    ("ae-npy-header-huge", "autoencode {d}/huge.npy --hidden 2", 1,
     ["huge.npy", "(100000000000, 5)", "80 bytes"], None),
    ("ae-npy-truncated", "autoencode {d}/short.npy --hidden 2", 1,
     ["short.npy", "(30, 5)", "80 bytes"], None),
    ("ae-one-dim", "autoencode {d}/onedim.npy --hidden 2", 1, ["onedim.npy", "2-D"], None),
    ("ae-strings", "autoencode {d}/strings.npy --hidden 1", 1, ["strings.npy", "dtype"], None),
    ("ae-scalar-npy", "autoencode {d}/scalar.npy --hidden 2", 1,
     ["scalar.npy: expected a 2-D matrix (rows × features), got a single number (a 0-D "
      "array)"], None),
    ("ae-scalar-npy-stdin", "autoencode - --hidden 2", 1,
     ["<stdin>: expected a 2-D matrix", "0-D"], _npy_header("()") + np.float64(3).tobytes()),
    ("ae-scalar-npz", "autoencode {d}/scalar.npz --hidden 2", 1,
     ["scalar.npz[m]: expected a 2-D matrix", "0-D"], None),
    ("encode-scalar-npy", "encode {d}/model.npz {d}/scalar.npy", 1,
     ["scalar.npy: expected a 2-D matrix", "0-D"], None),
    ("neighbors-scalar-npy", "neighbors {d}/scalar.npy the", 1,
     ["scalar.npy: expected a 2-D matrix", "0-D"], None),
    ("compare-pca-scalar-npy", "compare-pca {d}/scalar.npy --fit 1", 1,
     ["scalar.npy: expected a 2-D matrix", "0-D"], None),
    ("ae-vectors-bad-header", "autoencode {d}/header.vec --hidden 2", 1,
     ["header.vec", "line 1"], None),
    ("ae-npz-needs-key", "autoencode {d}/two.npz --hidden 2", 1, ["two.npz", "--key"], None),
    ("ae-npz-wrong-key", "autoencode {d}/two.npz --hidden 2 --key zz", 1, ["two.npz", "'zz'"],
     None),
    ("ae-key-on-npy", "autoencode {d}/data.npy --hidden 2 --key zz", 1,
     ["data.npy: --key 'zz' names an array of an .npz archive"], None),
    ("ae-single-row", "autoencode {d}/onerow.npy --hidden 1", 1,
     ["onerow.npy: a single row (every column has zero variance)"], None),
    ("ae-hidden-not-below-features", "autoencode {d}/data.npy --hidden 5", 1,
     ["data.npy: ", "--hidden below", "(n_features=5), got 5"], None),
    ("ae-hidden-above-features", "autoencode {d}/data.npy --hidden 9", 1,
     ["data.npy: ", "--hidden below", "(n_features=5), got 9"], None),
    ("ae-hidden-zero", "autoencode {d}/data.npy --hidden 0", 2, ["--hidden"], None),
    ("ae-lr-zero", "autoencode {d}/data.npy --hidden 2 --lr 0", 2, ["--lr"], None),
    ("ae-lr-negative", "autoencode {d}/data.npy --hidden 2 --lr -1", 2, ["--lr"], None),
    ("ae-lr-nan", "autoencode {d}/data.npy --hidden 2 --lr nan", 2, ["--lr"], None),
    ("ae-epochs-negative", "autoencode {d}/data.npy --hidden 2 --epochs -1", 2, ["--epochs"],
     None),
    ("ae-batch-size-zero", "autoencode {d}/data.npy --hidden 2 --batch-size 0", 2,
     ["--batch-size"], None),
    ("ae-val-split-one", "autoencode {d}/data.npy --hidden 2 --val-split 1", 2,
     ["--val-split"], None),
    ("ae-l1-negative", "autoencode {d}/data.npy --hidden 2 --l1 -1", 2, ["--l1"], None),
    ("ae-contractive-negative", "autoencode {d}/data.npy --hidden 2 --contractive -1", 2,
     ["--contractive"], None),
    ("ae-weight-decay-negative", "autoencode {d}/data.npy --hidden 2 --weight-decay -1", 2,
     ["--weight-decay"], None),
    ("ae-noise-unknown", "autoencode {d}/data.npy --hidden 2 --noise salt:0.1", 2,
     ["salt"], None),
    ("ae-noise-malformed", "autoencode {d}/data.npy --hidden 2 --noise foo:1", 2,
     ["--noise 'foo'"], None),
    ("ae-noise-mask-above-one", "autoencode {d}/data.npy --hidden 2 --noise mask:1.5", 2,
     ["mask"], None),
    ("ae-out-missing-dir", "autoencode {d}/data.npy --hidden 2 --epochs 1 "
     "-o {d}/missing/m.npz", 1, ["m.npz", "does not exist"], None),
    ("ae-out-readonly", "autoencode {d}/data.npy --hidden 2 --epochs 1 -o {ro}/m.npz", 1,
     ["m.npz", "cannot write"], None),
    ("ae-codes-missing-dir", "autoencode {d}/data.npy --hidden 2 --epochs 1 "
     "-o {d}/out/m.npz --codes {d}/missing/c.npy", 1, ["c.npy", "does not exist"], None),
    ("ae-codes-vec-from-matrix", "autoencode {d}/data.npy --hidden 2 --epochs 1 "
     "-o {d}/out/m.npz --codes {d}/out/c.vec", 1, ["c.vec", "word vector"], None),
    ("ae-log-json-under-file", "autoencode {d}/data.npy --hidden 2 --epochs 1 "
     "-o {d}/out/m.npz --codes {d}/out/c.npy --log-json {d}/afile/log.jsonl", 1,
     ["log.jsonl", "cannot write"], None),
    # -- encode / decode -----------------------------------------------------------------------
    ("encode-model-missing", "encode {d}/nope.npz {d}/data.npy", 1, ["nope.npz", "no such file"],
     None),
    ("encode-model-junk", "encode {d}/junk.npz {d}/data.npy", 1, ["junk.npz", "model"], None),
    ("encode-model-not-a-model", "encode {d}/two.npz {d}/data.npy", 1, ["two.npz", "model"],
     None),
    ("encode-model-directory", "encode {d}/adir {d}/data.npy", 1, ["adir", "directory"], None),
    ("encode-wrong-features", "encode {d}/model.npz {d}/wide.npy", 1,
     ["wide.npy", "7", "5", "features"], None),
    ("encode-nan", "encode {d}/model.npz {d}/nan.npy", 1, ["nan.npy", "row 5"], None),
    ("encode-ragged", "encode {d}/model.npz {d}/ragged.csv", 1, ["ragged.csv", "line 3"], None),
    ("encode-out-missing-dir", "encode {d}/model.npz {d}/data.npy -o {d}/missing/c.npy", 1,
     ["c.npy", "does not exist"], None),
    ("encode-out-extension", "encode {d}/model.npz {d}/data.npy -o {d}/out/c.txt", 1,
     ["c.txt", ".npy"], None),
    ("decode-wrong-columns", "decode {d}/model.npz {d}/codes3.npy", 1,
     ["codes3.npy", "3", "2", "columns"], None),
    ("decode-one-dim", "decode {d}/model.npz {d}/onedim.npy", 1, ["onedim.npy", "2-D"], None),
    ("decode-out-under-file", "decode {d}/model.npz {d}/codes2.npy -o {d}/afile/x.npy", 1,
     ["x.npy", "cannot write"], None),
    # -- compare-pca ---------------------------------------------------------------------------
    ("pca-inputs", "compare-pca {d}/data.npy", 2, ["MODEL DATA"], None),
    ("pca-model-missing", "compare-pca {d}/nope.npz {d}/data.npy", 1, ["nope.npz"], None),
    ("pca-data-nan", "compare-pca {d}/model.npz {d}/nan.npy", 1, ["nan.npy", "row 5"], None),
    ("pca-wrong-features", "compare-pca {d}/model.npz {d}/wide.npy", 1,
     ["wide.npy: rows of 7 features", "expects 5"], None),
    ("pca-fit-zero", "compare-pca --fit 0 {d}/data.npy", 2, ["--fit"], None),
    ("pca-fit-k-too-large", "compare-pca --fit 5 {d}/data.npy", 1,
     ["data.npy: ", "--fit below", "(n_features=5), got 5"], None),
    ("pca-plot-extension", "compare-pca {d}/model.npz {d}/data.npy --plot {d}/out/p.pdf", 1,
     ["p.pdf", ".png"], None),
    # -- train-w2v (issue 4's options) ---------------------------------------------------------
    ("w2v-missing", "train-w2v {d}/nope.txt -o {d}/out/v.vec", 1, ["nope.txt", "no such file"],
     None),
    ("w2v-directory", "train-w2v {d}/adir -o {d}/out/v.vec", 1, ["adir", "directory"], None),
    ("w2v-empty", "train-w2v {d}/empty.txt -o {d}/out/v.vec", 1, ["empty.txt", "empty"], None),
    ("w2v-bad-utf8", "train-w2v {d}/badutf8.txt --min-count 1 -o {d}/out/v.vec", 1,
     ["badutf8.txt", "line 3", "UTF-8"], None),
    ("w2v-min-count-unreached", "train-w2v {d}/rare.txt -o {d}/out/v.vec", 1,
     ["rare.txt", "at least 5"], None),
    ("w2v-dim-zero", "train-w2v {d}/corpus.txt --dim 0 -o {d}/out/v.vec", 2, ["--dim"], None),
    ("w2v-window-zero", "train-w2v {d}/corpus.txt --window 0 -o {d}/out/v.vec", 2,
     ["--window"], None),
    ("w2v-negative-negative", "train-w2v {d}/corpus.txt --negative -1 -o {d}/out/v.vec", 2,
     ["--negative"], None),
    ("w2v-lr-zero", "train-w2v {d}/corpus.txt --lr 0 -o {d}/out/v.vec", 2, ["--lr"], None),
    ("w2v-lr-nan", "train-w2v {d}/corpus.txt --lr nan -o {d}/out/v.vec", 2, ["--lr nan"],
     None),
    ("w2v-min-lr-above-lr", "train-w2v {d}/corpus.txt --min-lr 1 -o {d}/out/v.vec", 2,
     ["--min-lr 1", "--lr (0.025)"], None),
    ("w2v-epochs-zero", "train-w2v {d}/corpus.txt --epochs 0 -o {d}/out/v.vec", 2,
     ["--epochs"], None),
    ("w2v-seed-negative", "train-w2v {d}/corpus.txt --seed -1 -o {d}/out/v.vec", 2,
     ["--seed", "-1"], None),
    ("ae-seed-negative", "autoencode {d}/data.npy --hidden 2 --seed -1 -o {d}/out/m.npz", 2,
     ["--seed", "-1"], None),
    ("synth-seed-too-big", "synth-corpus --sentences 5 --seed 4294967296", 2,
     ["--seed", "4294967296"], None),
    ("ae-model-gz", "autoencode {d}/data.npy --hidden 2 -o {d}/out/model.gz", 1,
     ["model.gz", "an .npz is a zip archive", "drop the .gz suffix"], None),
    ("ae-checkpoint-bz2", "autoencode {d}/data.npy --hidden 2 --checkpoint {d}/out/ck.bz2", 1,
     ["ck.bz2", "drop the .bz2 suffix"], None),
    ("w2v-checkpoint-gz", "train-w2v {d}/corpus.txt --checkpoint {d}/out/ck.gz -o {d}/out/v.vec",
     1, ["ck.gz", "drop the .gz suffix"], None),
    ("ae-epochs-zero", "autoencode {d}/data.npy --hidden 2 --epochs 0 -o {d}/out/m.npz", 2,
     ["--epochs"], None),
    ("w2v-out-missing-dir", "train-w2v {d}/corpus.txt --min-count 1 --epochs 1 --dim 4 "
     "-o {d}/missing/v.vec", 1, ["v.vec", "does not exist"], None),
    ("w2v-out-readonly", "train-w2v {d}/corpus.txt --min-count 1 --epochs 1 --dim 4 "
     "-o {ro}/v.vec", 1, ["v.vec", "cannot write"], None),
]


def _tree(root) -> set[str]:
    return {os.path.relpath(os.path.join(top, name), root)
            for top, dirs, names in os.walk(root) for name in dirs + names}


def _check_message(result, status: int, words: list[str]) -> None:
    """The checks of the module docstring on one finished command."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == status, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    if status == 1 or lines[:1] and lines[0].startswith("embedkit: "):
        assert len(lines) == 1 and lines[0].startswith("embedkit: error: "), result.stderr
    else:
        errors = [line for line in lines if line.startswith("Error: ")]
        usage = [line for line in lines if line.startswith(("Usage: ", "Try ")) or not line]
        assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
        assert len(usage) == len(lines) - 1, result.stderr
    message = lines[-1]
    assert "internal error" not in message, message  # a user error is ours, not a library's
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("line, status, words, stdin", [row[1:] for row in ROWS],
                         ids=[row[0] for row in ROWS])
def test_bad_input_gives_one_line_error_and_no_output(files, line, status, words, stdin):
    readonly = _readonly_dir(files) if "{ro}" in line else ""
    before = _tree(files)
    args = line.format(d=files, ro=readonly).split()
    result = CliRunner().invoke(main, args, input=stdin)
    _check_message(result, status, [w.format(d=files) for w in words])
    assert _tree(files) == before, "files left behind: " + ", ".join(_tree(files) - before)


def test_read_only_directory_refuses_new_files(tmp_path):
    """The read-only rows mean something only if their directory refuses new files."""
    with pytest.raises(OSError):
        with open(os.path.join(_readonly_dir(tmp_path), "embedkit-probe"), "w"):
            pass


# -- atomic writes that fail half-way --------------------------------------------------------

def test_failure_in_the_middle_of_writing_leaves_no_file(tmp_path):
    """A NaN in a later block fails after earlier blocks were written: nothing remains."""
    from embedkit.formats.word2vec import TEXT_BLOCK
    vectors = np.ones((TEXT_BLOCK + 5, 2), dtype=np.float32)
    vectors[-1, 1] = np.nan
    words = [f"w{i}" for i in range(len(vectors))]
    for name in ("v.vec", "v.vec.gz", "v.bin"):
        target = tmp_path / name
        if name == "v.bin":
            with pytest.raises(KeyboardInterrupt):
                with atomic_output(target, binary=True) as out:
                    out.write(b"partial")
                    raise KeyboardInterrupt
        else:
            with pytest.raises(Exception) as caught:
                save_vectors(target, words, vectors)
            assert "NaN" in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_atomic_outputs_land_together_or_not_at_all(tmp_path, capsys):
    """Every file appears only when all were written; a failure in the last removes all."""
    paths = [tmp_path / "a.npy", tmp_path / "b.vec.gz"]
    with pytest.raises(KeyboardInterrupt):
        with atomic_outputs(*paths, None) as (a, b, nothing):
            assert nothing is None and str(b).endswith("b.vec.gz")
            np.save(a, np.ones(3))
            with atomic_output(b, binary=True) as out:
                out.write(b"partial")
                raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    with atomic_outputs(*paths, "-") as (a, b, stdout):
        np.save(a, np.ones(3))
        save_vectors(b, WORDS[:2], np.ones((2, 3)))
        assert os.listdir(tmp_path) and not paths[0].exists()
        with atomic_output(stdout) as out:
            out.write("on stdout\n")
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.vec.gz"]
    assert load_vectors(paths[1]).words == WORDS[:2] and capsys.readouterr().out == "on stdout\n"


def test_interrupted_command_exits_130_and_leaves_no_file(files, tmp_path, monkeypatch):
    """Ctrl-C while `windows` writes its output: exit 130, one line, no file at all."""
    import embedkit.cli.text as text_cli

    def write_then_interrupt(out, batches, labels):
        out.write("the\tcat\n" * 1000)
        out.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(text_cli, "write_windows_tsv", write_then_interrupt)
    result = CliRunner().invoke(main, ["windows", str(files / "corpus.txt"), "-o",
                                       str(tmp_path / "w.tsv")])
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["embedkit: interrupted"]
    assert os.listdir(tmp_path) == []


def test_good_fixtures_are_accepted(files):
    """The bad rows fail for their defect: the good files next to them do load."""
    assert load_vectors(files / "good.vec").words == WORDS
    assert load_vectors(files / "good.bin").words == WORDS
    assert load_vectors(files / "good.vec.bz2").words == WORDS
    result = CliRunner().invoke(main, ["neighbors", str(files / "good.vec"), "the", "-k", "2"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2
    result = CliRunner().invoke(main, ["encode", str(files / "model.npz"),
                                       str(files / "data.csv")])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 30
