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

import contextlib
import os
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.formats.delimited import is_number
from embedkit.io import describe, open_input
from embedkit.streaming import is_mapped
from embedkit.text.tokenize import normalize_word
from embedkit.vectors.keyed import KeyedVectors
from embedkit.vectors.query import Query, top_k

RESTRICT_VOCAB = 300_000
#: What happens to questions and pairs with words outside the vocabulary: skipped, or (subword
#: models) scored with the words' n-gram vectors.
OOV_RULES = ("skip", "ngrams")
#: gensim looks at this many ranked answers for one that is not a case variant of the question.
ANALOGY_CANDIDATES = 5


@dataclass
class Accuracy:
    """Correct answers out of the questions attempted (all words in the vocabulary)."""

    name: str
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float | None:
        """``correct / total``, None (``null`` in JSON) when nothing was attempted: 0 of 0 is
        no accuracy (gensim says 0.0, which reads as every answer wrong)."""
        return self.correct / self.total if self.total else None

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
    ignored: int = 0
    from_ngrams: int = 0

    def as_dict(self) -> dict:
        return {"path": self.path, "questions": self.questions, "skipped": self.skipped,
                "from_ngrams": self.from_ngrams, "ignored": self.ignored,
                "sections": [s.as_dict() for s in self.sections],
                **{s.name: s.as_dict() for s in (self.semantic, self.syntactic, self.overall)}}


@dataclass
class SimilarityResult:
    """Correlation of cosine similarities with human judgements in one pair file.

    A correlation is None (``null`` in JSON) when it is undefined: fewer than two usable pairs,
    or the human scores (or the model's similarities) all equal; ``note`` says which. A
    p-value is None too with fewer than three pairs.
    """

    path: str
    pairs: int
    skipped: int
    spearman: float | None
    spearman_p: float | None
    pearson: float | None
    pearson_p: float | None
    layout: str = ""
    ignored: int = 0
    note: str | None = None
    from_ngrams: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairLayout:
    """How a word-pair file is laid out: delimiter, header, and the columns used (0-based)."""

    delimiter: str | None
    header: list[str] | None
    pair_columns: tuple[int, int]
    score_column: int

    def split(self, line: str) -> list[str]:
        """The fields of a line."""
        if self.delimiter is None:
            return line.split()
        return [field.strip() for field in line.split(self.delimiter)]

    def describe(self) -> str:
        """How the file was read, in words."""
        delimited = {"\t": "tab", ",": "comma", None: "space"}[self.delimiter] + "-separated"
        header = "no header" if self.header is None else "a header line"
        a, b = self.pair_columns
        score = f"scores in column {self.score_column + 1}"
        if self.header is not None and self.score_column < len(self.header):
            score += f" ({self.header[self.score_column]})"
        return f"{delimited}, {header}, words in columns {a + 1} and {b + 1}, {score}"


def _vocabulary(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """The row of each (upper-cased) word among the first ``restrict_vocab``; first one wins."""
    fold = str.upper if case_insensitive else str
    words = kv.words[:restrict_vocab]  # a list, also of a mapped matrix's words kept as text
    return {fold(words[row]): row for row in range(len(words) - 1, -1, -1)}


def evaluate_analogies(kv: KeyedVectors, path: str | os.PathLike,
                       restrict_vocab: int = RESTRICT_VOCAB,
                       case_insensitive: bool = True, oov: str = "skip") -> AnalogyResult:
    """Accuracy on a questions-words file (``: section`` lines, then ``a b c d`` lines).

    All questions are answered in batches of matrix products; see the module notes for the
    rules, which are gensim's. With ``oov="ngrams"`` and a subword model, a question with
    words outside the vocabulary is answered with their n-gram vectors (fastText's) instead
    of being skipped, and counted in ``from_ngrams``; such a word is never an answer.

    Raises
    ------
    EmbedkitError
        When a question comes before any section header, or no line is a question.
    """
    name = describe(path)
    vocabulary = _vocabulary(kv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str
    result = AnalogyResult(name)
    questions: list[tuple[int, list[str]]] = []  # (section, words)
    with open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if line.startswith(":"):
                result.sections.append(Accuracy(line[1:].strip()))
                continue
            words = normalize_word(line).split()
            if len(words) != 4:
                result.ignored += not line.isspace() and bool(line)  # gensim skips them too
                continue
            if not result.sections:
                raise EmbedkitError(f"{name}: line {number}: question before any "
                                    f"': section' header")
            questions.append((len(result.sections) - 1, words))
    result.questions = len(questions)
    if result.questions == 0:
        raise EmbedkitError(f"{name}: no questions found: expected lines 'a b c d' after "
                            f"': section' headers")
    _compose_unseen(kv, vocabulary, [w for _, words in questions for w in words], fold, oov,
                    case_insensitive)
    rows, owners = [], []
    for owner, words in questions:
        found = _rows(kv, vocabulary, words, fold, oov, case_insensitive)
        if None in found:
            result.skipped += 1
            continue
        result.from_ngrams += any(row is not None and row >= len(kv) for row in found)
        rows.append(found)
        owners.append(owner)
    for owner, right in zip(owners, _answer(kv, vocabulary, np.array(rows, dtype=np.intp),
                                            restrict_vocab, fold), strict=True):
        result.sections[owner].total += 1
        result.sections[owner].correct += int(right)
    for section in result.sections:
        group = result.syntactic if section.name.startswith("gram") else result.semantic
        for tally in (group, result.overall):
            tally.correct += section.correct
            tally.total += section.total
    return result


def _compose_unseen(kv: KeyedVectors, vocabulary: dict[str, int], words: list[str], fold,
                    oov: str, case_insensitive: bool) -> None:
    """With ``oov`` ngrams, compose the n-gram vectors of all ``words`` outside the vocabulary
    at once (:meth:`KeyedVectors.compose_unseen`), before :func:`_rows` looks them up."""
    _check_oov(oov)
    if oov == "ngrams" and kv.subwords is not None:
        kv.compose_unseen([word.lower() if case_insensitive else word for word in words
                           if fold(word) not in vocabulary])


def _check_oov(oov: str) -> None:
    if oov not in OOV_RULES:
        raise EmbedkitError(f"oov {oov!r}: expected one of {', '.join(OOV_RULES)}",
                            params=("oov",))


def _rows(kv: KeyedVectors, vocabulary: dict[str, int], words: list[str], fold, oov: str,
          case_insensitive: bool) -> list[int | None]:
    """The row of each word; for words outside the vocabulary None, or with ``oov`` ngrams
    a row from their n-grams (lower-cased when comparing case-insensitively, as corpora
    are), None when they have none."""
    _check_oov(oov)
    found = [vocabulary.get(fold(word)) for word in words]
    if oov == "ngrams" and kv.subwords is not None:
        for i, row in enumerate(found):
            if row is None:
                with contextlib.suppress(EmbedkitError):
                    found[i] = kv.ngram_row(words[i].lower() if case_insensitive else words[i])
    return found


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


def read_pairs(path: str | os.PathLike, pair_columns: tuple[int, int] | None = None,
               score_column: int | None = None
               ) -> tuple[list[tuple[str, str, float]], PairLayout, list[int]]:
    """The word pairs and scores of a similarity file, and how it is laid out.

    Lines starting with ``#`` and blank lines are skipped. The delimiter is a tab, else a comma,
    else runs of spaces, as the first data line shows; that line is a header when none of its
    fields is a number (SimLex-999's original file). The words are in ``pair_columns`` (1-based;
    default 1 and 2) and the score in ``score_column`` (1-based; default: the first column after
    the words that holds a number on the first data line: SimLex-999's fourth, after its POS
    column). Words are NFC-normalised.

    Returns
    -------
    pairs : list of (word1, word2, score)
    layout : PairLayout
    ignored : list of int
        The line numbers of data lines without the columns or a numeric score (skipped, as
        gensim skips them).

    Raises
    ------
    EmbedkitError
        For columns that are not positive or distinct, or when no column holds scores.
    """
    name = describe(path)
    if pair_columns is not None and (min(pair_columns) < 1 or len(set(pair_columns)) != 2):
        raise ParameterError(f"pair_columns must be two different positive column numbers, "
                             f"got {','.join(map(str, pair_columns))}", params=("pair_columns",))
    if score_column is not None and score_column < 1:
        raise ParameterError(f"score_column must be a positive column number, got "
                             f"{score_column}", params=("score_column",))
    with open_input(path) as stream:
        lines = [(number, line) for number, line in enumerate(stream, start=1)
                 if line.strip() and not line.startswith("#")]
    if not lines:
        raise EmbedkitError(f"{name}: no word pairs: expected lines 'word1 word2 score'")
    first = lines[0][1]
    delimiter = "\t" if "\t" in first else "," if "," in first else None
    words = (0, 1) if pair_columns is None else (pair_columns[0] - 1, pair_columns[1] - 1)
    probe = PairLayout(delimiter, None, words, 0)
    fields_of_first = probe.split(first)
    header: list[str] | None = fields_of_first
    if any(is_number(field) for field in fields_of_first):
        header = None
    else:
        lines = lines[1:]
    if score_column is not None:
        score = score_column - 1
    else:
        fields = probe.split(lines[0][1]) if lines else []
        score = next((column for column in range(max(words) + 1, len(fields))
                      if is_number(fields[column])), -1)
        if score < 0:
            raise EmbedkitError(f"{name}: line {lines[0][0] if lines else 1}: no column after "
                                f"the words holds a number: give score_column",
                                params=("score_column",))
    layout = PairLayout(delimiter, header, words, score)
    needed = max(*words, score) + 1
    pairs, ignored = [], []
    for number, line in lines:
        fields = layout.split(line)
        if len(fields) < needed or not is_number(fields[score]):
            ignored.append(number)
            continue
        pairs.append((normalize_word(fields[words[0]]), normalize_word(fields[words[1]]),
                      float(fields[score])))
    return pairs, layout, ignored


def evaluate_similarity(kv: KeyedVectors, path: str | os.PathLike,
                        restrict_vocab: int = RESTRICT_VOCAB,
                        case_insensitive: bool = True,
                        pair_columns: tuple[int, int] | None = None,
                        score_column: int | None = None, oov: str = "skip") -> SimilarityResult:
    """Spearman and Pearson correlation with a word-pair file read by :func:`read_pairs`.

    Pairs with a word outside the first ``restrict_vocab`` are skipped and counted (with
    ``oov="ngrams"`` and a subword model, scored with the n-gram vectors of those words and
    counted in ``from_ngrams``, as :func:`evaluate_analogies`). With fewer
    than two usable pairs, or constant human (or model) scores, the correlations are undefined:
    None, and ``note`` says why; p-values need three pairs.

    Raises
    ------
    EmbedkitError
        When no pair can be used, or as :func:`read_pairs`; for a NaN or infinite entry in
        any row of a memory-mapped matrix, naming it (as loading one in memory does).
    """
    if is_mapped(kv.vectors):
        # Loading a matrix in memory refuses a non-finite row that no pair uses; a mapped one
        # is checked here instead, by its norms (every row, or the stored norms' bad ones).
        kv.norms  # noqa: B018
    name = describe(path)
    vocabulary = _vocabulary(kv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else str
    pairs, layout, ignored = read_pairs(path, pair_columns, score_column)
    _compose_unseen(kv, vocabulary, [w for a, b, _ in pairs for w in (a, b)], fold, oov,
                    case_insensitive)
    first, second, gold, skipped, from_ngrams = [], [], [], 0, 0
    for word_a, word_b, score in pairs:
        a, b = _rows(kv, vocabulary, [word_a, word_b], fold, oov, case_insensitive)
        if a is None or b is None:
            skipped += 1
            continue
        from_ngrams += a >= len(kv) or b >= len(kv)
        first.append(a)
        second.append(b)
        gold.append(score)
    read = layout.describe()
    if ignored:
        read += (f"; {len(ignored)} lines without a numeric score ignored (first: line "
                 f"{ignored[0]})")
    if not gold:
        raise EmbedkitError(f"{name}: no usable pairs ({read}; {skipped} pairs out of the first "
                            f"{restrict_vocab} words of the vocabulary)")
    model = _cosines(kv, np.array(first), np.array(second))
    result = SimilarityResult(name, len(gold), skipped, None, None, None, None, read,
                              len(ignored), from_ngrams=from_ngrams)
    result.note = _undefined(np.asarray(gold, dtype=np.float64), model)
    if result.note is None:
        result.spearman, result.spearman_p, result.pearson, result.pearson_p = \
            _correlations(np.asarray(gold, dtype=np.float64), model)
    return result


def _undefined(gold: np.ndarray, model: np.ndarray) -> str | None:
    """Why no correlation of the two can be computed, or None."""
    if len(gold) < 2:
        return "one usable pair: a correlation needs two"
    if np.all(gold == gold[0]):
        return f"the human scores are all equal ({gold[0]:g}): the correlation is undefined"
    if np.all(model == model[0]):
        return "the model's similarities are all equal: the correlation is undefined"
    return None


def _correlations(gold: np.ndarray, model: np.ndarray
                  ) -> tuple[float | None, float | None, float | None, float | None]:
    """Spearman's rho and Pearson's r with their two-sided p-values (None below three pairs),
    by SciPy (``spearmanr``, ``pearsonr``), as gensim computes them."""
    from scipy import stats  # imported here: it costs ~2 s, which queries should not pay

    with warnings.catch_warnings():
        # The understood cases (constant input, too few pairs) never get here.
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(gold, model)
        pearson = stats.pearsonr(gold, model)
    enough = len(gold) >= 3
    return (_finite(spearman[0]), _finite(spearman[1]) if enough else None,
            _finite(pearson[0]), _finite(pearson[1]) if enough else None)


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _cosines(kv: KeyedVectors, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine of row pairs, each vector normalised in float64 and rounded to float32 first
    (as gensim's ``unitvec``), the products summed in float64."""
    def unit(rows: np.ndarray) -> np.ndarray:
        vectors = kv.row_vectors(rows).astype(np.float64)
        length = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(length > 0, length, 1)).astype(np.float32)
    return np.einsum("ij,ij->i", unit(first).astype(np.float64), unit(second).astype(np.float64))
