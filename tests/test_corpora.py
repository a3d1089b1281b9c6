"""The shipped corpora: reproducible from the generator, with recoverable planted structure."""

from pathlib import Path

import numpy as np
import pytest

from embedkit.text.synthetic import generate_sentences, planted_analogies, planted_pairs
from embedkit.text.vocab import build_vocabulary
from embedkit.text.windows import iter_windows

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
PLANTED = CORPORA / "planted.txt"


def test_shipped_planted_corpus_is_the_generators_default_output():
    lines = PLANTED.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 40_000
    assert lines == list(generate_sentences(40_000, np.random.default_rng(1)))


def test_shipped_corpora_are_small_and_documented():
    files = [p for p in CORPORA.iterdir() if p.name != "README.md"]
    assert sum(p.stat().st_size for p in files) < 5_000_000
    readme = (CORPORA / "README.md").read_text(encoding="utf-8")
    assert all(p.name in readme for p in files)


def ppmi_embeddings(paths, vocab, window=4, dim=40):
    """Truncated SVD of the positive PMI matrix: word2vec's implicit factorisation."""
    size = len(vocab)
    counts = np.zeros(size * size)
    for centres, contexts in iter_windows(paths, vocab, "skipgram", window,
                                          np.random.default_rng(1), subsample=0,
                                          dynamic=False):
        counts += np.bincount(centres.astype(np.int64) * size + contexts,
                              minlength=size * size)
    counts = counts.reshape(size, size)
    context_p = counts.sum(0) ** 0.75
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * counts.sum() / counts.sum(1, keepdims=True)
                     / (context_p / context_p.sum() * counts.sum()))
    u, s, _ = np.linalg.svd(np.maximum(pmi, 0))
    vectors = u[:, :dim] * np.sqrt(s[:dim])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def analogy_accuracy(vectors, vocab, questions):
    a, b, c, d = (np.array([vocab.index[q[i]] for q in questions]) for i in range(4))
    scores = (vectors[b] - vectors[a] + vectors[c]) @ vectors.T
    rows = np.arange(len(questions))
    for excluded in (a, b, c):
        scores[rows, excluded] = -np.inf
    return float(np.mean(scores.argmax(axis=1) == d))


@pytest.fixture(scope="module")
def planted_vocab():
    return build_vocabulary([PLANTED])


@pytest.fixture(scope="module")
def planted_vectors(planted_vocab):
    return ppmi_embeddings([PLANTED], planted_vocab)


@pytest.mark.parametrize("relation", ["capital", "gender", "plural"])
def test_planted_analogies_are_recoverable_from_cooccurrence(planted_vocab, planted_vectors,
                                                             relation):
    vectors = planted_vectors
    firsts = {a for a, _ in planted_pairs()[relation]}
    questions = [q for q in planted_analogies() if q[0] in firsts]
    assert analogy_accuracy(vectors, planted_vocab, questions) >= 0.9
    # Control: the same questions with the answers of another pair are not "recovered".
    shuffled = [(a, b, c, questions[(i + 1) % len(questions)][3])
                for i, (a, b, c, _) in enumerate(questions)]
    assert analogy_accuracy(vectors, planted_vocab, shuffled) < 0.2


def test_every_planted_word_is_in_the_vocabulary(planted_vocab):
    words = {w for pairs in planted_pairs().values() for pair in pairs for w in pair}
    assert words <= set(planted_vocab.words)
