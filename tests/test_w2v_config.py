"""Word2VecConfig: word2vec's defaults filled in per model, and every bound of every
hyper-parameter (the value at the bound accepted, the one past it named in the error)."""

from __future__ import annotations

import math
import os

import pytest

from embedkit.errors import EmbedkitError
from embedkit.text.subwords import MAX_BUCKETS
from embedkit.w2v.config import Word2VecConfig

SUBWORD_LENGTHS = "expected n-gram lengths MIN-MAX with 1 <= MIN <= MAX <= 1023"


def test_defaults_are_filled_in_per_model():
    skipgram = Word2VecConfig().resolved()
    assert (skipgram.lr, skipgram.batch_size, skipgram.min_lr) == (0.025, 1024, 1e-4)
    assert skipgram.threads == (os.cpu_count() or 1)
    cbow = Word2VecConfig(model="cbow").resolved()
    assert (cbow.lr, cbow.batch_size) == (0.05, 384)
    given = Word2VecConfig(model="cbow", lr=0.3, batch_size=7, threads=3).resolved()
    assert (given.lr, given.batch_size, given.threads) == (0.3, 7, 3)
    # a resolved configuration has nothing left to fill in
    assert given.resolved() == given and skipgram.resolved() == skipgram


@pytest.mark.parametrize("field, low", [("dim", 1), ("window", 1), ("negative", 0),
                                        ("epochs", 1), ("min_count", 1), ("batch_size", 1),
                                        ("threads", 1), ("max_vocab", 1)])
def test_each_count_accepts_its_lower_bound_and_names_the_value_below(field, low):
    assert getattr(Word2VecConfig(**{field: low}).resolved(), field) == low
    with pytest.raises(EmbedkitError) as error:
        Word2VecConfig(**{field: low - 1}).resolved()
    assert str(error.value) == f"{field} {low - 1}: expected at least {low}"
    assert error.value.params == (field,)


@pytest.mark.parametrize("changes, message, params", [
    ({"model": "glove"}, "model 'glove': expected one of skipgram, cbow", ("model",)),
    ({"kernel": "x"}, "kernel 'x': expected one of window, pair", ("kernel",)),
    ({"lr": 0.0}, "lr 0.0: expected a finite learning rate > 0", ("lr",)),
    ({"lr": math.nan}, "lr nan: expected a finite learning rate > 0", ("lr",)),
    # it trained, and stopped with 'training diverged (loss nan) at learning rate inf'
    ({"lr": math.inf}, "lr inf: expected a finite learning rate > 0", ("lr",)),
    ({"lr": 0.1, "min_lr": 0.2}, "min_lr 0.2: expected between 0 and lr (0.1)",
     ("min_lr", "lr")),
    ({"min_lr": -1e-5}, "min_lr -1e-05: expected between 0 and lr (0.025)", ("min_lr", "lr")),
    ({"subsample": -0.1}, "subsample -0.1: expected a threshold >= 0", ("subsample",)),
    ({"subsample": math.nan}, "subsample nan: expected a threshold >= 0", ("subsample",)),
    ({"ns_exponent": math.inf}, "ns_exponent inf: expected a finite number", ("ns_exponent",)),
    ({"ns_exponent": math.nan}, "ns_exponent nan: expected a finite number", ("ns_exponent",)),
    ({"minn": 0, "maxn": 3}, f"subwords 0-3: {SUBWORD_LENGTHS}", ("subwords",)),
    ({"minn": 4, "maxn": 3}, f"subwords 4-3: {SUBWORD_LENGTHS}", ("subwords",)),
    ({"minn": 3, "maxn": 1024}, f"subwords 3-1024: {SUBWORD_LENGTHS}", ("subwords",)),
    ({"minn": 3, "maxn": 6, "buckets": 0}, f"buckets 0: expected 1 to {MAX_BUCKETS}",
     ("buckets",)),
    ({"minn": 3, "maxn": 6, "buckets": MAX_BUCKETS + 1},
     f"buckets {MAX_BUCKETS + 1}: expected 1 to {MAX_BUCKETS}", ("buckets",)),
])
def test_bad_values_are_named(changes, message, params):
    with pytest.raises(EmbedkitError) as error:
        Word2VecConfig(**changes).resolved()
    assert str(error.value) == message and error.value.params == params


@pytest.mark.parametrize("changes", [{"min_lr": 0.0}, {"lr": 0.1, "min_lr": 0.1},
                                     {"subsample": 0.0}, {"ns_exponent": -0.5},
                                     {"negative": 0}, {"minn": 1, "maxn": 1},
                                     {"minn": 1023, "maxn": 1023},
                                     {"minn": 3, "maxn": 6, "buckets": 1},
                                     {"minn": 3, "maxn": 6, "buckets": MAX_BUCKETS},
                                     {"buckets": 0}])  # buckets unused without subwords
def test_values_at_the_edges_are_accepted(changes):
    resolved = Word2VecConfig(**changes).resolved()
    assert all(getattr(resolved, k) == v for k, v in changes.items())


# '²-3' and '99999999999-99999999999' were internal errors (int('²'); a length past fastText's
# int32 header field once the model was trained), 3-1024 a model embedkit wrote but refused to
# read back
@pytest.mark.parametrize("value", ["6-3", "x", "0-2", "3-", "-3", "²-3", "3-1024",
                                   "99999999999-99999999999"])
def test_a_bad_subwords_range_is_a_usage_error_naming_the_option(tmp_path, value):
    # It exited 1, as for bad data; an option's bad value exits 2, as Click's own checks do.
    from click.testing import CliRunner

    from embedkit.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 5)
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--subwords", value, "-o",
                                       str(tmp_path / "v.vec")])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"embedkit: error: --subwords {value!r}: {SUBWORD_LENGTHS}, such "
                             "as 3-6\n")
    assert not (tmp_path / "v.vec").exists()


def test_sync_every_without_cluster_is_a_usage_error_naming_both(tmp_path):
    # It was silently ignored: a local run trained as if it had not been given.
    from click.testing import CliRunner

    from embedkit.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 5)
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--sync-every", "100", "-o",
                                       str(tmp_path / "v.vec")])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("embedkit: error: --sync-every sets how often the workers of a "
                             "--cluster merge their changes: give it with --cluster, or leave "
                             "it out\n")
    assert not (tmp_path / "v.vec").exists()


def test_buckets_without_subwords_is_a_usage_error_naming_both(tmp_path):
    # It was silently ignored: plain word2vec trained as if it had not been given.
    from click.testing import CliRunner

    from embedkit.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 5)
    result = CliRunner().invoke(main, ["train-w2v", str(corpus), "--buckets", "100", "-o",
                                       str(tmp_path / "v.vec")])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("embedkit: error: --buckets sets the rows of the n-grams of "
                             "--subwords: give it with --subwords, or leave it out\n")
    assert not (tmp_path / "v.vec").exists()
