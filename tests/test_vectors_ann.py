"""Approximate neighbours (the 'ann' extra): exact top-1 on a small file, and the errors."""

import builtins

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.vectors import KeyedVectors, save_vectors
from embedkit.vectors.ann import INSTALL_HINT, VectorIndex, available, build_index
from embedkit.vectors.query import answer, parse_query, top_k

needs_ann = pytest.mark.skipif(not available(), reason="the 'ann' extra (usearch) is not "
                               "installed: pip install 'embedkit[ann]' (the test extra has it)")


def clustered(n=600, dim=24, seed=0):
    """Words in 30 tight clusters, so every word has a clear nearest neighbour."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, dim))
    vectors = centres[np.arange(n) % 30] + 0.3 * rng.normal(size=(n, dim))
    return KeyedVectors([f"w{i}" for i in range(n)], vectors.astype(np.float32))


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ann")
    kv = clustered()
    save_vectors(directory / "v.npy", kv.words, kv.vectors)
    build_index(kv, directory / "v.index", threads=1)
    return kv, directory


@needs_ann
def test_index_gives_the_exact_top_1_and_mostly_the_exact_top_10(indexed):
    kv, directory = indexed
    queries = [parse_query(kv, word) for word in kv.words] + [parse_query(kv, "w1 w2 -w3")]
    exact_rows, exact_sims = top_k(kv, queries, 10)
    rows, sims = VectorIndex(directory / "v.index", kv).top_k(queries, 10)
    assert (rows[:, 0] == exact_rows[:, 0]).all()
    np.testing.assert_allclose(sims[:, 0], exact_sims[:, 0], atol=1e-5)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact_rows, strict=True)])
    assert recall > 0.95
    # The query's own words are never answers, as in exact search.
    assert all(q.positive[0] not in r for q, r in zip(queries[:-1], rows[:-1], strict=True))
    assert not {1, 2, 3} & set(rows[-1])


@needs_ann
def test_cli_index_then_neighbors_agree_with_exact_search(indexed, tmp_path):
    kv, directory = indexed
    vectors = str(directory / "v.npy")
    runner = CliRunner()
    built = runner.invoke(main, ["index", vectors, "-o", str(tmp_path / "cli.index"),
                                 "--threads", "1"])
    assert built.exit_code == 0, built.output
    words = kv.words[:40]
    approximate = runner.invoke(main, ["neighbors", vectors, "--mmap", "--index",
                                       str(tmp_path / "cli.index"), "-k", "1", *words])
    exact = runner.invoke(main, ["neighbors", vectors, "-k", "1", *words])
    assert approximate.exit_code == 0, approximate.output

    def answers(output):
        return [line.split("\t")[2] for line in output.splitlines()]

    assert answers(approximate.output) == answers(exact.output)
    assert len(answers(exact.output)) == 40


@needs_ann
def test_a_half_precision_index_built_faster_opens_and_finds_the_top_1(indexed, tmp_path):
    """`--precision f16 --expansion 64`, the README's cheaper build for millions of words: the
    stored vectors pass the check against the file at f16's rounding, take half the bytes, and
    the first answer is the exact one but where f16 cannot tell two apart (here one word whose
    best two differ by 5e-7 in cosine)."""
    kv, directory = indexed
    half = tmp_path / "half.index"
    built = CliRunner().invoke(main, ["index", str(directory / "v.npy"), "-o", str(half),
                                      "--precision", "f16", "--expansion", "64",
                                      "--threads", "1"])
    assert built.exit_code == 0, built.output
    queries = [parse_query(kv, word) for word in kv.words]
    rows, sims = VectorIndex(half, kv).top_k(queries, 1)
    exact_rows, exact_sims = top_k(kv, queries, 1)
    assert np.mean(rows[:, 0] == exact_rows[:, 0]) >= 0.99
    np.testing.assert_allclose(sims[:, 0], exact_sims[:, 0], atol=1e-3)
    saved = (directory / "v.index").stat().st_size - half.stat().st_size
    assert saved >= 0.9 * kv.vectors.size * 2


@needs_ann
def test_an_index_of_other_vectors_is_refused(indexed, tmp_path):
    kv, directory = indexed
    other = clustered(seed=1)  # same size and dimension, other vectors
    with pytest.raises(EmbedkitError, match="differ from the vector file"):
        VectorIndex(directory / "v.index", other)
    fewer = KeyedVectors(kv.words[:100], kv.vectors[:100])
    with pytest.raises(EmbedkitError, match="an index of 600 vectors of dimension 24"):
        VectorIndex(directory / "v.index", fewer)
    junk = tmp_path / "junk.index"
    junk.write_bytes(b"not an index" * 100)
    with pytest.raises(EmbedkitError, match="junk.index: not an index"):
        VectorIndex(junk, kv)


def test_without_the_extra_the_error_is_one_line_naming_it(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_usearch(name, *args, **kwargs):
        if name.startswith("usearch"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_usearch)
    kv = clustered(n=40)
    save_vectors(tmp_path / "v.vec", kv.words, kv.vectors)
    result = CliRunner().invoke(main, ["index", str(tmp_path / "v.vec"), "-o",
                                       str(tmp_path / "v.index")])
    assert result.exit_code == 1
    assert result.output == f"embedkit: error: {INSTALL_HINT}\n"
    assert not (tmp_path / "v.index").exists()
    assert "pip install 'embedkit[ann]'" in INSTALL_HINT


def test_answer_uses_the_search_it_is_given():
    kv = clustered(n=40)
    calls = []

    def fake(queries, k):
        calls.append((len(queries), k))
        return np.full((len(queries), k), 7), np.ones((len(queries), k), dtype=np.float32)

    found = answer(kv, ["w1", "w2"], 2, search=fake)
    assert calls == [(2, 2)]
    assert [a.neighbors for a in found] == [[("w7", 1.0), ("w7", 1.0)]] * 2


@pytest.mark.parametrize("name", ["v.index.gz", "v.index.BZ2"])
def test_a_compressed_index_name_is_refused_before_loading(tmp_path, name):
    # The vectors file does not exist: the name is refused before anything is read.
    result = CliRunner().invoke(main, ["index", str(tmp_path / "missing.npy"), "-o",
                                       str(tmp_path / name)])
    suffix = name.rsplit(".", 1)[1]
    assert result.exit_code == 1
    assert result.output == (f"embedkit: error: {tmp_path / name}: an index is memory-mapped "
                             f"when opened, so it is not compressed: drop the .{suffix} "
                             "suffix\n")
    with pytest.raises(EmbedkitError, match="drop the .gz suffix"):
        build_index(clustered(n=40), tmp_path / "w.gz")
    assert not list(tmp_path.iterdir())


@needs_ann
def test_a_mapped_matrix_with_a_nan_is_indexed_by_no_file_but_a_one_line_error(tmp_path,
                                                                               monkeypatch):
    # a memory map is not checked when loaded: the index of a NaN row was written, exit 0
    monkeypatch.setattr("embedkit.vectors.ann.ROW_BLOCK", 256)  # the row is in the 3rd block
    vectors = clustered(600, 8).vectors
    vectors[550, 2] = np.nan
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "v.vocab").write_text("".join(f"w{i}\n" for i in range(600)))
    result = CliRunner().invoke(main, ["index", str(tmp_path / "v.npy"), "--mmap", "-o",
                                       str(tmp_path / "v.index")])
    assert result.exit_code == 1
    assert result.output == (f"embedkit: error: {tmp_path / 'v.npy'}: row 551, column 3: nan; "
                             "expected finite numbers\n")
    assert not (tmp_path / "v.index").exists()
