"""Check embedkit's subwords against fastText's own tool and gensim's implementation of it.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/check_fasttext_compat.py [--print]
(needs fasttext-wheel and gensim, benchmarks/requirements.txt). Exits 1 if anything differs:

- the FNV-1a hash of known strings (gensim's ``ft_hash_bytes``, fastText's C++ hash);
- every word's n-gram rows against fastText's ``get_subwords`` on a small model fastText trains
  here (words with multi-byte characters, an unseen word);

``--print`` prints the hashes in the form tests/test_subwords.py holds them.
"""

from __future__ import annotations

import os
import sys
import tempfile

import fasttext
import numpy as np
from gensim.models.fasttext_inner import ft_hash_bytes

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
    return fasttext.train_unsupervised(path, model="skipgram", dim=8, epoch=1, minCount=1,
                                       thread=1, verbose=0, **settings)


def main() -> int:
    results = []
    hashes = {text: fnv1a(text) for text in KNOWN}
    results.append(check("FNV-1a of known strings equals gensim's ft_hash_bytes",
                         all(hashes[t] == ft_hash_bytes(t.encode()) for t in KNOWN)))
    if "--print" in sys.argv:
        for text, value in hashes.items():
            print(f"    ({text!r}, {value}),")
    with tempfile.TemporaryDirectory(prefix="embedkit-ft-") as workdir:
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
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
