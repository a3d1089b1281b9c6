"""Check embedkit's subwords against fastText's own tool and gensim's implementation of it.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/check_fasttext_compat.py [--print]
(needs fasttext-wheel and gensim, benchmarks/requirements.txt). Exits 1 if anything differs:

- the FNV-1a hash of known strings (gensim's ``ft_hash_bytes``, fastText's C++ hash);
- every word's n-gram rows against fastText's ``get_subwords`` on a small model fastText trains
  here (words with multi-byte characters, unseen words);
- that model's ``.bin`` read by embedkit: the same word and unseen-word vectors, bit for bit,
  as fastText's ``get_word_vector``;
- a model embedkit writes (``--format fasttext``) loaded by fastText and by gensim's
  ``load_facebook_model``, with the same vectors for seen and unseen words; and read back by
  embedkit bit-exactly.

``--print`` prints the hashes in the form tests/test_subwords.py holds them;
``--make-test-data`` writes tests/data/fasttext/: a tiny model trained by fastText's tool
(``tiny.bin``) and fastText's vectors of its words and of unseen words (``expected.npz``).
"""

from __future__ import annotations

import os
import sys
import tempfile

import fasttext
import numpy as np
from gensim.models.fasttext import load_facebook_model
from gensim.models.fasttext_inner import ft_hash_bytes

from embedkit.formats import read_table, write_table
from embedkit.text.subwords import Subwords, fnv1a, subword_rows

#: Strings whose hashes the tests pin: ASCII, 2-, 3- and 4-byte characters (bytes >= 0x80 are
#: where fastText's signed char matters), the empty string.
KNOWN = ["", "a", "<wh", "where>", "<é", "naïve", "日本語", "<🙂>", "\x7f", "straße"]
#: A corpus with multi-byte words for fastText to train on.
CORPUS = ("the café serves crème brûlée and naïve coffee to the 日本語 reader with 🙂 "
          "and straße and größe and the garçon ") * 40


def check(label: str, ok: bool) -> bool:
    print(f"{'ok  ' if ok else 'FAIL'} {label}")
    return ok


def train_fasttext(workdir: str, **settings) -> fasttext.FastText._FastText:
    """A tiny model trained by fastText's own tool (quiet, one thread: deterministic)."""
    path = os.path.join(workdir, "corpus.txt")
    with open(path, "w", encoding="utf-8") as out:
        out.write(CORPUS + "\n")
    settings = {"dim": 8, **settings}
    return fasttext.train_unsupervised(path, model="skipgram", epoch=1, minCount=1, thread=1,
                                       verbose=0, **settings)


def main() -> int:
    results = []
    hashes = {text: fnv1a(text) for text in KNOWN}
    results.append(check("FNV-1a of known strings equals gensim's ft_hash_bytes",
                         all(hashes[t] == ft_hash_bytes(t.encode()) for t in KNOWN)))
    if "--print" in sys.argv:
        for text, value in hashes.items():
            print(f"    ({text!r}, {value}),")
    with tempfile.TemporaryDirectory(prefix="embedkit-ft-") as workdir:
        if "--make-test-data" in sys.argv:
            make_test_data(workdir)
        for minn, maxn, bucket in ((3, 6, 2_000_000), (1, 3, 1000), (2, 2, 7)):
            model = train_fasttext(workdir, minn=minn, maxn=maxn, bucket=bucket)
            words = model.words
            settings = Subwords(minn, maxn, bucket)
            indptr, members = subword_rows(words, settings, len(words))
            theirs = [model.get_subwords(word)[1] for word in words]
            results.append(check(
                f"n-gram rows of {len(words)} words, minn {minn} maxn {maxn} bucket {bucket}",
                all(np.array_equal(members[indptr[i]:indptr[i + 1]], ids)
                    for i, ids in enumerate(theirs))))
            unseen = ["brûléé", "日本", "🙂🙂", "x", "größer"]
            indptr, members = subword_rows(unseen, settings, len(words), own_rows=False)
            results.append(check(
                f"n-gram rows of unseen words, minn {minn} maxn {maxn} bucket {bucket}",
                all(np.array_equal(members[indptr[i]:indptr[i + 1]],
                                   model.get_subwords(word)[1])
                    for i, word in enumerate(unseen))))
            results += check_files(workdir, model, unseen)
    return 0 if all(results) else 1


def make_test_data(workdir: str) -> None:
    """A tiny fastText model and fastText's own vectors for tests/test_fasttext_format.py."""
    target = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "fasttext")
    os.makedirs(target, exist_ok=True)
    model = train_fasttext(workdir, minn=2, maxn=4, bucket=50, dim=4)
    model.save_model(os.path.join(target, "tiny.bin"))
    unseen = ["brûléé", "日本", "🙂🙂", "x", "größer"]
    np.savez(os.path.join(target, "expected.npz"), words=np.array(model.words),
             vectors=np.array([model.get_word_vector(w) for w in model.words]),
             unseen_words=np.array(unseen),
             unseen=np.array([model.get_word_vector(w) for w in unseen]))


def check_files(workdir: str, model, unseen: list[str]) -> list[bool]:
    """fastText's file read by embedkit, and embedkit's file read by fastText and gensim."""
    results = []
    theirs_path = os.path.join(workdir, "theirs.model")  # no .bin: found by its magic number
    model.save_model(theirs_path)
    table = read_table(theirs_path, need_words=True)
    assert table.subwords is not None and table.words is not None
    expected = np.array([model.get_word_vector(word) for word in table.words])
    results.append(check(f"fastText's .bin read: {len(table.words)} word vectors bit-exact",
                         table.format == "fasttext" and np.array_equal(table.values, expected)))
    vectors, _ = table.subwords.unseen_vectors(unseen)
    results.append(check("fastText's .bin read: unseen-word vectors bit-exact", np.array_equal(
        vectors, np.array([model.get_word_vector(word) for word in unseen]))))
    ours_path = os.path.join(workdir, "ours.bin")
    write_table(ours_path, table.values, table.words, counts=table.counts, output=table.output,
                subwords=table.subwords, fmt="fasttext")
    again = read_table(ours_path)
    assert again.subwords is not None
    results.append(check("our .bin read back bit-exactly", again.words == table.words
                         and np.array_equal(again.values, table.values)
                         and np.array_equal(again.subwords.ngrams, table.subwords.ngrams)
                         and np.array_equal(again.output, table.output)
                         and np.array_equal(again.counts, table.counts)))
    with open(theirs_path, "rb") as a, open(ours_path, "rb") as b:
        results.append(check("our .bin of fastText's model is byte for byte fastText's file",
                             a.read() == b.read()))
    loaded = fasttext.load_model(ours_path)
    results.append(check("fastText loads our .bin: same words, word and unseen vectors",
                         loaded.words == model.words and all(
                             np.array_equal(loaded.get_word_vector(w), model.get_word_vector(w))
                             for w in table.words + unseen)))
    gensim_model = load_facebook_model(ours_path)
    # gensim gives '</s>' n-grams, which fastText does not: that word is left out
    results.append(check("gensim loads our .bin: same words, word and unseen vectors (1e-6)",
                         gensim_model.wv.index_to_key == table.words and all(
                             np.allclose(gensim_model.wv[w], model.get_word_vector(w),
                                         rtol=1e-6, atol=1e-7)
                             for w in table.words + unseen if w != "</s>")))
    return results


if __name__ == "__main__":
    sys.exit(main())
