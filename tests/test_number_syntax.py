"""Every reader of numbers agrees on what a number is (``formats.delimited.parse_number``):
Python's float syntax in ASCII, as NumPy's C parsers read whole blocks. ``1_000`` and other
scripts' digits, which Python's ``float`` alone accepts, are not numbers anywhere: the CSV
reader met them as an internal error naming a wrong row, the word2vec text reader read
``1_000`` as 1000."""

import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.formats.delimited import is_number

NOT_NUMBERS = ["1_000", "\u0663", "\uff11", "1\u0660"]  # Arabic-Indic 3, full-width 1


@pytest.mark.parametrize("field", NOT_NUMBERS)
def test_python_float_extras_are_not_numbers(field):
    assert float(field) is not None  # what the old check (float alone) accepted
    assert not is_number(field) and not is_number(field.encode())


@pytest.mark.parametrize("field", ["1", "-2.5", "+.5", "1.", "1e-3", "1E+3", "inf", "-NaN",
                                   "Infinity", b"3"])
def test_ordinary_numbers_still_are(field):
    assert is_number(field)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("field", NOT_NUMBERS)
@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
@pytest.mark.parametrize("header", [False, True])
def test_a_delimited_matrix_names_the_line_and_field(tmp_path, field, suffix, sep, header):
    rows = ["1,2,3", "4,5,6", f"7,{field},8", "1,0,1"]
    if header:
        rows.insert(0, "a,b,c")
    path = tmp_path / f"m{suffix}"
    path.write_text("\n".join(r.replace(",", sep) for r in rows) + "\n", encoding="utf-8")
    result = run("autoencode", path, "--hidden", 1, "--epochs", 1, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1, result.output
    line = 4 if header else 3
    assert result.stderr == (f"embedkit: error: {path}: line {line}, field 2: {field!r} is "
                             "not a number\n")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("field", NOT_NUMBERS)
def test_a_word2vec_text_file_names_the_line(tmp_path, field):
    path = tmp_path / "v.vec"
    path.write_text(f"2 3\na 1 2 3\nb 1 {field} 3\n", encoding="utf-8")
    result = run("convert", path, tmp_path / "out.vec")
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"embedkit: error: {path}: line 3: {field!r} is not a number "
                             "(value 2 of 3 after the word)\n")
