"""Time to within 1% of PCA's error, this embedkit against another version in the same run.

Section 1 of ``bench_autoencoder.py`` for embedkit alone (its library training loop, Adam,
lr 1e-3 constant, batch 256, tied linear autoencoder on the centred data), each version in its
own process, round robin, so that a change's effect on the existing cases is measured beside
the version before it (issue 18: no slower, relative to PCA's own time, than before)::

    PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/_ae_time_to_pca.py \\
        --baseline DIR [--rounds 3] [--seeds 3] [--cases digits:8 digits:32 ...]

``DIR`` is another embedkit's source tree (``git archive COMMIT | tar -x -C DIR``), put first
on ``PYTHONPATH`` of its processes. Every process times scikit-learn's ``PCA(k + 1,
svd_solver="full").fit`` on the case (as section 1 does) and then trains once per seed: wall
and CPU seconds of the epochs until the full-data error is within 1% of PCA's (the evaluation
excluded), the epochs needed, and a hash of the weights after the first epoch (the same in
both versions when the arithmetic is). Medians over rounds and seeds; the load average is
printed beside every process. Under load, compare CPU seconds: the wall time is waiting.
One BLAS thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

CASES = ["digits:8", "digits:32", "synthetic:8", "synthetic:32"]
REPO = Path(__file__).resolve().parent.parent


def child(cases: list[str], seeds: int) -> None:
    """Run every case in this process, one JSON line per seed on stdout."""
    import hashlib
    import time

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    import embedkit
    from embedkit.ae.models import Architecture
    from embedkit.ae.training import TrainingSettings, train
    from embedkit.core.schedules import constant

    class Reached(Exception):
        pass

    def synthetic(n=20000, d=784, rank=32, seed=0):  # bench_autoencoder.synthetic
        rng = np.random.default_rng(seed)
        basis = np.linalg.qr(rng.standard_normal((d, rank)))[0]
        X = (rng.standard_normal((n, rank)) * np.linspace(3, 1, rank)) @ basis.T
        return (X + 0.3 * rng.standard_normal((n, d))).astype(np.float32)

    def run(Xc, k, target, max_epochs, seed):
        rng = np.random.default_rng(seed)
        arch = Architecture("linear", True)
        params = arch.init_params(Xc.shape[1], k, rng, np.float32)
        wall, cpu, epochs, first = [0.0], [0.0], [0], [""]
        mark = [time.process_time()]

        def callback(record):
            if record["event"] != "epoch":
                return
            cpu[0] += time.process_time() - mark[0]
            wall[0] += record["seconds"]
            epochs[0] += 1
            W = params["W"]  # updated in place by the optimizer
            if epochs[0] == 1:
                first[0] = hashlib.sha1(np.ascontiguousarray(W).tobytes()).hexdigest()[:8]
            reached = float(np.mean((Xc @ W.T @ W - Xc) ** 2)) <= target
            mark[0] = time.process_time()
            if reached:
                raise Reached

        try:
            train(arch, params, Xc, TrainingSettings(lr=1e-3, epochs=max_epochs,
                                                     batch_size=256),
                  rng, callback=callback, schedule=constant(1e-3))
        except Reached:
            return epochs[0], wall[0], cpu[0], first[0]
        return epochs[0], float("inf"), float("inf"), first[0]

    data = {"digits": lambda: StandardScaler().fit_transform(load_digits().data
                                                             ).astype(np.float32),
            "synthetic": synthetic}
    for case in cases:
        name, k = case.split(":")
        X = data[name]()
        wall, cpu = time.perf_counter(), time.process_time()
        pca = PCA(int(k) + 1, svd_solver="full").fit(X)
        pca_wall, pca_cpu = time.perf_counter() - wall, time.process_time() - cpu
        top = pca.components_[:int(k)]
        Xc = X - X.mean(axis=0)
        target = 1.01 * float(np.mean((Xc - Xc @ top.T @ top) ** 2))
        for seed in range(seeds):
            epochs, seconds, cpu_seconds, first = run(Xc, int(k), target,
                                                      3000 if name == "digits" else 40, seed)
            print(json.dumps({"case": case, "seed": seed, "epochs": epochs, "wall": seconds,
                              "cpu": cpu_seconds, "pca_wall": pca_wall, "pca_cpu": pca_cpu,
                              "w1": first, "load": os.getloadavg()[0],
                              "embedkit": embedkit.__file__}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, metavar="DIR")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=CASES, metavar="DATA:K")
    args = parser.parse_args()
    versions = {"before": str(args.baseline.resolve()), "this": str(REPO)}
    runs: dict[str, list[dict]] = {version: [] for version in versions}
    print(f"time to within 1% of PCA's error; before = {versions['before']}, this = "
          f"{versions['this']}; load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ae-time-to-pca-") as scratch:
        for round_ in range(args.rounds):
            order = list(versions) if round_ % 2 == 0 else list(versions)[::-1]
            for version in order:
                env = {**os.environ, "PYTHONPATH": versions[version]}
                done = subprocess.run([sys.executable, __file__, "--child", *args.cases,
                                       "--seeds", str(args.seeds)], env=env, cwd=scratch,
                                      capture_output=True, text=True, check=True)
                for line in done.stdout.splitlines():
                    record = json.loads(line)
                    if not record["embedkit"].startswith(versions[version]):
                        raise SystemExit(f"{version} ran {record['embedkit']}")
                    runs[version].append(record)
                    print(f"round {round_ + 1} {version:6} {record['case']:12} seed "
                          f"{record['seed']} epochs {record['epochs']:4} wall "
                          f"{record['wall']:.3f} s cpu {record['cpu']:.3f} s pca "
                          f"{record['pca_wall']:.3f} s W1 {record['w1']} load "
                          f"{record['load']:.2f}", flush=True)
    print("\nmedians over rounds and seeds: seconds to the target (wall / CPU), CPU per epoch, "
          "PCA's own time (wall / CPU), the target's CPU time over PCA's (medians), this / before")
    for case in args.cases:
        figures = {}
        for version, records in runs.items():
            mine = [r for r in records if r["case"] == case]

            def median(key, rows=mine):
                return statistics.median(r[key] for r in rows)
            figures[version] = (median("wall"), median("cpu"),
                                statistics.median(r["cpu"] / max(r["epochs"], 1) for r in mine),
                                median("pca_wall"), median("pca_cpu"),
                                median("cpu") / median("pca_cpu"),
                                sorted({r["epochs"] for r in mine}), sorted({r["w1"]
                                                                             for r in mine}))
        for version, (wall, cpu, per_epoch, pca_wall, pca_cpu, ratio, epochs, w1) in (
                figures.items()):
            print(f"{case:12} {version:6} {wall:7.3f} / {cpu:7.3f} s  {per_epoch * 1e3:7.2f} ms"
                  f"/epoch  PCA {pca_wall:.3f} / {pca_cpu:.3f} s  {ratio:6.3f}x PCA  epochs "
                  f"{epochs}  W1 {w1}")
        before, this = figures["before"], figures["this"]
        print(f"{case:12} this/before: wall {this[0] / before[0]:.3f}, CPU "
              f"{this[1] / before[1]:.3f}, CPU per epoch {this[2] / before[2]:.3f}, relative "
              f"to PCA {this[5] / before[5]:.3f}")
    print(f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        cases = sys.argv[2:sys.argv.index("--seeds")]
        child(cases, int(sys.argv[sys.argv.index("--seeds") + 1]))
    else:
        main()
