"""embedkit map: word maps as PNG, SVG and a self-contained HTML page, from vectors made here."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.plots import render
from embedkit.plots.labels import leader_lines, place_labels
from embedkit.plots.page import map_page
from embedkit.plots.wordmap import choose_rows, project, word_map
from embedkit.vectors import KeyedVectors, load_vectors, save_vectors
from embedkit.vectors.query import Query, top_k

SVG = "{http://www.w3.org/2000/svg}"
needs_matplotlib = pytest.mark.skipif(not render.plotting_available(),
                                      reason="matplotlib (the optional 'plot' extra) is not "
                                             "installed")
CLUSTERS = ("red", "city", "дом", "café")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def clustered(per=15, dim=12, seed=0):
    """Four tight clusters of words; counts fall along the file, except they are reversed in
    the last cluster so that --top must read them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(CLUSTERS), dim)) * 3
    words = [f"{name}{j}" for name in CLUSTERS for j in range(per)]
    vectors = (np.repeat(centres, per, axis=0)
               + 0.3 * rng.standard_normal((len(words), dim))).astype(np.float32)
    counts = np.arange(len(words), 0, -1) * 10
    counts[-per:] = counts[-per:][::-1] + 10_000  # the café words are the most frequent
    return words, vectors, counts


@pytest.fixture
def vectors_file(tmp_path):
    words, vectors, counts = clustered()
    path = tmp_path / "v.npz"
    save_vectors(path, words, vectors, counts)
    return path


def svg_texts(path):
    root = ET.parse(path).getroot()
    return root, ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


@needs_matplotlib
def test_svg_labels_every_word_and_draws_every_point(vectors_file, tmp_path):
    out = tmp_path / "map.svg"
    result = run("map", vectors_file, "-o", out, "--size", "800x600")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no overlap left, no glyph missing
    root, texts = svg_texts(out)
    words = clustered()[0]
    assert set(words) <= set(texts)
    labels = [e for e in root.iter() if (e.get("id") or "").startswith("label-")]
    assert len(labels) == len(words)
    points = next(e for e in root.iter() if e.get("id") == "points")
    assert len(list(points.iter(f"{SVG}path"))) == len(words)  # one marker per word
    assert "PC1 (" in " ".join(texts) and "of variance)" in " ".join(texts)


@needs_matplotlib
def test_png_has_the_size_asked_and_points_in_the_palette(vectors_file, tmp_path):
    from PIL import Image
    out = tmp_path / "map.png"
    assert run("map", vectors_file, "-o", out, "--size", "640x480").exit_code == 0
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.size == (640, 480)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    blue = np.array([0x00, 0x72, 0xB2])
    assert (np.abs(pixels - blue).sum(axis=1) < 40).sum() > 60 * 10  # 60 points of ~20 px


def test_top_follows_the_counts_and_given_words_bring_their_neighbours():
    words, vectors, counts = clustered()
    kv = KeyedVectors(words, vectors, counts)
    rows, group = choose_rows(kv, top=5)
    assert [kv.words[r] for r in rows] == ["café14", "café13", "café12", "café11", "café10"]
    assert (group == -1).all()
    no_counts = KeyedVectors(words, vectors)
    assert choose_rows(no_counts, top=3)[0].tolist() == [0, 1, 2]
    rows, group = choose_rows(kv, ["city3", "red0", "city3"], neighbors=4)
    expected, _ = top_k(kv, [Query("city3", (kv.index["city3"],)),
                             Query("red0", (kv.index["red0"],))], k=4)
    assert rows[:2].tolist() == [kv.index["city3"], kv.index["red0"]]
    assert rows[2:6].tolist() == expected[0].tolist() and (group[2:6] == 0).all()
    assert rows[6:].tolist() == expected[1].tolist() and (group[6:] == 1).all()
    assert all(kv.words[r].startswith("city") for r in expected[0])


def test_tsne_seed_fixes_the_map():
    words, vectors, _ = clustered(per=5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    a, labels = project(unit, "tsne", seed=3)
    b, _ = project(unit, "tsne", seed=3)
    assert labels == ("t-SNE 1", "t-SNE 2")
    np.testing.assert_array_equal(a, b)
    # t-SNE keeps the clusters: every word's nearest point on the map is of its own cluster
    distance = np.linalg.norm(a[:, None] - a[None], axis=2) + np.eye(len(a)) * 1e9
    cluster = np.repeat(np.arange(len(CLUSTERS)), 5)
    assert (cluster[distance.argmin(axis=1)] == cluster).all()


def test_pca_of_one_dimensional_vectors_is_a_line():
    xy, labels = project(np.array([[1.0], [-1.0], [1.0]]), "pca")
    assert xy.shape == (3, 2) and (xy[:, 1] == 0).all() and labels[1] == ""


def test_labels_never_overlap_nor_cover_points():
    rng = np.random.default_rng(1)
    anchors = rng.normal(400, 90, (150, 2))
    sizes = np.column_stack([rng.integers(15, 70, 150), np.full(150, 11)])
    centres, overlapping = place_labels(anchors, sizes, (0, 0, 800, 800), marker=3, gap=2)
    assert not overlapping.any()
    low, high = centres - sizes / 2, centres + sizes / 2
    boxes = ((low[:, None] < high[None]) & (high[:, None] > low[None])).all(axis=2)
    np.fill_diagonal(boxes, False)
    assert not boxes.any()
    covers = ((low[:, None] < anchors[None] + 3) & (high[:, None] > anchors[None] - 3)).all(2)
    assert not covers.any()
    assert (low >= 0).all() and (high <= 800).all()
    # the first label (highest priority) sits right of its point when nothing is in the way
    assert centres[0, 0] > anchors[0, 0]
    which, segments = leader_lines(anchors, centres, sizes, reach=6)
    far = np.linalg.norm(np.clip(anchors, low, high) - anchors, axis=1) > 6
    assert which.tolist() == np.flatnonzero(far).tolist()
    np.testing.assert_array_equal(segments[:, 0], anchors[which])


def test_labels_that_cannot_fit_are_reported():
    anchors = np.full((40, 2), 50.0)
    centres, overlapping = place_labels(anchors, np.full((40, 2), 40.0), (0, 0, 100, 100))
    assert overlapping.sum() > 30


@needs_matplotlib
def test_crowded_map_shrinks_labels_and_says_when_some_overlap(tmp_path):
    words, vectors, counts = clustered(per=30)
    save_vectors(tmp_path / "big.npz", words, vectors, counts)
    result = run("map", tmp_path / "big.npz", "-o", tmp_path / "m.svg", "--size", "150x100")
    assert result.exit_code == 0
    assert re.search(r"warning: \d+ of 120 labels found no free place", result.stderr)
    root, texts = svg_texts(tmp_path / "m.svg")
    assert set(words) <= set(texts)  # still every word
    label = next(e for e in root.iter() if e.get("id") == "label-0")
    size = re.search(r"font-size: ?([\d.]+)px", ET.tostring(label, encoding="unicode"))
    assert float(size[1]) < 8 * 100 / 72  # shrunk below 8 pt


def test_html_page_holds_every_word_as_valid_json(tmp_path):
    words, vectors, counts = clustered()
    words[3] = "</script><b>x"  # must not end the script element
    save_vectors(tmp_path / "v.npz", words, vectors, counts)
    out = tmp_path / "map.html"
    result = run("map", tmp_path / "v.npz", "red1", "дом2", "--neighbors", 5, "-o", out)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    match = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON")
    data = json.loads(match.group(1), parse_constant=refuse)
    assert data["queries"] == ["red1", "дом2"]
    assert data["words"][:2] == ["red1", "дом2"] and len(data["words"]) == 12
    assert len(data["x"]) == len(data["y"]) == len(data["neighbors"]) == 12
    assert all(len(near) == 8 for near in data["neighbors"])
    assert all(word in data["words"] for word in data["words"])
    # self-contained: no address to fetch anything from
    assert not re.search(r"""(src|href)\s*=|https?://|@import|url\(""", page)
    assert page.count("<script") == 2


def test_html_for_top_words_and_the_script_escape(tmp_path):
    words, vectors, counts = clustered()
    words[0] = "</script>"
    kv = KeyedVectors(words, vectors, counts)
    page = map_page(word_map(kv, top=60, name="v"))
    assert page.count("</script>") == 2  # the two script elements' own ends only
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', page, re.S)[1])
    assert set(data["words"]) == set(words) and (np.array(data["group"]) == -1).all()


def test_unknown_words_are_one_line_naming_each(vectors_file, tmp_path):
    out = tmp_path / "m.html"
    result = run("map", vectors_file, "red1", "nope", "zzz", "-o", out)
    assert result.exit_code == 1 and not out.exists()
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("embedkit: error: ")
    assert "v.npz" in line and "'nope'" in line and "'zzz'" in line and "'red1'" not in line


@pytest.mark.parametrize("args, words", [
    (["-o", "{d}/m.jpg"], ["m.jpg", ".png, .svg or .html"]),
    (["red1", "--neighbors", "0", "-o", "{d}/m.html"], ["at least 2 words"]),
    (["--method", "umap", "-o", "{d}/m.html"], ["umap"]),
    (["--top", "1", "-o", "{d}/m.html"], ["--top"]),
    (["--size", "5x5", "-o", "{d}/m.png"], ["--size", "WIDTHxHEIGHT"]),
])
def test_bad_options(vectors_file, tmp_path, args, words):
    result = run("map", vectors_file, *[a.format(d=tmp_path) for a in args])
    assert result.exit_code != 0
    for word in words:
        assert word in result.stderr + result.output


def test_html_needs_no_matplotlib_but_png_names_the_extra(vectors_file, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "plotting_available", lambda: False)
    assert run("map", vectors_file, "-o", tmp_path / "m.html").exit_code == 0
    result = run("map", vectors_file, "-o", tmp_path / "m.png")
    assert result.exit_code == 1 and "pip install 'embedkit[plot]'" in result.stderr


@needs_matplotlib
@pytest.mark.parametrize("suffix", [".vec", ".bin", ".npy"])
def test_every_vector_format_and_autoencoder_codes(tmp_path, suffix):
    words, vectors, counts = clustered()
    save_vectors(tmp_path / f"v{suffix}", words, vectors, counts)
    result = run("map", tmp_path / f"v{suffix}", "-o", tmp_path / "m.svg")
    assert result.exit_code == 0, result.output
    assert set(words) <= set(svg_texts(tmp_path / "m.svg")[1])
    if suffix == ".vec":
        result = run("autoencode", tmp_path / "v.vec", "--hidden", 3, "--epochs", 2,
                     "-o", tmp_path / "ae.npz", "--codes", tmp_path / "codes.vec")
        assert result.exit_code == 0, result.output
        assert load_vectors(tmp_path / "codes.vec").dim == 3
        result = run("map", tmp_path / "codes.vec", "café3", "-o", tmp_path / "codes.svg")
        assert result.exit_code == 0, result.output
        assert "café3" in svg_texts(tmp_path / "codes.svg")[1]
