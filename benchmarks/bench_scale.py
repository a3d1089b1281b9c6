"""train-w2v at scale: peak memory stays bounded by the vocabulary as the corpus grows.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_scale.py [--sizes-mb 100 1000]

Generates synthetic Zipfian corpora (an 80,000-word vocabulary, word ranks drawn with
probability ∝ 1/rank, lines of 10-30 words) of each size in a temporary directory (never
kept), then runs ``embedkit train-w2v CORPUS --threads 2 --epochs 1 --dim 100 -o v.bin`` on
each in a fresh process. Memory is sampled every 0.1 s as the PSS (proportional set size:
shared pages split between the processes sharing them, so the matrices the worker processes
share are counted once) summed over the process tree, and its peak is reported with the
parent's own peak RSS and corpus words per second (wall, vocabulary pass included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import psutil

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

VOCABULARY = 80_000
TOKENS_PER_BLOCK = 2_000_000


def write_zipf_corpus(path: str, megabytes: float, rng: np.random.Generator) -> int:
    """Write about ``megabytes`` MB of Zipfian text to ``path``; returns the word count."""
    ranks = np.arange(1, VOCABULARY + 1)
    cdf = np.cumsum(1.0 / ranks)
    cdf /= cdf[-1]
    words = [f"w{np.base_repr(i, 36).lower()}" for i in range(VOCABULARY)]
    # one table of "word " and one of "word\n": a line ends where the second is used
    table = [w.encode() + b" " for w in words] + [w.encode() + b"\n" for w in words]
    target, written, count = megabytes * 1e6, 0, 0
    with open(path, "wb") as out:
        while written < target:
            ids = np.searchsorted(cdf, rng.random(TOKENS_PER_BLOCK))
            ends = np.cumsum(rng.integers(10, 31, TOKENS_PER_BLOCK // 10)) - 1
            ends = ends[ends < TOKENS_PER_BLOCK]
            ids = ids[:ends[-1] + 1]
            ids[ends] += VOCABULARY
            block = b"".join(map(table.__getitem__, ids.tolist()))
            out.write(block)
            written += len(block)
            count += len(ids)
    return count


def tree_pss(process: psutil.Process) -> int:
    """PSS in bytes of a process and all its descendants (0 for those already gone)."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def train(corpus: str, out: str) -> dict:
    """Run train-w2v on ``corpus``; wall seconds, peak tree PSS and parent peak RSS (MB)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "embedkit", "train-w2v", corpus,
                              "--threads", "2", "--epochs", "1", "--dim", "100", "-o", out],
                             stderr=subprocess.PIPE, text=True)
    process, peak, parent_rss = psutil.Process(child.pid), 0, 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_pss(process))
            parent_rss = max(parent_rss, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    stderr = child.communicate()[1]
    if child.returncode:
        sys.exit(f"bench_scale: train-w2v failed:\n{stderr}")
    return {"seconds": time.perf_counter() - start, "pss_mb": peak / 2**20,
            "rss_mb": parent_rss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 1000],
                        help="corpus sizes to generate (MB)")
    options = parser.parse_args()
    print(f"{'corpus MB':>9} {'words':>12} {'gen s':>6} {'train s':>8} {'words/s':>9} "
          f"{'tree PSS MB':>11} {'parent RSS MB':>13}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for size in options.sizes_mb:
            corpus = os.path.join(tmp, "zipf.txt")
            started = time.perf_counter()
            words = write_zipf_corpus(corpus, size, np.random.default_rng(1))
            generated = time.perf_counter() - started
            result = train(corpus, os.path.join(tmp, "v.bin"))
            print(f"{os.path.getsize(corpus) / 1e6:9.0f} {words:12,d} {generated:6.0f} "
                  f"{result['seconds']:8.0f} {words / result['seconds']:9,.0f} "
                  f"{result['pss_mb']:11.0f} {result['rss_mb']:13.0f}", flush=True)
            os.remove(corpus)


if __name__ == "__main__":
    main()
