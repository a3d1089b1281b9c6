"""train-w2v --cluster: quality against round length, overhead against --threads 2, per-round
costs and a model of time per epoch on N machines.

Usage: .venv/bin/python benchmarks/bench_cluster.py [--syncs 50000,200000,800000]
       [--clusters 2,4] [--epochs 5] [--seed 1]

On ``../shared/data/wordnet-glosses.txt.gz`` (decompressed once into a temporary directory, so
the workers read it as byte ranges), skip-gram, dim 100, word2vec's other defaults, every run
in its own process, one after the other:

1. References: single-machine training with ``threads=1`` and ``threads=2`` (same epochs).
2. For each cluster size N (``local:N``, one thread per worker, N tasks per round) and each
   round length (``--sync-every``): WordSim353 Spearman and analogy accuracy
   (``questions-words.txt``), words per second of the training (the epochs' mean of corpus
   words / epoch time, as train-w2v reports them; cluster start-up not included), the
   whole run's wall time, and per round: the longest task's compute time, the round's wall
   time, bytes of the model sent to each worker, bytes of changes sent back, the driver's
   merge time.
3. A model of time per epoch for N = 1..256 machines at 1 and 10 Gbit/s, a 100,000-word x 300
   model and a 10-billion-token corpus, from the measured per-word compute time and merge
   speed (see :func:`scale_model`).

The load average is printed beside every figure: this machine is shared and only ratios from
one run count.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
CORPUS = DATA / "wordnet-glosses.txt.gz"
#: Dimensions trained here (the scale model scales the compute time per word to its own).
DIM = 100


def load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def run_one(spec: dict) -> dict:
    """One training in this process: the settings of ``spec``, its figures as a dict."""
    from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity
    from embedkit.vectors.keyed import KeyedVectors
    from embedkit.w2v.config import Word2VecConfig

    config = Word2VecConfig(dim=DIM, epochs=spec["epochs"], seed=spec["seed"],
                            threads=spec["threads"])
    rounds: list[dict] = []
    start = time.perf_counter()
    if spec.get("cluster"):
        from embedkit.w2v.cluster import cluster_client, default_merge, train_on_cluster

        spec["merge"] = spec["merge"] or default_merge(spec["threads"])
        with cluster_client(spec["cluster"]) as client:
            start = time.perf_counter()  # the cluster's start-up is not training
            model = train_on_cluster([spec["corpus"]], config, client,
                                     sync_every=spec["sync_every"], merge=spec["merge"],
                                     on_round=rounds.append)
    else:
        from embedkit.w2v.train import train_word2vec

        model = train_word2vec([spec["corpus"]], config)
    wall = time.perf_counter() - start
    kv = KeyedVectors(model.vocab.words, model.vectors)
    result = {**spec, "wall": wall,
              "words_per_sec": statistics.mean(h["words_per_sec"] for h in model.history),
              "ws353": evaluate_similarity(kv, DATA / "wordsim353.tsv").spearman,
              "analogy": evaluate_analogies(kv, DATA / "questions-words.txt").overall.accuracy,
              "vocab": len(model.vocab), "words": model.vocab.total}
    if rounds:
        result["rounds"] = len(rounds)
        for key in ("seconds", "compute", "compute_max", "merge", "bytes_out", "bytes_back",
                    "words"):
            result[f"round_{key}"] = statistics.median(r[key] for r in rounds)
        # per word of a task, and per byte of changes: the scale model's inputs (medians
        # over rounds: a worker's first task also pays for its imports)
        result["compute_per_word"] = statistics.median(r["compute"] / r["words"]
                                                       for r in rounds if r["words"])
        result["merge_per_byte"] = sum(r["merge"] for r in rounds) / \
            sum(r["bytes_back"] for r in rounds)
        result["back_bytes_per_task_word"] = sum(r["bytes_back"] for r in rounds) / \
            sum(r["words"] for r in rounds)
    return result


def measure(spec: dict) -> dict:
    """``spec`` trained in a child process (figures and load average printed)."""
    before = load()
    out = subprocess.run([sys.executable, __file__, "--run", json.dumps(spec)], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["load"] = f"{before} -> {load()}"
    return result


def describe(r: dict) -> str:
    what = (f"local:{r['threads']} sync {r['sync_every']:>9,} {r['merge']}" if r.get("cluster")
            else f"single --threads {r['threads']}")
    line = (f"{what:<36} WS353 {r['ws353']:.3f} analogy {r['analogy']:.3f} "
            f"{r['words_per_sec']:>9,.0f} words/s  wall {r['wall']:6.1f} s")
    if "rounds" in r:
        line += (f"  rounds {r['rounds']} (median: {r['round_seconds']:.3f} s, task compute "
                 f"max {r['round_compute_max']:.3f} s, merge {r['round_merge'] * 1e3:.1f} ms, "
                 f"model {r['round_bytes_out'] / 1e6:.1f} MB, changes back "
                 f"{r['round_bytes_back'] / 1e6:.1f} MB)")
    return f"{line}  [{r['load']}]"


def scale_model(compute_per_word: float, merge_per_byte: float, back_per_word: float,
                tokens: float = 1e10, vocab: int = 100_000, dim: int = 300) -> None:
    """Time per epoch on N machines (one training task each), printed as a table.

    Per round of ``W`` words: every machine computes ``W / N`` words at the measured compute
    time per word. One machine merges the round's changes: the N - 1 others send theirs over
    its one link (a change: the measured bytes per word of a task, at most the whole model, as
    a long slice touches nearly every row through its negatives), and it merges them at the
    measured speed (seconds per byte of changes, the copy of the model included). The others
    then fetch the new model (two float32 matrices) from those that hold it, doubling the
    holders each step: ``log2(N)`` model transfers one after the other, each over one
    machine's link (an assumption: Dask's workers fetch from any holder, and serve a limited
    number at once). With block momentum (the default merge above 2 tasks) the merger also
    needs the momentum, as large as the model, from the round before's merger: one more
    model transfer over one link, which starts when that version exists and so overlaps the
    round's compute (the round takes the longer of the two). Rounds are sequential
    (synchronous), so an epoch is ``tokens / W`` such rounds; the driver's one model out and
    back per epoch is left out. Single machine (N = 1): ``tokens`` times the compute time per
    word.
    """
    from embedkit.w2v.cluster import default_merge

    model_bytes = 2 * vocab * dim * 4
    compute_per_word *= dim / DIM  # every kernel is linear in the dimensions
    print(f"\nScale on paper: {tokens:.0e} tokens, {vocab:,} x {dim} model "
          f"({model_bytes / 1e6:.0f} MB), {compute_per_word * 1e6:.2f} us of compute per word "
          f"(measured at {DIM} dimensions, times {dim / DIM:g}) "
          f"per task, merge {merge_per_byte * 1e9:.2f} s/GB; hours per epoch "
          "(one task per machine):")
    single = tokens * compute_per_word / 3600
    print(f"  single machine, one thread: {single:,.1f} h")
    machines = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    for gbit in (1, 10):
        link = gbit * 1e9 / 8
        for per_round in (1e7, 1e8, 1e9):
            cells = []
            for n in machines:
                compute = per_round / n * compute_per_word
                back = min(model_bytes, per_round / n * back_per_word)
                spread = math.ceil(math.log2(n)) * model_bytes / link
                momentum = model_bytes / link if default_merge(n) == "momentum" else 0.0
                round_time = (max(compute, momentum) + (n - 1) * back / link
                              + n * back * merge_per_byte + spread)
                cells.append(tokens / per_round * round_time / 3600)
            best = machines[min(range(len(cells)), key=cells.__getitem__)]
            print(f"  {gbit:>2} Gbit/s, rounds of {per_round:.0e} words: " +
                  "  ".join(f"N={n}: {h:,.1f}" for n, h in zip(machines, cells, strict=True))
                  + f"   (fastest: N={best}, {single / min(cells):.1f}x one machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--syncs", default="50000,200000,800000")
    parser.add_argument("--clusters", default="2,4",
                        help="cluster sizes, comma-separated; N:SYNC/SYNC gives one its own "
                             "round lengths")
    parser.add_argument("--merges", default="default",
                        help="merge rules, comma-separated ('default': the library's choice)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", default=str(CORPUS))
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(json.loads(args.run))))
        return
    if not Path(args.corpus).exists():
        sys.exit(f"bench_cluster: {args.corpus} is absent (../shared/data)")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with gzip.open(args.corpus, "rb") as src, open(corpus, "wb") as dst:
            shutil.copyfileobj(src, dst)
        base = {"corpus": str(corpus), "epochs": args.epochs, "seed": args.seed}
        print(f"{args.corpus}, {args.epochs} epochs, seed {args.seed}", flush=True)
        results = []
        for threads in (1, 2):
            results.append(measure({**base, "threads": threads}))
            print(describe(results[-1]), flush=True)
        for entry in args.clusters.split(","):  # N, or N:SYNC/SYNC (round lengths of its own)
            n = int(entry.split(":")[0])
            syncs = entry.split(":")[1].split("/") if ":" in entry else args.syncs.split(",")
            for merge in args.merges.split(","):
                for sync in (int(x) for x in syncs):
                    results.append(measure({**base, "threads": n, "cluster": f"local:{n}",
                                            "sync_every": sync,
                                            "merge": None if merge == "default" else merge}))
                    print(describe(results[-1]), flush=True)
        two = next(r for r in results if not r.get("cluster") and r["threads"] == 2)
        for r in results:
            if r.get("cluster"):
                print(f"local:{r['threads']} sync {r['sync_every']:,} {r['merge']}: "
                      f"{r['words_per_sec'] / two['words_per_sec']:.2f}x the words/s of "
                      f"--threads 2; quality minus single --threads 1: WS353 "
                      f"{r['ws353'] - results[0]['ws353']:+.3f}, analogy "
                      f"{r['analogy'] - results[0]['analogy']:+.3f}")
        # local:2 only: with more worker processes than cores a task's time is not its work
        clustered = [r for r in results if r.get("cluster") and r["threads"] == 2]
        if clustered:
            scale_model(*(statistics.median(r[key] for r in clustered) for key in
                          ("compute_per_word", "merge_per_byte", "back_bytes_per_task_word")))


if __name__ == "__main__":
    main()
