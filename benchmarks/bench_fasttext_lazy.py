"""`neighbors` on a large fastText `.bin`: peak resident memory (own and file-backed), wall and
CPU seconds, for the code of one or more source trees.

Usage::

    .venv/bin/python benchmarks/bench_fasttext_lazy.py --model /tmp/big.bin \\
        --tree lazy=. --tree eager=/tmp/embedkit-eager --repeat 3

The model is generated when ``--model`` does not exist (``--words`` words of 5-12 random
letters, ``--buckets`` n-gram rows, ``--dim`` columns, rows uniform in ±1/dim (blocks of a pool
of 400,000 random rows, each from a random row of it), the output matrix zeros (a hole in the
file, never read by ``neighbors``); the defaults are the shape of Facebook's ``cc.*.300.bin``:
7.2 GB) and kept for the next run. Its pages are read once before the runs, so that every run
finds it in the page cache. Each run is a fresh ``embedkit neighbors MODEL WORD -k 10`` in the
tree's directory, with ``PYTHONPATH`` at it (where embedkit was imported from is checked).
``/proc/PID/status`` is sampled every 20 ms for ``RssAnon`` (the process's own memory: what
composing the word vectors costs) and ``RssFile`` (mapped pages of the file, which the kernel
can drop); CPU seconds are the children's. The trees run in turn, their order alternating from
one repeat to the next; medians are printed with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

MAGIC, VERSION = 793712314, 12
BLOCK_ROWS = 100_000
POOL_ROWS = 400_000


def generate(path: str, words: int, buckets: int, dim: int, seed: int = 1) -> list[str]:
    """Write a fastText model of ``words`` distinct random words; returns the words."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    vocab: dict[str, None] = {}
    while len(vocab) < words:
        lengths = rng.integers(5, 13, words)
        flat = letters[rng.integers(0, 26, int(lengths.sum()))].tobytes().decode()
        ends = np.cumsum(lengths)
        vocab.update(dict.fromkeys(flat[end - n:end] for end, n in
                                   zip(ends.tolist(), lengths.tolist(), strict=True)))
    chosen = list(vocab)[:words]
    with open(path + ".part", "wb") as out:
        out.write(struct.pack("<ii", MAGIC, VERSION))
        out.write(struct.pack("<12id", dim, 5, 5, 5, 5, 1, 2, 2, buckets, 3, 6, 100, 1e-4))
        out.write(struct.pack("<iiiqq", words, words, 0, words, -1))
        record = struct.pack("<qb", 1, 0)
        out.write(b"".join(word.encode() + b"\0" + record for word in chosen))
        out.write(b"\0" + struct.pack("<qq", words + buckets, dim))
        # rows from a pool of POOL_ROWS random rows, each block starting at a random row of
        # it (random numbers for 7 GB cost minutes of CPU on a busy machine)
        pool = ((rng.random((POOL_ROWS + BLOCK_ROWS, dim), dtype=np.float32) - 0.5)
                * np.float32(2 / dim))
        for start in range(0, words + buckets, BLOCK_ROWS):
            rows = min(BLOCK_ROWS, words + buckets - start)
            first = int(rng.integers(0, POOL_ROWS))
            out.write(pool[first:first + rows].tobytes())
        out.write(b"\0" + struct.pack("<qq", words, dim))
        out.truncate(out.tell() + 4 * dim * words)  # zeros, not written: a hole in the file
    os.replace(path + ".part", path)
    return chosen


def _nth(head: bytes, number: int) -> str:
    """The ``number``-th word (from 0) of a dictionary starting ``head``."""
    pos = 0
    for _ in range(number):
        pos = head.index(b"\0", pos) + 1 + 9
    return head[pos:head.index(b"\0", pos)].decode()


def warm(path: str) -> None:
    """Read the file once so that every run finds its pages in the page cache."""
    with open(path, "rb") as stream:
        while stream.read(64 << 20):
            pass


def status_kb(pid: int) -> tuple[int, int]:
    """RssAnon and RssFile of a process in kB (0, 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as stream:
            fields = dict(line.split(":", 1) for line in stream if line.startswith("Rss"))
    except OSError:
        return 0, 0
    return (int(fields.get("RssAnon", "0 kB").split()[0]),
            int(fields.get("RssFile", "0 kB").split()[0]))


def run(tree: str, model: str, word: str) -> dict[str, float]:
    """One ``neighbors`` run with the code of ``tree``: peaks in MiB, seconds."""
    tree = os.path.abspath(tree)
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    start = time.perf_counter()
    # run in the tree: `python -m` puts the working directory first on the path
    child = subprocess.Popen([sys.executable, "-c", "import embedkit, sys; print(embedkit."
                              "__file__, file=sys.stderr); from embedkit.cli import main; "
                              "main()", "neighbors", os.path.abspath(model), word, "-k", "10"],
                             env=env, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    anon = file = 0
    while child.poll() is None:
        a, f = status_kb(child.pid)
        anon, file = max(anon, a), max(file, f)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"{tree}: exit {child.returncode}: {err.decode().strip()}")
    if not err.decode().startswith(os.path.join(tree, "embedkit")):
        raise SystemExit(f"{tree}: embedkit imported from {err.decode().split()[0]}")
    return {"anon": anon / 1024, "file": file / 1024, "wall": wall, "answer": out.decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--words", type=int, default=2_000_000)
    parser.add_argument("--buckets", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--tree", action="append", required=True, help="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not os.path.exists(args.model):
        began = time.perf_counter()
        generate(args.model, args.words, args.buckets, args.dim)
        print(f"generated {args.model}: {os.path.getsize(args.model) / 1e9:.2f} GB in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
    word = _nth(open(args.model, "rb").read(1 << 16)[92:], 1000)
    warm(args.model)
    trees = [tree.split("=", 1) for tree in args.tree]
    print(f"load average before: {os.getloadavg()}", flush=True)
    results: dict[str, list[dict]] = {label: [] for label, _ in trees}
    for repeat in range(args.repeat):
        order = trees if repeat % 2 == 0 else trees[::-1]
        for label, tree in order:
            before = os.times()
            result = run(tree, args.model, word)
            after = os.times()
            result["cpu"] = (after.children_user - before.children_user
                             + after.children_system - before.children_system)
            results[label].append(result)
            print(f"{label}: RssAnon {result['anon']:,.0f} MiB, RssFile "
                  f"{result['file']:,.0f} MiB, wall {result['wall']:.1f} s, CPU "
                  f"{result['cpu']:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    answers = {label: runs[0]["answer"] for label, runs in results.items()}
    print(f"same answers: {len(set(answers.values())) == 1}")
    for label, runs in results.items():
        print(f"{label} medians of {len(runs)}: " + ", ".join(
            f"{key} {statistics.median(r[key] for r in runs):,.1f}"
            for key in ("anon", "file", "wall", "cpu")))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
