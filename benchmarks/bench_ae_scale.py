"""Autoencoders and compare-pca on large matrices: wall time and peak memory of whole commands,
each run as its own process and measured from outside, against scikit-learn's PCA.

Run: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_ae_scale.py [--sizes 200 2000]
     [--ks 16 64] [--repeats 3] [--dir /tmp]

For each size (MB of float32 data, 256 features, rank-32 structure plus noise; written to
``--dir`` block by block and deleted afterwards) and each k, round robin over the repeats:

- ``embedkit autoencode X.npy --hidden k --epochs 3`` (the file memory-mapped and streamed),
- the same training on the matrix loaded whole (``np.load`` then ``Autoencoder.fit``),
- ``embedkit compare-pca model.npz X.npy`` (memory-mapped),
- scikit-learn ``PCA(k).fit(np.load(X))`` (its ``auto`` solver), the reference for time.

Peak memory is the child's maximum resident set (``wait4``'s ru_maxrss; the data are written
by another child, so this parent stays small); one BLAS thread everywhere. Medians; the load
average is printed before each block.
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


def write_matrix(path: Path, megabytes: int, seed: int = 0) -> None:
    """A low-rank-plus-noise float32 matrix of about ``megabytes``, written in chunks."""
    rows = megabytes * 2**20 // (FEATURES * 4)
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((FEATURES, RANK)))[0]
    scales = np.linspace(3, 1, RANK)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        chunk = (rng.standard_normal((n, RANK)) * scales) @ basis.T
        out[start:start + n] = chunk + 0.3 * rng.standard_normal((n, FEATURES))
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


def in_memory_fit(path: Path, k: int, model: Path) -> list[str]:
    code = ("import sys, numpy as np; from embedkit.ae import Autoencoder;"
            f"m = Autoencoder({k}, epochs=3, random_state=0).fit(np.load(sys.argv[1]));"
            "m.save(sys.argv[2])")
    return [sys.executable, "-c", code, str(path), str(model)]


def sklearn_pca(path: Path, k: int) -> list[str]:
    code = ("import sys, numpy as np; from sklearn.decomposition import PCA;"
            f"PCA({k}).fit(np.load(sys.argv[1]))")
    return [sys.executable, "-c", code, str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200], metavar="MB")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ae-scale-", dir=args.dir))
    try:
        for megabytes in args.sizes:
            data = scratch / "X.npy"
            # written by a child: a forked child's ru_maxrss starts from its parent's resident
            # memory, so this parent must stay small
            subprocess.run([sys.executable, __file__, "--write", str(data), str(megabytes)],
                           check=True)
            rows = np.load(data, mmap_mode="r").shape[0]
            data_mb = data.stat().st_size / 2**20
            for k in args.ks:
                model, plain = scratch / "m.npz", scratch / "plain.npz"
                systems = {
                    "autoencode (memory map)": [*EMBEDKIT, "autoencode", str(data), "--hidden",
                                                str(k), "--epochs", "3", "-o", str(model)],
                    "autoencode (loaded whole)": in_memory_fit(data, k, plain),
                    "compare-pca (memory map)": [*EMBEDKIT, "compare-pca", str(model),
                                                 str(data), "--json"],
                    "scikit-learn PCA(k).fit": sklearn_pca(data, k),
                }
                results: dict[str, list[tuple[float, float]]] = {name: [] for name in systems}
                print(f"\n{megabytes} MB: {rows} x {FEATURES} float32 ({data_mb:.0f} MB), "
                      f"k={k}; load average {os.getloadavg()[0]:.2f}", flush=True)
                for _ in range(args.repeats):
                    for name, command in systems.items():  # in order: compare needs model
                        results[name].append(run(command))
                reference = statistics.median(s for s, _ in results["scikit-learn PCA(k).fit"])
                print(f"{'system':28} {'wall s':>8} {'peak MB':>8} {'peak/data':>9} "
                      f"{'time/PCA':>8}")
                for name, runs in results.items():
                    seconds = statistics.median(s for s, _ in runs)
                    peak = statistics.median(m for _, m in runs)
                    print(f"{name:28} {seconds:8.2f} {peak:8.0f} {peak / data_mb:9.2f} "
                          f"{seconds / reference:8.2f}")
                print(f"load average after: {os.getloadavg()[0]:.2f}")
            data.unlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.argv[1:2] == ["--write"]:
        write_matrix(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
