"""embedkit plot: training curves from real --log-json files of train-w2v and autoencode."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.plots import render
from embedkit.plots.curves import read_log

pytestmark = pytest.mark.skipif(not render.plotting_available(),
                                reason="matplotlib (the optional 'plot' extra) is not installed")
CORPUS = "corpora/planted.txt"


def run(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    for name, model, epochs in (("sg", "skipgram", 3), ("cbow", "cbow", 2)):
        result = run("train-w2v", CORPUS, "--model", model, "--dim", 8, "--epochs", epochs,
                     "--threads", 1, "-o", d / f"{name}.npz", "--log-json", d / f"{name}.jsonl")
        assert result.exit_code == 0, result.output
    result = run("autoencode", d / "sg.npz", "--hidden", 3, "--epochs", 4, "--val-split", 0.25,
                 "--l1", 0.05, "-o", d / "ae.npz", "--log-json", d / "ae.jsonl")
    assert result.exit_code == 0, result.output
    result = run("autoencode", d / "sg.npz", "--hidden", 3, "--epochs", 2, "-o", d / "ae2.npz",
                 "--log-json", d / "plain.jsonl")
    assert result.exit_code == 0, result.output
    return d


def svg_ids_and_text(path):
    root = ET.parse(path).getroot()  # also proves the SVG is well-formed XML
    ids = [e.get("id") for e in root.iter() if (e.get("id") or "").startswith("curve-")]
    text = " ".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
    return ids, text


def test_svg_has_one_curve_per_series_and_readable_labels(logs, tmp_path):
    out = tmp_path / "curves.svg"
    result = run("plot", logs / "sg.jsonl", logs / "cbow.jsonl", logs / "ae.jsonl", "-o", out)
    assert result.exit_code == 0, result.output
    ids, text = svg_ids_and_text(out)
    assert sorted(ids) == sorted([
        "curve-0-train", "curve-0-lr", "curve-0-speed", "curve-1-train", "curve-1-lr",
        "curve-1-speed", "curve-2-train", "curve-2-validation", "curve-2-penalised",
        "curve-2-lr"])
    for label in ("sg.jsonl", "cbow.jsonl", "ae.jsonl: validation", "epoch",
                  "loss per training pair", "(nats)", "mean squared error", "learning rate",
                  "corpus words/s", "train-w2v", "autoencode"):
        assert label in text, label


def test_curve_follows_the_logged_losses(logs, tmp_path):
    """The drawn training curve of a run has one vertex per epoch, decreasing like the log."""
    out = tmp_path / "one.svg"
    assert run("plot", logs / "sg.jsonl", "-o", out).exit_code == 0
    root = ET.parse(out).getroot()
    group = next(e for e in root.iter() if e.get("id") == "curve-0-train")
    path = next(e for e in group.iter() if e.tag.endswith("path"))
    ys = [float(p.split()[1]) for p in path.get("d").replace("M", "L").split("L")[1:]]
    losses = [json.loads(line)["loss"] for line in (logs / "sg.jsonl").read_text().splitlines()]
    assert len(ys) == len(losses) == 3
    assert np.all(np.diff(ys) > 0) == np.all(np.diff(losses) < 0)  # SVG y grows downwards


def test_no_speed_panel_without_train_w2v_and_no_validation_curve_without_split(logs, tmp_path):
    out = tmp_path / "ae.svg"
    assert run("plot", logs / "plain.jsonl", "-o", out).exit_code == 0
    ids, text = svg_ids_and_text(out)
    assert sorted(ids) == ["curve-0-lr", "curve-0-train"]
    assert "words/s" not in text and "nats" not in text


def test_png_has_the_size_asked_and_parses(logs, tmp_path):
    from PIL import Image
    out = tmp_path / "c.png"
    result = run("plot", logs / "sg.jsonl", logs / "ae.jsonl", "-o", out, "--size", "640x480")
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.size == (640, 480)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    # the first run's colour (Okabe-Ito blue) is drawn
    blue = np.array([0x00, 0x72, 0xB2])
    assert (np.abs(pixels.astype(int) - blue).sum(axis=1) < 30).sum() > 100


def test_pdf_parses_with_one_page_and_embedded_fonts(logs, tmp_path):
    out = tmp_path / "c.pdf"
    assert run("plot", logs / "cbow.jsonl", "-o", out).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") == 1
    assert b"/FontFile2" in data  # TrueType fonts embedded: every glyph drawn as text


def test_stdin_log(logs, tmp_path):
    out = tmp_path / "stdin.svg"
    result = run("plot", "-", logs / "cbow.jsonl", "-o", out,
                 stdin=(logs / "sg.jsonl").read_text())
    assert result.exit_code == 0, result.output
    ids, text = svg_ids_and_text(out)
    assert "<stdin>" in text and len([i for i in ids if i.endswith("-train")]) == 2


def test_null_and_infinite_values_are_gaps(tmp_path):
    log = tmp_path / "gaps.jsonl"
    log.write_text(
        '{"epoch": 1, "loss": 2.0, "words_per_sec": Infinity, "lr": 0.02}\n'
        '{"epoch": 2, "loss": null, "words_per_sec": 10.0, "lr": 0.01}\n\n'
        '{"epoch": 3, "loss": 1.5, "words_per_sec": 12.0, "lr": null}\n')
    parsed = read_log(log)
    assert np.isnan(parsed.loss[1]) and np.isnan(parsed.words_per_sec[0])
    assert np.isnan(parsed.lr[2]) and parsed.loss[2] == 1.5
    assert run("plot", log, "-o", tmp_path / "gaps.png").exit_code == 0


def test_same_file_names_are_told_apart(logs, tmp_path):
    other = tmp_path / "again"
    other.mkdir()
    (other / "sg.jsonl").write_text((logs / "cbow.jsonl").read_text())
    out = tmp_path / "twice.svg"
    assert run("plot", logs / "sg.jsonl", other / "sg.jsonl", "-o", out).exit_code == 0
    _, text = svg_ids_and_text(out)
    assert str(other / "sg.jsonl") in text and str(logs / "sg.jsonl") in text


@pytest.mark.parametrize("content, words", [
    ("", ["empty.jsonl", "empty log", "train-w2v --log-json"]),
    ("\n\n", ["empty.jsonl", "empty log"]),
    ('{"query": "king", "neighbors": []}\n', ["line 1", "not a per-epoch", "keys: neighbors"]),
    ('{"epoch": 1, "loss": 2, "words_per_sec": 5, "lr": 0.1}\n{"epoch": 2, "loss": 2\n',
     ["line 2", "not JSON"]),
    ('[1, 2]\n', ["line 1", "JSON object"]),
    ('{"epoch": 1, "loss": "high", "words_per_sec": 5, "lr": 0.1}\n',
     ["line 1", "'loss'", "number"]),
    ('{"epoch": 1, "loss": 2, "words_per_sec": 5, "lr": 0.1}\n'
     '{"epoch": 1, "epochs": 2, "train_loss": 1, "train_mse": 1, "val_mse": null, "lr": 1}\n',
     ["line 2", "autoencode record in a log of train-w2v"]),
])
def test_bad_logs_give_one_line_errors(tmp_path, content, words):
    log = tmp_path / "empty.jsonl"
    log.write_text(content)
    out = tmp_path / "never.png"
    result = run("plot", log, "-o", out)
    assert result.exit_code == 1 and not out.exists()
    line = result.stderr.strip()
    assert line.startswith("embedkit: error: ") and "\n" not in line
    for word in words:
        assert word in line, (word, line)


def test_other_bad_uses(logs, tmp_path, monkeypatch):
    result = run("plot", logs / "sg.jsonl", "-o", tmp_path / "c.jpg")
    assert result.exit_code == 1 and ".png, .svg or .pdf" in result.stderr
    result = run("plot", "-", "-", "-o", tmp_path / "c.png", stdin="")
    assert result.exit_code == 2 and "only once" in result.stderr
    result = run("plot", tmp_path / "nope.jsonl", "-o", tmp_path / "c.png")
    assert result.exit_code == 1 and "nope.jsonl: no such file" in result.stderr
    monkeypatch.setattr(render, "plotting_available", lambda: False)
    result = run("plot", logs / "sg.jsonl", "-o", tmp_path / "c.png")
    assert result.exit_code == 1 and "pip install 'embedkit[plot]'" in result.stderr
    assert not (tmp_path / "c.png").exists()


def test_fonts_fall_back_to_one_that_has_the_glyph():
    primary = render.covering_fonts([]).families[0]
    from matplotlib import font_manager
    held = render._charmap(font_manager.findfont(font_manager.FontProperties(family=[primary])))
    # a letter some other installed font has and the default font lacks
    found = next(((name, chr(c)) for name, path in render._candidates().items()
                  for c in sorted(render._charmap(path) - held)
                  if name != primary and chr(c).isalpha()), None)
    if found is None:
        pytest.skip("every installed font's letters are in the default font")
    name, letter = found
    fonts = render.covering_fonts(["abc" + letter])
    assert fonts.families[0] == primary and len(fonts.families) == 2 and not fonts.missing
    assert ord(letter) in render._charmap(render._candidates()[fonts.families[1]])


def test_a_glyph_no_font_has_is_reported(logs, tmp_path):
    # U+10FFFD is a private-use code point: no real font draws it
    log = tmp_path / "run-\U0010fffd.jsonl"
    log.write_text((logs / "sg.jsonl").read_text())
    result = run("plot", log, "-o", tmp_path / "c.png")
    assert result.exit_code == 0
    assert "embedkit: warning: no installed font has glyphs for" in result.stderr
    assert "U+10FFFD" in result.stderr
    quiet = run("plot", logs / "sg.jsonl", "-o", tmp_path / "d.png")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_read_log_reads_a_stream_given_as_dash(logs, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        (logs / "ae.jsonl").read_bytes())))
    parsed = read_log("-")
    assert parsed.command == "autoencode" and parsed.validation is not None
    assert parsed.penalised is not None and len(parsed.epoch) == 4


@pytest.mark.parametrize("size", ["99x600", "900x8001", "100000x100000"])
def test_a_size_outside_100_to_8000_pixels_is_refused_before_drawing(tmp_path, size):
    result = CliRunner().invoke(main, ["plot", str(tmp_path / "missing.jsonl"), "-o",
                                       str(tmp_path / "p.png"), "--size", size])
    assert result.exit_code == 2
    assert "each from 100 to 8000" in result.output
    assert not (tmp_path / "p.png").exists()
