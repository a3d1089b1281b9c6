"""The scale cases of ``bench_autoencoder.py`` (``--scale``): autoencoders and compare-pca on
large matrices, wall time and peak memory of whole commands, each run as its own process and
measured from outside, against scikit-learn's PCA.

Run through bench_autoencoder.py, which starts this file as a fresh process:
``PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_autoencoder.py --scale 200 2000
--ks 16 64 --scale-only [--repeats 3] [--dir /tmp] [--csv 100]``.

For each size (MB of float32 data, 256 features, rank-32 structure plus noise; written to
``--dir`` block by block and deleted afterwards) and each k, round robin over the repeats:

- ``embedkit autoencode X.npy --hidden k --epochs 3`` (the file memory-mapped and streamed),
- the same training on the matrix loaded whole (``np.load`` then ``Autoencoder.fit``),
- ``embedkit compare-pca model.npz X.npy`` (memory-mapped),
- the same comparison on the matrix loaded whole (``np.load`` then ``compare_with_pca``),
- scikit-learn ``PCA(k).fit(np.load(X))`` (its ``auto`` solver), the reference for time.

``--csv MB``: the same kind of matrix written as CSV (``%.7g``), then ``autoencode X.csv`` and
``autoencode X.npy`` (one epoch each): the CSV is converted to a temporary file past 64 MB of
numbers, so its peak memory should stay near the ``.npy``'s.

Peak memory is the child's maximum resident set (``wait4``'s ru_maxrss). A child started by
vfork and exec folds its parent's high-water mark into its own, so this process imports NumPy
only (never torch or embedkit) and the data are written by another child. One BLAS thread
everywhere. Medians; the load average is printed beside each block. The goals of issue 18 are
checked on every line: with the memory map, peak at most the model plus 256 MB; loaded whole,
at most 1.5x the data; compare-pca at most 1.5x scikit-learn's time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FEATURES, RANK = 256, 32
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1"}
EMBEDKIT = [sys.executable, "-m", "embedkit"]
#: What the memory-mapped commands may hold beside the model (issue 18).
MAPPED_ALLOWANCE_MB = 256


def write_matrix(path: Path, megabytes: int, seed: int = 0) -> None:
    """A low-rank-plus-noise float32 matrix of about ``megabytes``, written in chunks (``.npy``,
    or CSV with seven significant digits when ``path`` ends with ``.csv``)."""
    rows = megabytes * 2**20 // (FEATURES * 4)
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((FEATURES, RANK)))[0]
    scales = np.linspace(3, 1, RANK)
    csv = path.suffix == ".csv"
    out = (open(path, "w") if csv else
           np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FEATURES)))
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        chunk = (rng.standard_normal((n, RANK)) * scales) @ basis.T
        chunk = (chunk + 0.3 * rng.standard_normal((n, FEATURES))).astype(np.float32)
        if csv:
            np.savetxt(out, chunk, delimiter=",", fmt="%.7g")
        else:
            out[start:start + n] = chunk
    if csv:
        out.close()
    else:
        out.flush()


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of ``command`` as a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def python(code: str, *args: Path) -> list[str]:
    return [sys.executable, "-c", code, *map(str, args)]


def in_memory_fit(path: Path, k: int, model: Path) -> list[str]:
    return python("import sys, numpy as np; from embedkit.ae import Autoencoder;"
                  f"m = Autoencoder({k}, epochs=3, random_state=0).fit(np.load(sys.argv[1]));"
                  "m.save(sys.argv[2])", path, model)


def in_memory_compare(model: Path, path: Path) -> list[str]:
    return python("import sys, numpy as np; from embedkit.ae import load_model;"
                  "from embedkit.ae.pca import compare_with_pca;"
                  "compare_with_pca(load_model(sys.argv[1]), np.load(sys.argv[2]))", model, path)


def sklearn_pca(path: Path, k: int) -> list[str]:
    return python("import sys, numpy as np; from sklearn.decomposition import PCA;"
                  f"PCA({k}).fit(np.load(sys.argv[1]))", path)


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def write(path: Path, megabytes: int) -> None:
    # by a child: a child's ru_maxrss starts from its parent's resident memory, so this
    # parent must stay small
    subprocess.run([sys.executable, __file__, "--write", str(path), str(megabytes)], check=True)


def bench_size(scratch: Path, megabytes: int, ks: list[int], repeats: int,
               baseline: float) -> None:
    data = scratch / "X.npy"
    write(data, megabytes)
    rows = np.load(data, mmap_mode="r").shape[0]
    data_mb = data.stat().st_size / 2**20
    for k in ks:
        model, plain = scratch / "m.npz", scratch / "plain.npz"
        systems = {
            "autoencode (memory map)": [*EMBEDKIT, "autoencode", str(data), "--hidden", str(k),
                                        "--epochs", "3", "-o", str(model)],
            "autoencode (loaded whole)": in_memory_fit(data, k, plain),
            "compare-pca (memory map)": [*EMBEDKIT, "compare-pca", str(model), str(data),
                                         "--json"],
            "compare-pca (loaded whole)": in_memory_compare(model, data),
            "scikit-learn PCA(k).fit": sklearn_pca(data, k),
        }
        model_mb = 2 * k * FEATURES * 4 / 2**20  # weights and Adam's two moments, float32
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
        print(f"\n{megabytes} MB: {rows} x {FEATURES} float32 ({data_mb:.0f} MB), k={k}; "
              f"{load()}", flush=True)
        for _ in range(repeats):
            for name, command in systems.items():  # in order: the comparisons need the model
                results[name].append(run(command))
            print(f"  repeat done; {load()}", flush=True)
        reference = statistics.median(s for s, _ in results["scikit-learn PCA(k).fit"])
        print(f"{'system':28} {'wall s':>8} {'peak MB':>8} {'peak/data':>9} {'time/PCA':>8}  goal")
        for name, runs in results.items():
            seconds = statistics.median(s for s, _ in runs)
            peak = statistics.median(m for _, m in runs)
            goals = []
            if "memory map" in name:
                limit = model_mb + MAPPED_ALLOWANCE_MB
                goals.append(f"peak <= model + {MAPPED_ALLOWANCE_MB} MB: {verdict(peak <= limit)}")
            elif "loaded whole" in name:
                # the interpreter and its libraries alone take `baseline`: both readings shown
                goals.append(f"peak <= 1.5x data: {verdict(peak <= 1.5 * data_mb)} "
                             f"({verdict(peak - baseline <= 1.5 * data_mb)} above the libraries)")
            if name.startswith("compare-pca"):
                goals.append(f"time <= 1.5x PCA: {verdict(seconds <= 1.5 * reference)}")
            print(f"{name:28} {seconds:8.2f} {peak:8.0f} {peak / data_mb:9.2f} "
                  f"{seconds / reference:8.2f}  {'; '.join(goals)}")
        print(f"(interpreter and libraries alone: {baseline:.0f} MB); {load()}", flush=True)
    data.unlink()


def bench_csv(scratch: Path, megabytes: int, repeats: int) -> None:
    csv, npy = scratch / "X.csv", scratch / "X.npy"
    write(csv, megabytes)
    write(npy, megabytes)
    text_mb = csv.stat().st_size / 2**20
    print(f"\nCSV: {megabytes} MB of float32 numbers as {text_mb:.0f} MB of text, k=16, one "
          f"epoch; {load()}", flush=True)
    systems = {f"autoencode X.{path.suffix[1:]}": [*EMBEDKIT, "autoencode", str(path),
                                                  "--hidden", "16", "--epochs", "1", "-o",
                                                  str(scratch / "m.npz")]
               for path in (csv, npy)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, command in systems.items():
            results[name].append(run(command))
    print(f"{'system':28} {'wall s':>8} {'peak MB':>8}")
    for name, runs in results.items():
        print(f"{name:28} {statistics.median(s for s, _ in runs):8.2f} "
              f"{statistics.median(m for _, m in runs):8.0f}")
    print(f"{load()}", flush=True)
    csv.unlink()
    npy.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, nargs="+", default=[], metavar="MB")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv", type=int, default=0, metavar="MB")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-ae-scale-", dir=args.dir))
    try:
        _, baseline = run(python("import embedkit.cli, embedkit.ae.pca, sklearn.decomposition"))
        for megabytes in args.scale:
            bench_size(scratch, megabytes, args.ks, args.repeats, baseline)
        if args.csv:
            bench_csv(scratch, args.csv, args.repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.argv[1:2] == ["--write"]:
        write_matrix(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
