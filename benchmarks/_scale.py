"""Vector files at download size: load time and peak memory against gensim, first query with
--mmap, exact and indexed query times, recall@10 of the index.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_vectors.py \\
         --sizes 100k,1M,3M [--formats bin,txt,bin.gz] [--index-sizes 100k,1M] [--runs 3]

Files are generated into a temporary directory under --tmp (default /tmp) and deleted after each
size: clustered float32 vectors (one centre per 50 words plus noise, so neighbours exist) in
word2vec binary, text and gzipped binary, then the same vectors as .npy + .vocab through
`embedkit convert`. Every figure comes from a separate process: load times are measured inside
it around the load call only; peak memory is the child's maximum resident set and its CPU time
(user + system, all threads, the whole process) as the kernel reports them to /usr/bin/time,
which starts it (a child of this process would inherit this process's peak). Medians of --runs,
embedkit and gensim alternating (round robin), each run printed as it ends with the load
average; under load, CPU seconds are the steadier figure (wall time includes waiting). The
--index part needs the 'ann' extra (usearch) in this environment.

With --keep DIR the files are generated into DIR/<rows> (or reused from there) and kept, and
--parts load,mmap,query picks what to run, so that each part fits its own quiet window.
"""

from __future__ import annotations

import json
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
                "t = time.perf_counter(); kv = load_vectors(path)\n"
                "took = time.perf_counter() - t\n"
                "print(took, sys.getsizeof(kv.words) + sum(map(sys.getsizeof, kv.words)))\n",
    "gensim": "from gensim.models import KeyedVectors\n"
              "t = time.perf_counter()\n"
              "kv = KeyedVectors.load_word2vec_format(path, binary=not path.endswith('.txt'))\n"
              "print(time.perf_counter() - t, 0)\n",
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
single, single_cpu = [], []
for q in queries[:5]:
    t, c = time.perf_counter(), time.process_time()
    top_k(kv, [q], 10)
    single.append(time.perf_counter() - t); single_cpu.append(time.process_time() - c)
t, c = time.perf_counter(), time.process_time()
exact, _ = top_k(kv, queries, 10)
batch, batch_cpu = time.perf_counter() - t, time.process_time() - c
out = {"norms": norms, "exact_single": float(np.median(single)), "exact_batch": batch / count,
       "exact_single_cpu": float(np.median(single_cpu)), "exact_batch_cpu": batch_cpu / count}
if index != "-":
    from embedkit.vectors.ann import VectorIndex
    t = time.perf_counter(); ix = VectorIndex(index, kv); out["open"] = time.perf_counter() - t
    lat, lat_cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        ix.top_k([q], 10)
        lat.append(time.perf_counter() - t); lat_cpu.append(time.process_time() - c)
    found, _ = ix.top_k(queries, 10)
    out["index_single"] = float(np.median(lat))
    out["index_single_cpu"] = float(np.median(lat_cpu))
    out["recall"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]))
print(json.dumps(out))
"""


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def load_average() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _measured(command: list[str], **popen) -> tuple[subprocess.Popen, str]:
    """Start ``command`` under /usr/bin/time, which reports its peak RSS and CPU time: a child
    started from this process directly would inherit this process's resident size into its
    ru_maxrss (the kernel keeps the peak of the address space that exec replaces), and this
    process holds gensim and NumPy."""
    report = tempfile.NamedTemporaryFile(prefix="vecscale-rss-", suffix=".txt", delete=False)
    report.close()
    child = subprocess.Popen(["/usr/bin/time", "-o", report.name, "-f", "%M %U %S", *command],
                             env=ENV, **popen)
    return child, report.name


def _usage(report: str) -> tuple[float, float]:
    """Peak RSS in MB and CPU seconds (user + system) from /usr/bin/time's report."""
    with open(report) as lines:
        peak, user, system = map(float, lines.read().split()[-3:])
    os.unlink(report)
    return peak / 1024, user + system


def run_child(code: str, *args: str) -> tuple[str, float, float, float]:
    """Run Python code in a child; returns its stdout, wall seconds, peak RSS in MB and CPU
    seconds."""
    start = time.perf_counter()
    child, report = _measured([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                              text=True)
    out, _ = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"child failed ({child.returncode}): {code[:80]!r} {args}")
    return out, wall, *_usage(report)


def run_command(*command: str) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of a command (the wall time includes
    /usr/bin/time's fork, about a millisecond)."""
    start = time.perf_counter()
    child, report = _measured(list(command), stdout=subprocess.DEVNULL)
    child.wait()
    wall = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"failed: {' '.join(command)}")
    return wall, *_usage(report)


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


#: What a size measures; "prepare" only generates the files and converts to .npy.
PARTS = ("load", "mmap", "query")


def bench_size(rows: int, formats: list[str], runs: int, with_index: bool, tmp: str,
               keep: str | None = None, parts: tuple[str, ...] = PARTS,
               index_options: tuple[str, ...] = ()) -> None:
    """The figures of one size; with ``keep``, files are generated into (or reused from)
    ``keep/<rows>`` and left there, so that the parts can run in separate quiet windows."""
    if keep:
        directory = Path(keep) / str(rows)
        directory.mkdir(parents=True, exist_ok=True)
        _bench_size(directory, rows, formats, runs, with_index, parts, index_options)
        return
    with tempfile.TemporaryDirectory(prefix="bench-vectors-", dir=tmp) as workdir:
        _bench_size(Path(workdir), rows, formats, runs, with_index, parts, index_options)


def _bench_size(directory: Path, rows: int, formats: list[str], runs: int, with_index: bool,
                parts: tuple[str, ...], index_options: tuple[str, ...]) -> None:
    start = time.perf_counter()
    wanted = {fmt: directory / f"v{rows}.{fmt}" for fmt in formats}
    npy = directory / f"v{rows}.npy"
    missing = [fmt for fmt, path in wanted.items() if not path.exists()
               and ({"load", "prepare"} & set(parts) or (fmt == "bin" and not npy.exists()))]
    if missing:
        generate(directory, rows, missing)
    matrix_mb = rows * DIM * 4 / 2**20
    print(f"\n{rows:,} x {DIM} ({matrix_mb:,.0f} MB of float32), files ready in "
          f"{time.perf_counter() - start:.0f} s; {load_average()}", flush=True)
    paths = {fmt: path for fmt, path in wanted.items() if path.exists()}
    if "load" in parts:
        for fmt, path in paths.items():
            # (load seconds, peak MB, words MB, CPU seconds of the whole process) per run
            figures: dict[str, list[tuple[float, float, float, float]]] = {
                "embedkit": [], "gensim": []}
            for run in range(runs):
                for name, code in LOAD.items():
                    code = "import time, sys\npath = sys.argv[1]\n" + code
                    out, _, peak, cpu = run_child(code, str(path))
                    took, words = map(float, out.split())
                    figures[name].append((took, peak, words / 2**20, cpu))
                    print(f"    .{fmt} run {run + 1}, {name}: load {took:.1f} s, CPU {cpu:.1f} s "
                          f"(whole process), peak {peak:,.0f} MB; {load_average()}", flush=True)
            ours = [statistics.median(v) for v in zip(*figures["embedkit"], strict=True)]
            theirs = [statistics.median(v) for v in zip(*figures["gensim"], strict=True)]
            print(f"  load .{fmt:<6} ({path.stat().st_size / 2**20:,.0f} MB): embedkit "
                  f"{ours[0]:.1f} s, CPU {ours[3]:.1f} s, peak {ours[1]:,.0f} MB "
                  f"({ours[1] / matrix_mb:.2f}x matrix; "
                  f"{(ours[1] - ours[2]) / matrix_mb:.2f}x beside the {ours[2]:,.0f} MB of words) "
                  f"(runs: {', '.join(f'{f[0]:.1f}' for f in figures['embedkit'])}) | "
                  f"gensim {theirs[0]:.1f} s, CPU {theirs[3]:.1f} s, peak {theirs[1]:,.0f} MB "
                  f"(runs: {', '.join(f'{f[0]:.1f}' for f in figures['gensim'])}) | time ratio "
                  f"{ours[0] / theirs[0]:.2f}, CPU ratio {ours[3] / theirs[3]:.2f}, memory ratio "
                  f"{ours[1] / theirs[1]:.2f}; {load_average()}", flush=True)
    embedkit = str(Path(sys.executable).with_name("embedkit"))
    if not npy.exists():
        source = paths.get("bin") or next(iter(paths.values()))
        wall, peak, cpu = run_command(embedkit, "convert", str(source), str(npy))
        print(f"  convert {source.name} -> .npy + .vocab + .norms.npz: {wall:.1f} s, CPU "
              f"{cpu:.1f} s, peak {peak:,.0f} MB; {load_average()}", flush=True)
    if "mmap" in parts:
        word = f"w{min(12345, rows - 1)}"  # a word in every size
        first = [run_command(embedkit, "neighbors", str(npy), "--mmap", word, "-k", "10")
                 for _ in range(runs)]
        print(f"  neighbors --mmap, first query, whole command: "
              f"{statistics.median(w for w, _, _ in first):.2f} s (runs: "
              f"{', '.join(f'{w:.2f}' for w, _, _ in first)}), CPU "
              f"{statistics.median(c for _, _, c in first):.2f} s, peak RSS "
              f"{statistics.median(p for _, p, _ in first):,.0f} MB (page cache warm); "
              f"{load_average()}", flush=True)
    index = "-"
    if with_index:
        index = str(directory / f"v{rows}.index")
        if not Path(index).exists():
            wall, peak, cpu = run_command(embedkit, "index", str(npy), "--mmap", "-o", index,
                                          *index_options)
            print(f"  index build {' '.join(index_options)}: {wall:.0f} s, CPU {cpu:.0f} s "
                  f"({cpu / rows * 1e6:.0f} us of CPU per vector), peak {peak:,.0f} MB, file "
                  f"{Path(index).stat().st_size / 2**20:,.0f} MB; {load_average()}", flush=True)
    if "query" in parts:
        out, _, peak, _ = run_child(QUERIES, str(npy), index, "200")
        result = json.loads(out)
        line = (f"  exact (mmap): norms {result['norms']:.2f} s once, one query "
                f"{result['exact_single'] * 1e3:.0f} ms (CPU {result['exact_single_cpu'] * 1e3:.0f}"
                f" ms, both threads), batched {result['exact_batch'] * 1e3:.1f} ms/query (CPU "
                f"{result['exact_batch_cpu'] * 1e3:.1f} ms), peak {peak:,.0f} MB")
        if with_index:
            line += (f" | --index: open {result['open'] * 1e3:.0f} ms, one query "
                     f"{result['index_single'] * 1e3:.2f} ms (CPU "
                     f"{result['index_single_cpu'] * 1e3:.2f} ms), recall@10 "
                     f"{result['recall']:.3f}")
        print(f"{line}; {load_average()}", flush=True)
