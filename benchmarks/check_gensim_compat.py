"""Check that embedkit's vector files and evaluation numbers agree with gensim's.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/check_gensim_compat.py
Exits 1 if anything differs: analogy counts per section (exactly), similarity Spearman and
Pearson (to 1e-6: gensim sums the final cosine in float32), gensim loading our text and
binary files, and embedkit loading gensim's.
"""

import os
import sys
import tempfile

import numpy as np
from _gensim_vectors import DATA, trained_vectors
from gensim.models import KeyedVectors as GensimVectors

from embedkit.vectors import load_vectors, save_vectors
from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity


def check(label, ok):
    print(f"{'ok  ' if ok else 'FAIL'} {label}")
    return ok


def main():
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        path = trained_vectors(os.path.join(workdir, "glosses.bin"), epochs=2)
        ours, theirs = load_vectors(path), GensimVectors.load_word2vec_format(path, binary=True)
        for restrict in (300_000, 3_000):
            mine = evaluate_analogies(ours, DATA / "questions-words.txt", restrict)
            _, sections = theirs.evaluate_word_analogies(str(DATA / "questions-words.txt"),
                                                         restrict_vocab=restrict)
            results.append(check(
                f"analogy counts per section, restrict_vocab={restrict}",
                [(s.name, s.correct, s.total) for s in mine.sections] + [
                    (mine.overall.correct, mine.overall.total)] ==
                [(s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"]))
                 for s in sections[:-1]] + [(len(sections[-1]["correct"]),
                                             len(sections[-1]["correct"])
                                             + len(sections[-1]["incorrect"]))]))
            similarity = evaluate_similarity(ours, DATA / "wordsim353.tsv", restrict)
            pearson, spearman, oov = theirs.evaluate_word_pairs(str(DATA / "wordsim353.tsv"),
                                                                restrict_vocab=restrict)
            results.append(check(
                f"similarity, restrict_vocab={restrict}: spearman {similarity.spearman:.6f} "
                f"vs {spearman[0]:.6f}, pearson {similarity.pearson:.6f} vs {pearson[0]:.6f}",
                abs(similarity.spearman - spearman[0]) < 1e-6
                and abs(similarity.pearson - pearson[0]) < 1e-6
                and similarity.skipped / (similarity.pairs + similarity.skipped) * 100
                == oov))
        for name, binary in (("ours.txt", False), ("ours.bin", True)):
            target = os.path.join(workdir, name)
            save_vectors(target, ours.words, ours.vectors)
            loaded = GensimVectors.load_word2vec_format(target, binary=binary)
            results.append(check(f"gensim loads our {'binary' if binary else 'text'} file",
                                 loaded.index_to_key == ours.words and np.allclose(
                                     loaded.vectors, ours.vectors, rtol=5.1e-6, atol=0)))
        target = os.path.join(workdir, "theirs.txt")
        theirs.save_word2vec_format(target, binary=False)
        results.append(check("embedkit loads gensim's text file",
                             np.array_equal(load_vectors(target).vectors, theirs.vectors)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
