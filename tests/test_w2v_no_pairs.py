"""An epoch without a training pair is an error saying why, never a loss of 0 (case 07)."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main
from embedkit.errors import EmbedkitError
from embedkit.text.idcache import IdCache
from embedkit.text.tokenize import Tokenizer
from embedkit.text.vocab import build_vocabulary
from embedkit.w2v.config import Word2VecConfig
from embedkit.w2v.train import train_word2vec

DATA = Path(__file__).parent / "data"
CASE07 = DATA / "case07_one_word_per_line.txt"


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_case07_one_word_per_line_is_an_error_and_writes_nothing(tmp_path, model):
    vectors, log = tmp_path / "v.vec", tmp_path / "log.jsonl"
    result = CliRunner().invoke(main, [
        "train-w2v", str(CASE07), "--model", model, "--min-count", "1", "--subsample", "0",
        "--epochs", "2", "--threads", "1", "--dim", "4", "-o", str(vectors),
        "--log-json", str(log)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("embedkit: error: ")
    assert "case07_one_word_per_line.txt" in lines[0]
    assert "no training pairs" in lines[0] and "--min-count" in lines[0]
    assert "loss" not in result.stderr
    assert not vectors.exists() and not log.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_case07_windows_finds_no_pairs():
    result = CliRunner().invoke(main, ["windows", str(CASE07), "--min-count", "1",
                                       "--subsample", "0"])
    assert result.exit_code == 0 and result.stdout == ""


def test_everything_subsampled_away_is_an_error_naming_subsample(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\n" * 1000)
    result = CliRunner().invoke(main, [
        "train-w2v", str(corpus), "--min-count", "1", "--subsample", "1e-9", "--epochs", "1",
        "--threads", "1", "--dim", "4", "-o", str(tmp_path / "v.vec")])
    assert result.exit_code == 1
    assert "epoch 1 has no training pairs" in result.stderr
    assert "--subsample 1e-09" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.rstrip().endswith(
        ": subsampling (--subsample 1e-09) left no two words of a line; raise --subsample, or "
        "set it to 0 to keep every word")


def test_library_raises_before_any_checkpoint(tmp_path):
    config = Word2VecConfig(min_count=1, subsample=0, epochs=1, threads=1, dim=4)
    checkpoint = tmp_path / "ck.npz"
    with pytest.raises(EmbedkitError, match="no line holds two words of the vocabulary") as info:
        train_word2vec([CASE07], config, checkpoint=checkpoint)
    assert info.value.params == ("min_count",)
    assert not checkpoint.exists()


def test_two_word_lines_train_and_report_a_positive_loss(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta\n" + CASE07.read_text())
    config = Word2VecConfig(min_count=1, subsample=0, epochs=1, threads=1, dim=4)
    seen = []
    trained = train_word2vec([corpus], config, progress=seen.append)
    assert trained.history[0]["pairs"] > 0 and trained.history[0]["loss"] > 0
    assert all(step["loss"] is None or step["loss"] > 0 for step in seen)


def test_id_cache_tells_whether_any_line_has_two_words(tmp_path):
    vocab = build_vocabulary([CASE07], min_count=1)
    cache = IdCache([CASE07], vocab, Tokenizer(), str(tmp_path), 2)
    assert list(cache.epoch()) and not cache.has_pairs()
    corpus = tmp_path / "c.txt"
    corpus.write_text(CASE07.read_text() + "alpha beta\n")
    cache = IdCache([corpus], vocab, Tokenizer(), str(tmp_path), 2)
    list(cache.epoch())
    assert cache.has_pairs()
    assert np.all(np.diff(cache.read(next(cache.epoch())).sentences) >= 0)
