"""The samples `embedkit windows` writes (embedkit.text.export), checked on the library: which
format a name asks for, the TSV lines and their count, and the arrays of the .npz."""

from __future__ import annotations

import io

import numpy as np
import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.export import save_windows_npz, windows_format, write_windows_tsv
from embedkit.text.noise import NoiseDistribution
from embedkit.text.vocab import Vocabulary
from embedkit.text.windows import CbowSamples, SkipgramPairs

VOCAB = Vocabulary(["the", "cat", "sat"], np.array([5, 3, 2]))
NOISE = NoiseDistribution(VOCAB.counts, 0.75)


def _pairs(centres, contexts):
    return SkipgramPairs(np.array(centres, np.int32), np.array(contexts, np.int32))


def _bags(centres, indptr, contexts):
    return CbowSamples(np.array(centres, np.int32), np.array(indptr, np.int64),
                       np.array(contexts, np.int32))


@pytest.mark.parametrize("name, expected", [
    (None, "tsv"), ("-", "tsv"), ("s.tsv", "tsv"), ("s.txt", "tsv"), ("samples", "tsv"),
    ("s.TSV.GZ", "tsv"), ("s.tsv.bz2", "tsv"), ("s.npz", "npz"), ("S.NPZ", "npz"),
    ("s.npz.gz", "npz"), ("s.npz.BZ2", "npz"), ("s.gz", "tsv")])
def test_the_name_says_the_format(name, expected):
    assert windows_format(name) == expected


@pytest.mark.parametrize("name, suffix", [
    ("s.npy", ".npy"), ("s.NPY", ".npy"), ("s.vec.gz", ".vec"), ("s.json.GZ", ".json"),
    ("s.csv.bz2", ".csv"), ("s.BIN.BZ2", ".bin")])
def test_a_name_promising_another_kind_of_file_is_refused(name, suffix):
    with pytest.raises(EmbedkitError) as error:
        windows_format(name)
    assert str(error.value) == (f"{name}: samples are .npz arrays or tab-separated text: "
                                f"expected a name ending in .npz, .tsv or .txt, not {suffix}")


def test_tsv_lines_are_counted_over_every_batch_even_after_an_empty_one():
    out = io.StringIO()
    batches = [_pairs([0, 1], [1, 2]), _pairs([], []), _pairs([2], [0])]
    assert write_windows_tsv(out, batches, VOCAB.words) == 3
    assert out.getvalue() == "the\tcat\ncat\tsat\nsat\tthe\n"
    out = io.StringIO()
    bags = [_bags([1, 2], [0, 2, 3], [0, 2, 1]), _bags([0], [0, 1], [2])]
    assert write_windows_tsv(out, bags, ["0", "1", "2"]) == 3
    assert out.getvalue() == "1\t0 2\n2\t1\n0\t2\n"
    assert write_windows_tsv(io.StringIO(), [], VOCAB.words) == 0


def test_npz_holds_every_sample_with_the_vocabulary_and_noise(tmp_path):
    path = tmp_path / "s.npz"
    bags = [_bags([1, 2], [0, 2, 3], [0, 2, 1]), _bags([], [0], []), _bags([0], [0, 1], [2])]
    assert save_windows_npz(path, bags, VOCAB, NOISE) == 3
    with np.load(path) as data:
        assert sorted(data.files) == ["centres", "contexts", "counts", "indptr", "noise", "words"]
        assert data["centres"].tolist() == [1, 2, 0] and data["centres"].dtype == np.int32
        assert data["contexts"].tolist() == [0, 2, 1, 2] and data["contexts"].dtype == np.int32
        assert data["indptr"].tolist() == [0, 2, 3, 4] and data["indptr"].dtype == np.int64
        assert data["words"].tolist() == VOCAB.words
        assert data["counts"].tolist() == [5, 3, 2]
        np.testing.assert_allclose(data["noise"], NOISE.probabilities)


def test_npz_of_no_samples_holds_empty_arrays_of_the_same_types(tmp_path):
    path = tmp_path / "s.npz"
    assert save_windows_npz(path, [], VOCAB, NOISE) == 0
    with np.load(path) as data:
        for name, dtype in [("centres", np.int32), ("contexts", np.int32)]:
            assert data[name].shape == (0,) and data[name].dtype == dtype
        assert data["indptr"].tolist() == [0] and data["indptr"].dtype == np.int64
