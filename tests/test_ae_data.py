"""The autoencoder's own reading and writing checked directly: the array named by ``key``, the
format named by ``fmt`` or the suffix, and one file per output."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.ae.data import output_format, read_matrix, write_matrix
from embedkit.errors import EmbedkitError


def test_key_picks_the_array_of_an_archive(tmp_path):
    np.savez(tmp_path / "x.npz", first=np.eye(2), second=np.full((3, 2), 7.0))
    np.testing.assert_array_equal(read_matrix(tmp_path / "x.npz", key="second").values,
                                  np.full((3, 2), 7.0))
    with pytest.raises(EmbedkitError, match="x.npz"):
        read_matrix(tmp_path / "x.npz")  # two arrays and no key


def test_the_output_format_comes_from_fmt_else_the_suffix_else_csv():
    assert output_format("codes.npy").name == "npy"
    assert output_format("codes.npy", fmt="tsv").name == "tsv"
    assert output_format("codes.out").name == "csv"
    assert output_format(None).name == "csv"


def test_fmt_chooses_what_is_written(tmp_path):
    write_matrix(tmp_path / "codes.dat", np.array([[1.5, -2.0]]), fmt="tsv")
    assert (tmp_path / "codes.dat").read_text() == "1.5\t-2\n"


@pytest.mark.parametrize("name, fmt", [("codes.npy", None), ("codes.dat", "npy")])
def test_codes_with_words_written_as_npy_are_one_file(tmp_path, name, fmt):
    values = np.arange(6.0).reshape(3, 2)
    write_matrix(tmp_path / name, values, ["a", "b", "c"], fmt=fmt)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no vocabulary or norms beside it
    np.testing.assert_array_equal(np.load(tmp_path / name), values)
