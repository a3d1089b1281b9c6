"""Vector files at download size: load time and peak memory against gensim, first query with
--mmap, exact and indexed query times, recall@10 of the index.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_vectors.py \\
         --sizes 100k,1M,3M [--formats bin,txt,bin.gz] [--index-sizes 100k,1M] [--runs 3]

Files are generated into a temporary directory under --tmp (default /tmp) and deleted after each
size: clustered float32 vectors (one centre per 50 words plus noise, so neighbours exist) in
word2vec binary, text and gzipped binary, then the same vectors as .npy + .vocab through
`embedkit convert`. Every figure comes from a separate process: load times are measured inside
it around the load call only; peak memory is the child's maximum resident set as the kernel
reports it to this parent (wait4), which stays small itself (it never holds a matrix). Medians of
--runs, embedkit and gensim alternating, with the load average beside each line. The --index
part needs the 'ann' extra (usearch) in this environment.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

THREADS = os.environ.get("BENCH_THREADS", "2")
ENV = {**os.environ, "OMP_NUM_THREADS": THREADS, "OPENBLAS_NUM_THREADS": THREADS,
       "MKL_NUM_THREADS": THREADS}
DIM = 300
BLOCK = 10_000

LOAD = {
    "embedkit": "from embedkit.vectors import load_vectors\n"
                "t = time.perf_counter(); kv = load_vectors(path)\n",
    "gensim": "from gensim.models import KeyedVectors\n"
              "t = time.perf_counter()\n"
              "kv = KeyedVectors.load_word2vec_format(path, binary=not path.endswith('.txt'))\n",
}

QUERIES = """
import time, sys, json
import numpy as np
from embedkit.vectors import load_vectors
from embedkit.vectors.query import Query, top_k
path, index, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
kv = load_vectors(path, mmap=True)
rng = np.random.default_rng(7)
rows = rng.choice(len(kv), count, replace=False)
queries = [Query(kv.words[r], (int(r),)) for r in rows]
t = time.perf_counter(); kv.norms; norms = time.perf_counter() - t
single = []
for q in queries[:5]:
    t = time.perf_counter(); top_k(kv, [q], 10); single.append(time.perf_counter() - t)
t = time.perf_counter(); exact, _ = top_k(kv, queries, 10); batch = time.perf_counter() - t
out = {"norms": norms, "exact_single": float(np.median(single)), "exact_batch": batch / count}
if index != "-":
    from embedkit.vectors.ann import VectorIndex
    t = time.perf_counter(); ix = VectorIndex(index, kv); out["open"] = time.perf_counter() - t
    lat = []
    for q in queries:
        t = time.perf_counter(); ix.top_k([q], 10); lat.append(time.perf_counter() - t)
    found, _ = ix.top_k(queries, 10)
    out["index_single"] = float(np.median(lat))
    out["recall"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))
print(json.dumps(out))
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def load_average() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _forget_own_peak() -> None:
    """Reset this process's peak RSS: a child spawned by vfork and exec inherits the parent's
    high-water mark into its ru_maxrss (the kernel keeps the old address space's peak)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def run_child(code: str, *args: str) -> tuple[str, float, float]:
    """Run Python code in a child; returns its stdout, wall seconds and peak RSS in MB."""
    _forget_own_peak()
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                             env=ENV, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"child failed ({child.returncode}): {code[:80]!r} {args}")
    return out, wall, usage.ru_maxrss / 1024


def run_command(*command: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command, from this parent."""
    _forget_own_peak()
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {' '.join(command)}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def generate(directory: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """Write the same clustered vectors in each format, block by block."""
    from embedkit.formats import word2vec

    rng = np.random.default_rng(1)
    centres = rng.standard_normal((max(1, rows // 50), DIM)).astype(np.float32)
    paths = {fmt: directory / f"v{rows}.{fmt}" for fmt in formats}
    import gzip

    outs = {fmt: (gzip.open(p, "wb", compresslevel=1) if fmt.endswith(".gz") else open(p, "wb"))
            for fmt, p in paths.items()}
    try:
        for out in outs.values():
            out.write(f"{rows} {DIM}\n".encode())
        for start in range(0, rows, BLOCK):
            size = min(BLOCK, rows - start)
            block = (centres[rng.integers(0, len(centres), size)]
                     + 0.5 * rng.standard_normal((size, DIM)).astype(np.float32))
            words = [f"w{i}" for i in range(start, start + size)]
            for fmt, out in outs.items():
                writer = word2vec.write_text if fmt == "txt" else word2vec.write_binary
                writer(out, words, block)
    finally:
        for out in outs.values():
            out.close()
    return paths


def bench_size(rows: int, formats: list[str], runs: int, with_index: bool, tmp: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-vectors-", dir=tmp) as workdir:
        directory = Path(workdir)
        start = time.perf_counter()
        paths = generate(directory, rows, formats)
        matrix_mb = rows * DIM * 4 / 2**20
        print(f"\n{rows:,} x {DIM} ({matrix_mb:,.0f} MB of float32), generated in "
              f"{time.perf_counter() - start:.0f} s; {load_average()}", flush=True)
        for fmt, path in paths.items():
            figures: dict[str, list[tuple[float, float]]] = {"embedkit": [], "gensim": []}
            for _ in range(runs):
                for name, code in LOAD.items():
                    code = ("import time, sys\npath = sys.argv[1]\n" + code
                            + "print(time.perf_counter() - t)\n")
                    out, _, peak = run_child(code, str(path))
                    figures[name].append((float(out), peak))
            ours = [statistics.median(v) for v in zip(*figures["embedkit"], strict=True)]
            theirs = [statistics.median(v) for v in zip(*figures["gensim"], strict=True)]
            print(f"  load .{fmt:<6} ({path.stat().st_size / 2**20:,.0f} MB): embedkit "
                  f"{ours[0]:.1f} s, peak {ours[1]:,.0f} MB ({ours[1] / matrix_mb:.2f}x matrix) | "
                  f"gensim {theirs[0]:.1f} s, peak {theirs[1]:,.0f} MB | time ratio "
                  f"{ours[0] / theirs[0]:.2f}, memory ratio {ours[1] / theirs[1]:.2f}; "
                  f"{load_average()}", flush=True)
        source = paths.get("bin") or next(iter(paths.values()))
        npy = directory / f"v{rows}.npy"
        embedkit = str(Path(sys.executable).with_name("embedkit"))
        wall, peak = run_command(embedkit, "convert", str(source), str(npy))
        for path in paths.values():
            path.unlink()
        print(f"  convert {source.name} -> .npy + .vocab: {wall:.1f} s, peak {peak:,.0f} MB; "
              f"{load_average()}", flush=True)
        first = [run_command(embedkit, "neighbors", str(npy), "--mmap", "w12345", "-k", "10")
                 for _ in range(runs)]
        print(f"  neighbors --mmap, first query, whole command: "
              f"{statistics.median(w for w, _ in first):.2f} s, peak RSS "
              f"{statistics.median(p for _, p in first):,.0f} MB (page cache warm); "
              f"{load_average()}", flush=True)
        index = "-"
        if with_index:
            index = str(directory / f"v{rows}.index")
            wall, peak = run_command(embedkit, "index", str(npy), "--mmap", "-o", index)
            print(f"  index build: {wall:.0f} s, peak {peak:,.0f} MB, file "
                  f"{Path(index).stat().st_size / 2**20:,.0f} MB; {load_average()}", flush=True)
        out, _, peak = run_child(QUERIES, str(npy), index, "200")
        import json

        result = json.loads(out)
        line = (f"  exact (mmap): norms {result['norms']:.2f} s once, one query "
                f"{result['exact_single'] * 1e3:.0f} ms, batched {result['exact_batch'] * 1e3:.1f}"
                f" ms/query")
        if with_index:
            line += (f" | --index: open {result['open'] * 1e3:.0f} ms, one query "
                     f"{result['index_single'] * 1e3:.2f} ms, recall@10 {result['recall']:.3f}")
        print(f"{line}; {load_average()}", flush=True)
