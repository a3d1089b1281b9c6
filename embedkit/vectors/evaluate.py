"""The standard intrinsic evaluations: word-pair similarity and analogy accuracy.

Both follow gensim's ``evaluate_word_pairs`` and ``evaluate_word_analogies`` rule for rule, so
their numbers can be compared: only the first ``restrict_vocab`` words are used, words are
compared upper-cased (the first, most frequent, case variant wins), questions or pairs with
an out-of-vocabulary word are skipped and counted, and an analogy ``a b c d`` is right when the
best 3CosAdd answer among the top five (the input rows excluded) that is not ``a``, ``b`` or
``c`` in another case is ``d``. Sections whose name starts with ``gram`` are syntactic, the
others semantic, as in the original word2vec ``compute-accuracy``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from embedkit.errors import EmbedkitError
from embedkit.io import describe, open_input
from embedkit.vectors.keyed import KeyedVectors
from embedkit.vectors.query import Query, top_k

RESTRICT_VOCAB = 300_000
#: gensim looks at this many ranked answers for one that is not a case variant of the question.
ANALOGY_CANDIDATES = 5


@dataclass
class Accuracy:
    """Correct answers out of the questions attempted (all words in the vocabulary)."""

    name: str
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        """``correct / total``, 0 when nothing was attempted (as gensim)."""
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "accuracy": self.accuracy}


@dataclass
class AnalogyResult:
    """Analogy accuracy of one question file."""

    path: str
    sections: list[Accuracy] = field(default_factory=list)
    semantic: Accuracy = field(default_factory=lambda: Accuracy("semantic"))
    syntactic: Accuracy = field(default_factory=lambda: Accuracy("syntactic"))
    overall: Accuracy = field(default_factory=lambda: Accuracy("total"))
    questions: int = 0
    skipped: int = 0

    def as_dict(self) -> dict:
        return {"path": self.path, "questions": self.questions, "skipped": self.skipped,
                "sections": [s.as_dict() for s in self.sections],
                **{s.name: s.as_dict() for s in (self.semantic, self.syntactic, self.overall)}}


@dataclass
class SimilarityResult:
    """Correlation of cosine similarities with human judgements in one pair file."""

    path: str
    pairs: int
    skipped: int
    spearman: float
    spearman_p: float
    pearson: float
    pearson_p: float

    def as_dict(self) -> dict:
        return asdict(self)


def _vocabulary(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """The row of each (upper-cased) word among the first ``restrict_vocab``; first one wins."""
    fold = str.upper if case_insensitive else str
    return {fold(kv.words[row]): row for row in range(min(restrict_vocab, len(kv)) - 1, -1, -1)}


def evaluate_analogies(kv: KeyedVectors, path: str | os.PathLike,
                       restrict_vocab: int = RESTRICT_VOCAB,
                       case_insensitive: bool = True) -> AnalogyResult:
    """Accuracy on a questions-words file (``: section`` lines, then ``a b c d`` lines).

    All questions are answered in batches of matrix products; see the module notes for the
    rules, which are gensim's.

    Raises
    ------
    EmbedkitError
        When a question comes before any section header, or no line is a question.
    """
    name = describe(path)
    vocabulary = _vocabulary(kv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str
    result = AnalogyResult(name)
    rows, owners = [], []
    with open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if line.startswith(": "):
                result.sections.append(Accuracy(line.lstrip(": ").strip()))
                continue
            words = line.split()
            if len(words) != 4:
                continue  # gensim skips malformed lines
            if not result.sections:
                raise EmbedkitError(f"{name}: line {number}: question before any "
                                    f"': section' header")
            result.questions += 1
            found = [vocabulary.get(fold(word)) for word in words]
            if None in found:
                result.skipped += 1
                continue
            rows.append(found)
            owners.append(len(result.sections) - 1)
    if result.questions == 0:
        raise EmbedkitError(f"{name}: no questions found: expected lines 'a b c d' after "
                            f"': section' headers")
    for section, right in zip(owners, _answer(kv, vocabulary, np.array(rows, dtype=np.intp),
                                              restrict_vocab, fold), strict=True):
        result.sections[section].total += 1
        result.sections[section].correct += int(right)
    for section in result.sections:
        group = result.syntactic if section.name.startswith("gram") else result.semantic
        for total in (group, result.overall):
            total.correct += section.correct
            total.total += section.total
    return result


def _answer(kv: KeyedVectors, vocabulary: dict[str, int], questions: np.ndarray,
            restrict_vocab: int, fold) -> np.ndarray:
    """Whether each question (rows a, b, c, d) is answered right, as gensim decides it."""
    if len(questions) == 0:
        return np.zeros(0, dtype=bool)
    end = min(restrict_vocab, len(kv))
    # The row that stands for each candidate's (folded) word: case variants share one.
    canonical = np.array([vocabulary[fold(word)] for word in kv.words[:end]], dtype=np.intp)
    queries = [Query("", (b, c), (a,)) for a, b, c in questions[:, :3].tolist()]
    candidates, _ = top_k(kv, queries, ANALOGY_CANDIDATES, restrict=end)
    present = candidates >= 0
    predicted = np.where(present, canonical[np.where(present, candidates, 0)], -1)
    allowed = present & (predicted[:, :, None] != questions[:, None, :3]).all(axis=2)
    # The first allowed answer; when none is allowed gensim keeps the last one it looked at.
    first = np.where(allowed.any(axis=1), allowed.argmax(axis=1),
                     np.maximum(present.sum(axis=1) - 1, 0))
    return predicted[np.arange(len(questions)), first] == questions[:, 3]


def evaluate_similarity(kv: KeyedVectors, path: str | os.PathLike,
                        restrict_vocab: int = RESTRICT_VOCAB,
                        case_insensitive: bool = True) -> SimilarityResult:
    """Spearman and Pearson correlation with a pair file (``word1<TAB>word2<TAB>score``).

    Lines starting with ``#`` and lines that are not three tab-separated fields with a numeric
    score are ignored; pairs with a word outside the first ``restrict_vocab`` are skipped.

    Raises
    ------
    EmbedkitError
        When no pair can be used.
    """
    name = describe(path)
    vocabulary = _vocabulary(kv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str
    first, second, gold, skipped = [], [], [], 0
    with open_input(path) as stream:
        for line in stream:
            fields = line.split("\t")
            if line.startswith("#") or len(fields) != 3:
                continue
            try:
                score = float(fields[2])
            except ValueError:
                continue
            a, b = vocabulary.get(fold(fields[0])), vocabulary.get(fold(fields[1]))
            if a is None or b is None:
                skipped += 1
                continue
            first.append(a)
            second.append(b)
            gold.append(score)
    if not gold:
        raise EmbedkitError(f"{name}: no usable pairs: expected 'word1<TAB>word2<TAB>score' "
                            f"lines with both words in the first {restrict_vocab} of the "
                            f"vocabulary ({skipped} pairs out of vocabulary)")
    model = _cosines(kv, np.array(first), np.array(second))
    from scipy import stats  # imported here: it costs ~2 s, which queries should not pay

    spearman = stats.spearmanr(gold, model)
    pearson = stats.pearsonr(gold, model)
    return SimilarityResult(name, len(gold), skipped, float(spearman[0]), float(spearman[1]),
                            float(pearson[0]), float(pearson[1]))


def _cosines(kv: KeyedVectors, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine of row pairs, each vector normalised in float64 and rounded to float32 first
    (as gensim's ``unitvec``), the products summed in float64."""
    def unit(rows: np.ndarray) -> np.ndarray:
        vectors = np.asarray(kv.vectors[rows], dtype=np.float64)
        length = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(length > 0, length, 1)).astype(np.float32)
    return np.einsum("ij,ij->i", unit(first).astype(np.float64), unit(second).astype(np.float64))
