"""embedkit vs gensim on vector files: analogy evaluation, neighbour queries, loading.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_vectors.py [--runs 3]
Both sides use the same BLAS thread limit (BENCH_THREADS, default 2) and the same vectors:
word2vec trained by gensim on ../shared/data/wordnet-glosses.txt.gz (analogies), and random
100,000 x 300 vectors (queries, loading). Prints medians and ratios.

With --sizes (100k,1M,3M): vector files at download size instead (benchmarks/_scale.py): load
time and peak memory against gensim's load_word2vec_format for binary, text and .bin.gz, the
first query with --mmap after `embedkit convert` to .npy, exact and --index query times and the
index's recall@10. The files are generated in --tmp and deleted after each size.
"""

import os

THREADS = os.environ.get("BENCH_THREADS", "2")
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = THREADS

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _gensim_vectors import DATA, trained_vectors  # noqa: E402
from _scale import PARTS, bench_size, parse_size  # noqa: E402
from gensim.models import KeyedVectors as GensimVectors  # noqa: E402

from embedkit.vectors import load_vectors, save_vectors  # noqa: E402
from embedkit.vectors.evaluate import evaluate_analogies  # noqa: E402
from embedkit.vectors.query import parse_query, top_k  # noqa: E402


def median_time(function, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def analogies(workdir, runs):
    path = trained_vectors(os.path.join(workdir, "glosses.bin"))
    questions = str(DATA / "questions-words.txt")
    ours_kv = load_vectors(path)
    theirs_kv = GensimVectors.load_word2vec_format(path, binary=True)
    ours_time, ours = median_time(lambda: evaluate_analogies(ours_kv, questions), runs)
    theirs_time, (_, theirs) = median_time(
        lambda: theirs_kv.evaluate_word_analogies(questions), runs)
    same = [(s.correct, s.total) for s in ours.sections + [ours.overall]] == \
        [(len(t["correct"]), len(t["correct"]) + len(t["incorrect"])) for t in theirs]
    print(f"analogies: 19,544 questions, vocabulary {len(ours_kv)} x {ours_kv.dim}: "
          f"{ours.overall.correct}/{ours.overall.total} correct, {ours.skipped} skipped; "
          f"same results as gensim: {same}")
    print(f"  embedkit {ours_time:.2f} s  gensim {theirs_time:.2f} s  "
          f"speed-up {theirs_time / ours_time:.1f}x")


def queries_and_loading(workdir, runs):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(100_000)]
    path = os.path.join(workdir, "random.bin")
    save_vectors(path, words, rng.standard_normal((100_000, 300)).astype(np.float32))
    ours_time, kv = median_time(lambda: load_vectors(path), runs)
    theirs_time, theirs = median_time(
        lambda: GensimVectors.load_word2vec_format(path, binary=True), runs)
    print(f"load 100,000 x 300 binary: embedkit {ours_time:.2f} s  gensim {theirs_time:.2f} s"
          f"  speed-up {theirs_time / ours_time:.1f}x")
    _ = kv.norms  # computed once after loading, as the commands do
    texts = [f"w{i}" for i in rng.integers(0, 100_000, 1000)]
    queries = [parse_query(kv, t) for t in texts]
    single = []
    for query in queries[:50]:
        start = time.perf_counter()
        top_k(kv, [query], 10)
        single.append(time.perf_counter() - start)
    one = statistics.median(single)
    theirs.fill_norms()
    peer = []
    for text in texts[:50]:
        start = time.perf_counter()
        theirs.most_similar(text, topn=10)
        peer.append(time.perf_counter() - start)
    singles_time, _ = median_time(lambda: [top_k(kv, [q], 10) for q in queries], 1)
    batch_time, _ = median_time(lambda: top_k(kv, queries, 10), runs)
    print(f"one neighbours query (k=10) on 100,000 x 300: {one * 1000:.1f} ms, "
          f"gensim most_similar {statistics.median(peer) * 1000:.1f} ms (medians of 50)")
    print(f"1,000 queries: one batch {batch_time:.2f} s  one at a time {singles_time:.2f} s  "
          f"speed-up {singles_time / batch_time:.1f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", help="vector files at these sizes instead, e.g. 100k,1M,3M")
    parser.add_argument("--formats", default="bin,txt,bin.gz", help="with --sizes")
    parser.add_argument("--index-sizes", default="100k,1M", help="with --sizes: also --index")
    parser.add_argument("--tmp", default="/tmp", help="with --sizes: where files are generated")
    parser.add_argument("--keep", help="with --sizes: generate files into (or reuse them from) "
                        "KEEP/<rows> and leave them, to run the parts separately")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="with --sizes: which of load, mmap, query to run")
    parser.add_argument("--index-options", default="",
                        help="with --sizes: options for `embedkit index`, e.g. '--expansion 64'")
    args = parser.parse_args()
    print(f"BLAS threads: {THREADS}; medians of {args.runs} runs; "
          f"load {os.getloadavg()[0]:.1f}")
    if args.sizes:
        indexed = {parse_size(s) for s in args.index_sizes.split(",") if s}
        for size in args.sizes.split(","):
            rows = parse_size(size)
            bench_size(rows, args.formats.split(","), args.runs, rows in indexed, args.tmp,
                       args.keep, tuple(args.parts.split(",")), tuple(args.index_options.split()))
        return
    with tempfile.TemporaryDirectory() as workdir:
        queries_and_loading(workdir, args.runs)
        analogies(workdir, args.runs)


if __name__ == "__main__":
    main()
