"""Building skip-gram training pairs: throughput and memory, against gensim on the same data.

On ../shared/data/wordnet-glosses.txt.gz (1.46M tokens), one BLAS thread and one gensim
worker, in one run:
- vocabulary: embedkit's streaming count vs gensim's ``build_vocab`` over a ``LineSentence``;
- one epoch of skip-gram pairs (window 5, dynamic, subsample 1e-3, min-count 5), including
  reading, tokenising and id mapping, and the pairs alone from ids held in memory;
- the same pairs as train-w2v's later epochs build them, from the ids it cached in epoch 1
  (subsample + windows);
- train-w2v epochs (skip-gram, dim 100, negative 5, 1 and 2 workers) and one gensim epoch
  (1 worker) on the same corpus: the pairs' cost as a fraction of an epoch, for the first
  epoch (from text), the later ones (from cached ids) and on average over 5 epochs (the
  issue's goal: under 10% of a ``train-w2v`` epoch). train-w2v's workers build the pairs of
  their own tasks, so with 2 workers the pairs' single-thread cost is also given as a share
  of both cores' time;
- peak RSS of a subprocess making all pairs of the corpus once and repeated 10 times.
Prints medians of ``--repeats`` runs.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_windows.py [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy or gensim load their BLAS

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from embedkit.text.stream import iter_id_chunks  # noqa: E402
from embedkit.text.subsample import keep_probabilities, subsample_mask  # noqa: E402
from embedkit.text.vocab import build_vocabulary  # noqa: E402
from embedkit.text.windows import iter_windows, skipgram_pairs  # noqa: E402
from embedkit.w2v.train import Word2VecConfig, train_word2vec  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / \
    "wordnet-glosses.txt.gz"
WINDOW = 5

# Run in a fresh interpreter so its peak RSS is the pairs' alone.
MEMORY_PROBE = """
import json, sys
import numpy as np
from embedkit.text.vocab import build_vocabulary
from embedkit.text.windows import iter_windows
paths = sys.argv[1:]
vocab = build_vocabulary(paths)
pairs = sum(len(b.centres) for b in iter_windows(paths, vocab, "skipgram", 5,
                                                 np.random.default_rng(1)))
# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forking parent across exec
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"pairs": pairs, "maxrss_mb": peak_kb / 1024}))
"""


def timed(function, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_memory(paths):
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *map(str, paths)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing")
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    paths = [CORPUS]
    t_vocab, vocab = timed(lambda: build_vocabulary(paths), args.repeats)
    raw_tokens = sum(c.tokens for c in iter_id_chunks(paths, vocab))

    def gensim_vocab():
        model = Word2Vec(vector_size=100, window=WINDOW, min_count=5, sg=1, negative=5,
                         workers=1, seed=1)
        model.build_vocab(LineSentence(str(CORPUS)))
        return model
    t_gensim_vocab, model = timed(gensim_vocab, args.repeats)
    assert len(model.wv) == len(vocab), (len(model.wv), len(vocab))

    def epoch():
        batches = iter_windows(paths, vocab, "skipgram", WINDOW, np.random.default_rng(1))
        return sum(len(b.centres) for b in batches)
    t_epoch, pairs = timed(epoch, args.repeats)

    chunks = [c.select(c.ids >= 0) for c in iter_id_chunks(paths, vocab)]

    def pairs_only():
        rng = np.random.default_rng(1)
        return sum(len(skipgram_pairs(c.ids, c.sentences, WINDOW, rng).centres)
                   for c in chunks)
    t_pairs, unsampled_pairs = timed(pairs_only, args.repeats)

    keep = keep_probabilities(vocab.counts, 1e-3)

    def cached_epoch():
        rng = np.random.default_rng(1)
        return sum(len(skipgram_pairs(c.ids[m], c.sentences[m], WINDOW, rng).centres)
                   for c in chunks for m in [subsample_mask(c.ids, keep, rng)])
    t_cached, _ = timed(cached_epoch, args.repeats)

    def train_epochs(threads):
        """Seconds of train-w2v's first epoch and of its second (from the id cache)."""
        records = []
        train_word2vec(paths, Word2VecConfig(epochs=2, threads=threads), vocab=vocab,
                       callback=records.append)
        first = records[0]["elapsed"]
        return first, records[1]["elapsed"] - first
    trained = {threads: [train_epochs(threads) for _ in range(args.repeats)]
               for threads in (1, 2)}
    epochs = {threads: tuple(statistics.median(r[i] for r in runs) for i in (0, 1))
              for threads, runs in trained.items()}

    def gensim_epoch():
        model.train(LineSentence(str(CORPUS)), total_examples=model.corpus_count, epochs=1)
    t_gensim_epoch, _ = timed(gensim_epoch, args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        tenfold = Path(tmp) / "glosses-x10.txt.gz"
        with gzip.open(CORPUS, "rb") as src:
            data = src.read()
        with gzip.open(tenfold, "wb", compresslevel=1) as dst:
            for _ in range(10):
                dst.write(data)
        del data
        once, ten = peak_memory([CORPUS]), peak_memory([tenfold])

    print(f"corpus: {CORPUS.name}, {raw_tokens / 1e6:.2f} M tokens, vocabulary {len(vocab)} "
          f"(min-count 5); medians of {args.repeats}; 1 BLAS thread, gensim 1 worker")
    print(f"vocabulary      embedkit {t_vocab:6.2f} s ({raw_tokens / t_vocab / 1e6:.2f} M tok/s)"
          f"  gensim build_vocab {t_gensim_vocab:6.2f} s  ratio {t_vocab / t_gensim_vocab:.2f}x")
    print(f"pairs, epoch    {pairs / 1e6:.2f} M pairs in {t_epoch:.2f} s = "
          f"{pairs / t_epoch / 1e6:.2f} M pairs/s ({raw_tokens / t_epoch / 1e6:.2f} M tok/s; "
          f"read + tokenise + ids + subsample + windows)")
    print(f"pairs only      {unsampled_pairs / 1e6:.2f} M pairs (no subsampling) in "
          f"{t_pairs:.2f} s = {unsampled_pairs / t_pairs / 1e6:.2f} M pairs/s")
    print(f"pairs, cached   {t_cached:.2f} s (subsample + windows from ids, as train-w2v's "
          f"epochs 2..n)")
    print(f"gensim epoch    {t_gensim_epoch:.2f} s (skip-gram, dim 100, neg 5, 1 worker): "
          f"embedkit's pairs from text cost {t_epoch / t_gensim_epoch:.0%} of it")
    for threads, (first, later) in epochs.items():
        average = (t_epoch + 4 * t_cached) / (first + 4 * later)
        print(f"train-w2v x{threads}    epoch 1 {first:.2f} s, epochs 2..5 {later:.2f} s: pairs "
              f"cost {t_epoch / first:.0%} of epoch 1, {t_cached / later:.0%} of a later "
              f"epoch, {average:.0%} over 5 epochs"
              # workers build their own pairs: with several, the cost is shared by the cores
              + (f" of the wall time; {average / threads:.0%} of the {threads} cores' time"
                 if threads > 1 else ""))
    print(f"peak RSS        1x corpus {once['maxrss_mb']:.0f} MB ({once['pairs'] / 1e6:.1f} M "
          f"pairs), 10x corpus {ten['maxrss_mb']:.0f} MB ({ten['pairs'] / 1e6:.1f} M pairs)")


if __name__ == "__main__":
    main()
