"""The scale cases of ``bench_autoencoder.py`` (``--scale``): autoencoders and compare-pca on
large matrices, wall time and peak memory of whole commands, each run as its own process and
measured from outside, against scikit-learn's PCA.

Run through bench_autoencoder.py, which starts this file as a fresh process:
``PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_autoencoder.py --scale 200 2000
--ks 16 64 --scale-only [--repeats 3] [--dir /tmp] [--csv 100]``, or directly (same options).
For a short quiet window, prepare the data and models first and time the comparisons alone:
``_ae_scale.py --scale 200 2000 --keep --dir D --prepare`` (through ``heavy``), then
``_ae_scale.py --scale 200 2000 --keep --dir D --compare-only`` (through ``quiet``).
``--sorted``: how training in shuffled runs of rows converges on a sorted file
(:func:`shuffle_on_sorted`). ``--encode-decode``: ``encode`` and ``decode`` of the memory-mapped
matrix written to ``.npy`` one block at a time, beside the same commands of another embedkit
(``--baseline DIR``, a source tree such as ``git archive`` of an older commit: the output held
whole) in the same round robin (:func:`bench_codec`).

For each size (MB of float32 data, 256 features, rank-32 structure plus noise; written to
``--dir`` block by block and deleted afterwards unless ``--keep``) and each k, round robin over
the repeats:

- ``embedkit autoencode X.npy --hidden k --epochs 3`` (the file memory-mapped and streamed;
  ``--epochs`` sets the 3),
- the same training on the matrix loaded whole (``np.load`` then ``Autoencoder.fit``),
- ``embedkit compare-pca model.npz X.npy`` (memory-mapped),
- the same comparison on the matrix loaded whole (``np.load`` then ``compare_with_pca``),
- scikit-learn ``PCA(k).fit(np.load(X))`` (its ``auto`` solver), the reference for time,
- ``np.load(X)`` alone, the reading all three "loaded whole" processes share,
- and each process's libraries alone (``import embedkit.cli.ae``; ``import embedkit.ae.pca``;
  ``import sklearn.decomposition``; ``import numpy``): the time and memory that do not grow
  with the data, printed beside each figure and subtracted from it ("-libs").

``--csv MB``: the same kind of matrix written as CSV (``%.7g``), then ``autoencode X.csv`` and
``autoencode X.npy`` (one epoch each): the CSV is converted to a temporary file past 64 MB of
numbers, so its peak memory should stay near the ``.npy``'s.

Peak memory is the child's maximum resident set (``wait4``'s ru_maxrss). A child started by
vfork and exec folds its parent's high-water mark into its own, so this process imports NumPy
only (never torch or embedkit) and the data are written by another child. One BLAS thread
everywhere. Medians; the load average is printed beside each block. The goals of issue 18 are
checked on every line: with the memory map, peak at most the model plus 256 MB; loaded whole,
at most 1.5x the data, counting the libraries and above them (scikit-learn's own process is
held to the same line for comparison); compare-pca at most 1.5x scikit-learn's time. User and
system CPU seconds (``wait4``) are printed beside the wall time.

Every process that loads the file whole is started right after an untimed ``np.load`` of the
same file has exited, so that each finds the memory the same way: 2 GB just freed. Otherwise
its time depends on what ran before it. NumPy asks for transparent huge pages for large
arrays; when free memory is fragmented (after the memory-mapped compare-pca, which frees no
large block, while other jobs allocate), faulting in 2 GB of them costs the kernel direct
compaction: 2-6 s of system time inside ``np.load`` against 0.5 s (measured at 2 GB, 13:55
UTC, 2026-11-30). In the old order the loaded-whole compare-pca followed the memory-mapped one
in four rotations of five, and scikit-learn's PCA followed a loaded-whole process (which had
just freed 2 GB) in four of five: that, not the comparison, made it 1.9-2.0x scikit-learn's
time (their user CPU time is the same).
"""

from __future__ import annotations

import argparse
import filecmp
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


def run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> tuple[float, float, float, float]:
    """Wall seconds, peak resident MB, user and system CPU seconds of ``command`` as a child
    process (environment ``env``, default :data:`ENV`; working directory ``cwd``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env or ENV, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime, usage.ru_stime


def python(code: str, *args: Path) -> list[str]:
    return [sys.executable, "-c", code, *map(str, args)]


def in_memory_fit(path: Path, k: int, epochs: int, model: Path) -> list[str]:
    return python("import sys, numpy as np; from embedkit.ae import Autoencoder;"
                  f"m = Autoencoder({k}, epochs={epochs}, random_state=0)"
                  ".fit(np.load(sys.argv[1]));"
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


#: Each process's libraries alone (the interpreter and its imports), time and peak: the part of
#: a whole command's figures that does not grow with the data.
LIBRARIES = {
    "numpy": python("import numpy"),
    "embedkit CLI (compare-pca)": python("import embedkit.cli.ae"),
    "embedkit library": python("import numpy, embedkit.ae.pca"),
    "scikit-learn": python("import numpy, sklearn.decomposition"),
}


def prepared(scratch: Path, megabytes: int, ks: list[int], epochs: int
             ) -> tuple[Path, dict[int, Path]]:
    """The data file of ``megabytes`` and a model per k trained on it (``autoencode``, memory
    map, ``epochs``), made unless ``scratch`` already holds them (``--keep``)."""
    data = scratch / f"X-{megabytes}MB.npy"
    if not data.exists():
        write(data, megabytes)
    models = {}
    for k in ks:
        models[k] = scratch / f"m-{megabytes}MB-k{k}.npz"
        if not models[k].exists():
            run([*EMBEDKIT, "autoencode", str(data), "--hidden", str(k), "--epochs",
                 str(epochs), "-o", str(models[k])])
    return data, models


def bench_size(scratch: Path, megabytes: int, ks: list[int], repeats: int, epochs: int,
               compare_only: bool) -> None:
    """The round robin of one size. ``compare_only``: compare-pca and scikit-learn's PCA only,
    against models trained beforehand (:func:`prepared`), for a short quiet window."""
    data, prepared_models = (prepared(scratch, megabytes, ks, epochs) if compare_only
                             else (scratch / f"X-{megabytes}MB.npy", {}))
    if not data.exists():
        write(data, megabytes)
    rows = np.load(data, mmap_mode="r").shape[0]
    data_mb = data.stat().st_size / 2**20
    for k in ks:
        model, plain = prepared_models.get(k, scratch / "m.npz"), scratch / "plain.npz"
        load_alone = python("import sys, numpy; numpy.load(sys.argv[1])", data)
        # name: (command, its libraries, whether it loads the file whole)
        systems = {} if compare_only else {
            "autoencode (memory map)": ([*EMBEDKIT, "autoencode", str(data), "--hidden", str(k),
                                         "--epochs", str(epochs), "-o", str(model)],
                                        "embedkit CLI (compare-pca)", False),
            "autoencode (loaded whole)": (in_memory_fit(data, k, epochs, plain),
                                          "embedkit library", True),
        }
        systems.update({
            "compare-pca (memory map)": ([*EMBEDKIT, "compare-pca", str(model), str(data),
                                          "--json"], "embedkit CLI (compare-pca)", False),
            "compare-pca (loaded whole)": (in_memory_compare(model, data), "embedkit library",
                                           True),
            "scikit-learn PCA(k).fit": (sklearn_pca(data, k), "scikit-learn", True),
            # what both "loaded whole" processes and scikit-learn's spend reading the file
            "np.load alone": (load_alone, "numpy", True),
        })
        model_mb = 2 * k * FEATURES * 4 / 2**20  # weights and Adam's two moments, float32
        results: dict[str, list[tuple[float, ...]]] = {name: [] for name in systems}
        libraries: dict[str, list[tuple[float, ...]]] = {name: [] for name in LIBRARIES}
        print(f"\n{megabytes} MB: {rows} x {FEATURES} float32 ({data_mb:.0f} MB), k={k}; "
              f"{load()}", flush=True)
        for repeat in range(repeats):
            # in order when autoencode writes the model the comparisons read; else rotated,
            # so that no system always follows the same one (the page cache, memory)
            names = list(systems)
            if compare_only:
                names = names[repeat % len(names):] + names[:repeat % len(names)]
            for name in names:
                if systems[name][2]:
                    run(load_alone)  # untimed: the same memory state before each (docstring)
                results[name].append(run(systems[name][0]))
            for name, command in LIBRARIES.items():
                libraries[name].append(run(command))
            print(f"  repeat done; {load()}", flush=True)
        base = {name: (statistics.median(r[0] for r in runs),
                       statistics.median(r[1] for r in runs))
                for name, runs in libraries.items()}
        reference = statistics.median(r[0] for r in results["scikit-learn PCA(k).fit"])
        print(f"{'system':28} {'wall s':>7} {'-libs s':>7} {'user s':>6} {'sys s':>5} "
              f"{'peak MB':>7} {'-libs MB':>8} {'peak/data':>9} {'-libs':>5} {'time/PCA':>8}"
              "  goal")
        for name, runs in results.items():
            seconds, peak, user, system = (statistics.median(r[i] for r in runs)
                                           for i in range(4))
            lib_seconds, lib_peak = base[systems[name][1]]
            goals = []
            if "memory map" in name:
                limit = model_mb + MAPPED_ALLOWANCE_MB
                goals.append(f"peak <= model + {MAPPED_ALLOWANCE_MB} MB: {verdict(peak <= limit)}")
            elif name != "np.load alone":  # scikit-learn's process too, for comparison
                goals.append(f"peak <= 1.5x data: {verdict(peak <= 1.5 * data_mb)} "
                             f"({verdict(peak - lib_peak <= 1.5 * data_mb)} above the libraries)")
            if name.startswith("compare-pca"):
                goals.append(f"time <= 1.5x PCA: {verdict(seconds <= 1.5 * reference)}")
            print(f"{name:28} {seconds:7.2f} {seconds - lib_seconds:7.2f} {user:6.2f} "
                  f"{system:5.2f} {peak:7.0f} "
                  f"{peak - lib_peak:8.0f} {peak / data_mb:9.2f} "
                  f"{(peak - lib_peak) / data_mb:5.2f} {seconds / reference:8.2f}  "
                  f"{'; '.join(goals)}")
        print("libraries alone (imports only): " + "; ".join(
            f"{name} {seconds:.2f} s, {peak:.0f} MB" for name, (seconds, peak) in base.items())
            + f"; {load()}", flush=True)
        plain.unlink(missing_ok=True)


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
    results: dict[str, list[tuple[float, ...]]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, command in systems.items():
            results[name].append(run(command))
    print(f"{'system':28} {'wall s':>8} {'peak MB':>8}")
    for name, runs in results.items():
        print(f"{name:28} {statistics.median(r[0] for r in runs):8.2f} "
              f"{statistics.median(r[1] for r in runs):8.0f}")
    print(f"{load()}", flush=True)
    csv.unlink()
    npy.unlink()


def bench_codec(scratch: Path, megabytes: int, ks: list[int], repeats: int,
                baseline: Path | None) -> None:
    """``encode MODEL X.npy -o codes.npy`` and ``decode MODEL codes.npy -o recon.npy``, the
    input memory-mapped, the output written block by block; with ``baseline`` (another
    embedkit's source tree, on ``PYTHONPATH``) the same commands of that version in the same
    round robin, rotated, and their outputs compared byte for byte. The model is untrained
    (``autoencode --epochs 0``): the work of encode and decode does not depend on the weights.
    Goal: peak at most the model plus :data:`MAPPED_ALLOWANCE_MB`, whatever the rows."""
    data = scratch / f"X-{megabytes}MB.npy"
    if not data.exists():
        write(data, megabytes)
    rows = np.load(data, mmap_mode="r").shape[0]
    versions = {"streamed": ENV}
    if baseline is not None:
        versions["before (held whole)"] = {**ENV, "PYTHONPATH": str(baseline.resolve())}
    for k in ks:
        model = scratch / f"m-{megabytes}MB-k{k}-untrained.npz"
        run([*EMBEDKIT, "autoencode", str(data), "--hidden", str(k), "--epochs", "0", "-o",
             str(model)])
        codes = {v: scratch / f"codes-{i}.npy" for i, v in enumerate(versions)}
        recon = {v: scratch / f"recon-{i}.npy" for i, v in enumerate(versions)}
        run([*EMBEDKIT, "encode", str(model), str(data), "-o", str(codes["streamed"])])
        systems = {}
        for version, env in versions.items():
            systems[f"encode, {version}"] = ([*EMBEDKIT, "encode", str(model), str(data), "-o",
                                             str(codes[version])], env)
            # every version decodes the same codes
            systems[f"decode, {version}"] = ([*EMBEDKIT, "decode", str(model),
                                             str(codes["streamed"]), "-o", str(recon[version])],
                                            env)
        model_mb = 2 * k * FEATURES * 4 / 2**20  # W and components_, float32
        results: dict[str, list[tuple[float, ...]]] = {name: [] for name in systems}
        libraries = []
        print(f"\nencode/decode {megabytes} MB: {rows} x {FEATURES} float32, k={k} (codes "
              f"{rows * k * 4 / 2**20:.0f} MB); {load()}", flush=True)
        for repeat in range(repeats):
            names = list(systems)
            names = names[repeat % len(names):] + names[:repeat % len(names)]
            for name in names:
                # not from a source tree: "python -m" puts the working directory first on the
                # path, before PYTHONPATH
                results[name].append(run(*systems[name], cwd=scratch))
            libraries.append(run(LIBRARIES["embedkit CLI (compare-pca)"]))
            print(f"  repeat done; {load()}", flush=True)
        lib_seconds = statistics.median(r[0] for r in libraries)
        lib_peak = statistics.median(r[1] for r in libraries)
        print(f"{'system':32} {'wall s':>7} {'user s':>6} {'sys s':>5} {'peak MB':>7} "
              f"{'-libs MB':>8}  goal (peak <= model + {MAPPED_ALLOWANCE_MB} MB)")
        for name, runs in results.items():
            seconds, peak, user, system = (statistics.median(r[i] for r in runs)
                                           for i in range(4))
            met = verdict(peak <= model_mb + MAPPED_ALLOWANCE_MB)
            print(f"{name:32} {seconds:7.2f} {user:6.2f} {system:5.2f} {peak:7.0f} "
                  f"{peak - lib_peak:8.0f}  {met}")
        # compared in small chunks: this process's high-water mark would pass into the
        # peaks of its later children (the docstring)
        same = all(filecmp.cmp(paths[v], paths["streamed"], shallow=False)
                   for paths in (codes, recon) for v in versions)
        print(f"outputs of the versions byte for byte the same: {same}; libraries alone "
              f"{lib_seconds:.2f} s, {lib_peak:.0f} MB; {load()}", flush=True)
        for path in (*codes.values(), *recon.values(), model):
            path.unlink(missing_ok=True)


def shuffle_on_sorted(scratch: Path, seeds: int = 3, k: int = 16, epochs: int = 3) -> None:
    """What training in shuffled runs of rows (a memory-mapped matrix) costs on a file sorted
    by a property: 32 clusters of 2,048 rows in a row, so each 8 MB run of 8,192 rows holds
    four of them and its batches see four cluster means of 32. The same matrix trained in
    memory (a full shuffle each epoch) and as a memory map of the sorted file and of the rows
    shuffled once; error / PCA's error and the largest principal angle, of the linear model
    before and after its polish and of a nonlinear one, medians (and ranges) over the seeds.
    Run in this process: no peaks here."""
    from embedkit.ae import Autoencoder
    from embedkit.ae.pca import compare_with_pca
    from embedkit.npyfile import load_npy

    clusters, per_cluster = 32, 2048
    rng = np.random.default_rng(7)
    basis = np.linalg.qr(rng.standard_normal((FEATURES, RANK)))[0]
    centres = np.zeros((clusters, RANK))
    centres[:, :k] = 3 * rng.standard_normal((clusters, k))  # the clusters span k directions
    labels = np.repeat(np.arange(clusters), per_cluster)  # sorted by cluster
    latent = centres[labels] + rng.standard_normal((len(labels), RANK)) * np.linspace(1.5, .5,
                                                                                       RANK)
    X = (latent @ basis.T + 0.3 * rng.standard_normal((len(labels), FEATURES))
         ).astype(np.float32)
    np.save(scratch / "sorted.npy", X)
    np.save(scratch / "unsorted.npy", X[rng.permutation(len(X))])
    data = {"sorted, in memory (full shuffle)": X,
            "sorted, memory map (runs)": load_npy(scratch / "sorted.npy", mmap=True),
            "unsorted, memory map (runs)": load_npy(scratch / "unsorted.npy", mmap=True)}
    print(f"\nShuffling in runs on a sorted file: {len(X)} x {FEATURES} float32, {clusters} "
          f"clusters of {per_cluster} rows in a row, runs of 8,192 rows; k={k}, {epochs} "
          f"epochs, seeds 0-{seeds - 1}; {load()}", flush=True)
    models = {"linear, no polish": {"polish": False}, "linear (polished)": {},
              "nonlinear (sigmoid)": {"kind": "nonlinear"}}
    print(f"{'data':34} {'model':20} {'error/PCA':>24} {'largest angle (deg)':>24}")
    gap = None
    for name, matrix in data.items():
        for model_name, options in models.items():
            ratios, angles = [], []
            for seed in range(seeds):
                model = Autoencoder(k, epochs=epochs, random_state=seed, **options).fit(matrix)
                result = compare_with_pca(model, X)
                ratios.append(result.model_mse / result.pca_mse)
                angles.append(max(result.principal_angles_deg))
                gap = result.eigengap
            print(f"{name:34} {model_name:20} "
                  f"{statistics.median(ratios):8.5f} ({min(ratios):.5f}-{max(ratios):.5f}) "
                  f"{statistics.median(angles):8.3f} ({min(angles):.3f}-{max(angles):.3f})",
                  flush=True)
    print(f"relative eigen-gap at k: {gap:.3f}; {load()}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, nargs="+", default=[], metavar="MB")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="of every autoencode")
    parser.add_argument("--csv", type=int, default=0, metavar="MB")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true",
                        help="use --dir itself, reuse the data and models found there and "
                        "leave them (prepare with --prepare, time with --compare-only)")
    parser.add_argument("--prepare", action="store_true",
                        help="only write the data and train the models (with --keep)")
    parser.add_argument("--compare-only", action="store_true",
                        help="time compare-pca and scikit-learn only, on prepared models")
    parser.add_argument("--sorted", action="store_true",
                        help="also measure training in shuffled runs on a sorted file")
    parser.add_argument("--encode-decode", action="store_true",
                        help="time encode and decode (memory map) instead of the other cases")
    parser.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                        help="with --encode-decode: also run the embedkit found in DIR")
    args = parser.parse_args(argv)
    scratch = (Path(args.dir) if args.keep else
               Path(tempfile.mkdtemp(prefix="bench-ae-scale-", dir=args.dir)))
    try:
        for megabytes in args.scale:
            if args.encode_decode:
                bench_codec(scratch, megabytes, args.ks, args.repeats, args.baseline)
            elif args.prepare:
                prepared(scratch, megabytes, args.ks, args.epochs)
            else:
                bench_size(scratch, megabytes, args.ks, args.repeats, args.epochs,
                           args.compare_only)
        if args.csv:
            bench_csv(scratch, args.csv, args.repeats)
        if args.sorted:
            # a child: this process must not hold embedkit (its children's peaks count it)
            subprocess.run([sys.executable, __file__, "--sorted-child", str(scratch)],
                           env=ENV, check=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.argv[1:2] == ["--write"]:
        write_matrix(Path(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1:2] == ["--sorted-child"]:
        shuffle_on_sorted(Path(sys.argv[2]))
    else:
        main()
