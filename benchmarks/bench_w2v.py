"""train-w2v against every word2vec peer, each a whole command measured from outside.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_w2v.py [--repeat 3] [--big]

Systems, each run as its own process (the command a user would type, vocabulary pass and
writing the vectors included): ``embedkit train-w2v`` with the model's default kernel
(``--system embedkit-window`` / ``embedkit-pair`` ask for ``--kernel window`` / ``pair``),
gensim 4 ``Word2Vec`` reading a ``LineSentence`` and reading a
``corpus_file``, the word2vec C tool and pWord2Vec (skip-gram only) built from
``../shared/peers`` by its ``build.sh`` into ``benchmarks/out/peers``, and fastText
(``fasttext-wheel``, ``-minn 0 -maxn 0``: no subwords) when it imports. Every system trains on
the same pre-tokenised copy of the corpus (embedkit's tokenizer, one sentence per line), 5
epochs, dim 100, window 5, negative 5, min-count 5, sample 1e-3, starting learning rate
0.025 (skip-gram) / 0.05 (CBOW), with BLAS and OpenMP limited to one thread each
(``OMP_NUM_THREADS=T`` for pWord2Vec, whose threads are OpenMP's).

Wall time is that of the whole command. CPU time is the user + system time of its whole
process tree (``RUSAGE_CHILDREN`` of this process around the command: forked workers and
threads included): wall time against CPU time shows how much of the two cores a run got, so
a run that waited behind another job's processes stands out (contention inflates CPU time
too, through the shared caches, but far less). Peak memory is the largest sum of PSS
(proportional set size: pages shared by forked workers count once) over the command's
process tree, sampled every 50 ms by a separate sampler process; nothing is added to the
measured process. Each sample is the smaller of two passes over the tree, one in reverse
order: a pass that reads some processes before and some after another maps or unmaps a
shared page counts that page more than once.
Every output is a word2vec file read back by embedkit's reader and evaluated by the same code
(WordSim353 Spearman, Google analogies, embedkit's evaluation), outside the timing.

Runs go round robin (every system once, then again), repeat ``r`` with seed ``r + 1``
(``--first-seed`` moves the seeds, to add runs to an earlier run):
speed and memory are medians of ``--repeat`` runs, quality the mean ± standard deviation
over those seeds (the two C tools take no seed: their spread is that of thread timing).
The load average is printed before each block: this machine is shared, and only ratios
within one block are comparable. ``--big`` adds a ~32 M-token corpus, the WordNet glosses
repeated 22 times (``--copies N``: N times; ``--big-repeat R``: R runs on it; ``--big-only``:
only it; ``--system``, ``--model`` and ``--threads`` narrow a run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
PEERS = HERE.parent.parent / "shared" / "peers"
SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5)
LR = {"skipgram": 0.025, "cbow": 0.05}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

SAMPLER = r"""
import os, sys, time
root, stop, parent, peak = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), 0
def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out
def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
sys.stdout.write("ready\n"); sys.stdout.flush()
while not os.path.exists(stop) and os.getppid() == parent:  # or when the benchmark dies
    # the smaller of a pass in tree order and one in reverse order: a page's share changes
    # when a process maps or unmaps it, and a pass over processes read before and after the
    # change counts it more than once (embedkit's forked workers start and end each epoch:
    # one pass counted 1,141 MiB of an 888 MiB run); the two orders err opposite ways
    processes = tree(root)
    forward = sum(pss(p) for p in processes)
    peak = max(peak, min(forward, sum(pss(p) for p in reversed(processes))))
    time.sleep(0.05)
print(peak)
"""

GENSIM = r"""
import json, sys
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
a = json.loads(sys.argv[1])
source = {"corpus_file": a["corpus"]} if a["mode"] == "file" else {
    "sentences": LineSentence(a["corpus"])}
model = Word2Vec(**source, vector_size=a["dim"], window=a["window"], negative=a["negative"],
                 min_count=a["min_count"], sample=a["sample"], epochs=a["epochs"],
                 sg=int(a["model"] == "skipgram"), alpha=a["lr"], workers=a["threads"],
                 seed=a["seed"])
model.wv.save_word2vec_format(a["out"], binary=True)
"""

FASTTEXT = r"""
import json, sys
import fasttext
a = json.loads(sys.argv[1])
model = fasttext.train_unsupervised(a["corpus"], model=a["model"], dim=a["dim"], ws=a["window"],
                                    neg=a["negative"], minCount=a["min_count"], t=a["sample"],
                                    epoch=a["epochs"], lr=a["lr"], thread=a["threads"],
                                    minn=0, maxn=0, verbose=0)
words = model.get_words()
with open(a["out"], "w", encoding="utf-8") as out:
    out.write(f"{len(words)} {a['dim']}\n")
    for w in words:
        out.write(w + " " + " ".join(f"{v:.6g}" for v in model.get_word_vector(w)) + "\n")
"""


def tokenised_copy(source: Path, target: str, copies: int = 1) -> int:
    """Write ``source`` tokenised by embedkit's tokenizer, one sentence per line, ``copies``
    times over; return the number of words written."""
    from embedkit.io import open_input
    from embedkit.text.tokenize import SENTENCE_END, Tokenizer

    tokenizer, words, lines = Tokenizer(), 0, []
    with open_input(source) as stream:
        for line in stream:
            tokens = [t for t in tokenizer.tokens(line) if t != SENTENCE_END]
            words += len(tokens)
            lines.append(" ".join(tokens) + "\n")
    with open(target, "w", encoding="utf-8") as out:
        for _ in range(copies):
            out.writelines(lines)
    return words * copies


def build_peers(directory: Path) -> Path | None:
    """The C peers, built once by ../shared/peers/build.sh (None when they cannot be)."""
    if (directory / "pWord2Vec").exists() and (directory / "word2vec").exists():
        return directory
    done = subprocess.run(["bash", str(PEERS / "build.sh"), str(directory)],
                          capture_output=True, text=True)
    if done.returncode:
        print(f"# C peers not built ({done.stderr.strip().splitlines()[-1:]}): skipped")
        return None
    return directory


def command(system: str, model: str, threads: int, corpus: str, out: str, seed: int,
            peers: Path | None) -> tuple[list[str], dict[str, str]]:
    """The command line and extra environment of one training."""
    s, lr = SETTINGS, LR[model]
    env = {var: "1" for var in THREAD_VARS}
    if system.startswith("embedkit"):
        kernel = ["--kernel", system.removeprefix("embedkit-")] if "-" in system else []
        return [sys.executable, "-m", "embedkit", "train-w2v", corpus, "--model", model,
                "--dim", str(s["dim"]), "--window", str(s["window"]),
                "--negative", str(s["negative"]), "--min-count", str(s["min_count"]),
                "--subsample", str(s["sample"]), "--epochs", str(s["epochs"]), "--lr", str(lr),
                "--threads", str(threads), "--seed", str(seed), *kernel, "-o", out], env
    if system.startswith("gensim") or system == "fasttext":
        args = dict(s, model=model, lr=lr, threads=threads, seed=seed, corpus=corpus, out=out,
                    mode=system.removeprefix("gensim-"))
        child = FASTTEXT if system == "fasttext" else GENSIM
        return [sys.executable, "-c", child, json.dumps(args)], env
    assert peers is not None
    flags = ["-train", corpus, "-output", out, "-binary", "1", "-size", str(s["dim"]),
             "-window", str(s["window"]), "-negative", str(s["negative"]),
             "-sample", str(s["sample"]), "-iter", str(s["epochs"]),
             "-min-count", str(s["min_count"]), "-threads", str(threads), "-alpha", str(lr)]
    if system == "pword2vec":
        env["OMP_NUM_THREADS"] = str(threads)
        return [str(peers / "pWord2Vec"), *flags], env
    return [str(peers / "word2vec"), *flags, "-cbow", str(int(model == "cbow")), "-hs", "0"], env


def tree_cpu() -> float:
    """User + system seconds of this process's children reaped so far (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(cmd: list[str], env: dict[str, str], scratch: str) -> tuple[float, float, float]:
    """Wall seconds of ``cmd``, the peak PSS (MB) of its process tree and the tree's CPU
    seconds."""
    stop = os.path.join(scratch, "stop")
    if os.path.exists(stop):
        os.remove(stop)
    cpu, start = tree_cpu(), time.perf_counter()
    process = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    sampler = subprocess.Popen([sys.executable, "-c", SAMPLER, str(process.pid), stop,
                                str(os.getpid())],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert sampler.stdout is not None
        sampler.stdout.readline()  # "ready": the sampler runs before the command has gone far
        _, err = process.communicate()
        seconds = time.perf_counter() - start
        cpu = tree_cpu() - cpu  # before the sampler, a child too, is reaped
        open(stop, "w").close()
        peak = int(sampler.communicate()[0].strip() or 0)
    finally:  # on Ctrl-C or an error, leave nothing running
        for child in (process, sampler):
            if child.poll() is None:
                child.kill()
                child.wait()
    if process.returncode:
        sys.exit(f"bench_w2v: {' '.join(cmd[:4])} ... failed:\n{err[-2000:]}")
    return seconds, peak / 2**20, cpu


def evaluate(path: str) -> tuple[float, float]:
    """WordSim353 Spearman and analogy accuracy of a word2vec file (embedkit's code)."""
    from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity
    from embedkit.vectors.formats import load_vectors

    kv = load_vectors(path)
    return (evaluate_similarity(kv, DATA / "wordsim353.tsv").spearman,
            evaluate_analogies(kv, DATA / "questions-words.txt").overall.accuracy)


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f}±{sd:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs (seeds) per configuration")
    parser.add_argument("--model", choices=list(LR), action="append", help="only this model")
    parser.add_argument("--threads", type=int, action="append", help="only these (1, 2)")
    parser.add_argument("--system", action="append", help="only these systems")
    parser.add_argument("--big", action="store_true",
                        help="also the ~30 M-token corpus (the glosses repeated 22 times)")
    parser.add_argument("--big-only", action="store_true", help="only the 30 M-token corpus")
    parser.add_argument("--copies", type=int, default=22,
                        help="times the big corpus repeats the glosses (4: ~5.8 M tokens)")
    parser.add_argument("--big-repeat", type=int,
                        help="runs (seeds) per configuration on the big corpus (default: --repeat)")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="seed of the first run (to add runs to an earlier one)")
    options = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench_w2v: {DATA} not found")
    peers = build_peers(HERE / "out" / "peers") if shutil.which("gcc") else None
    try:
        import fasttext  # noqa: F401
        has_fasttext = True
    except ImportError:
        print("# fastText not importable (pip install fasttext-wheel): skipped")
        has_fasttext = False
    systems = ["embedkit", "gensim-line", "gensim-file"]
    systems += ["word2vec-c", "pword2vec"] if peers else []
    systems += ["fasttext"] if has_fasttext else []
    if options.system:
        kernels = [s for s in options.system if s in ("embedkit-window", "embedkit-pair")]
        systems = [s for s in systems if s in options.system] + kernels
    corpora = [] if options.big_only else [("glosses", 1)]
    corpora += ([(f"glosses×{options.copies}", options.copies)]
                if options.big or options.big_only else [])
    print(f"{'corpus':11} {'model':8} {'T':>1} {'system':14} {'M words/s':>9} {'ratio':>6} "
          f"{'PSS MB':>7} {'CPU s':>6} {'CPU ×':>6} {'cores':>5} {'WS353':>11} {'analogy':>11}")
    with tempfile.TemporaryDirectory(prefix="bench-w2v-") as tmp:
        for name, copies in corpora:
            corpus = os.path.join(tmp, f"{name}.txt")
            words = tokenised_copy(DATA / "wordnet-glosses.txt.gz", corpus, copies)
            for model in options.model or list(LR):
                for threads in options.threads or [1, 2]:
                    block = [s for s in systems if not (s == "pword2vec" and model == "cbow")]
                    load = os.getloadavg()
                    print(f"# {name} ({words / 1e6:.1f} M words), {model}, {threads} "
                          f"thread(s): load average before {load[0]:.2f} {load[1]:.2f} "
                          f"{load[2]:.2f}", flush=True)
                    runs: dict[str, list] = {s: [] for s in block}
                    repeat = options.repeat if copies == 1 else options.big_repeat or options.repeat
                    for r in range(repeat):  # round robin: load changes hit all alike
                        for system in block:
                            out = os.path.join(tmp, f"{system}.vec" if system == "fasttext"
                                               else f"{system}.bin")
                            cmd, env = command(system, model, threads, corpus, out,
                                               options.first_seed + r, peers)
                            seconds, pss, cpu = measure(cmd, env, tmp)
                            runs[system].append((seconds, pss, *evaluate(out), cpu))
                            print(f"#   run {r + 1} (seed {options.first_seed + r}) {system}: "
                                  f"{seconds:.1f} s wall, {cpu:.1f} s CPU, peak PSS "
                                  f"{pss:.0f} MB, WS353 {runs[system][-1][2]:.3f}, "
                                  f"analogy {runs[system][-1][3]:.3f}, load "
                                  f"{os.getloadavg()[0]:.2f}", flush=True)
                    reference = runs.get("gensim-file") or next(iter(runs.values()))
                    base = statistics.median(r[0] for r in reference)
                    base_cpu = statistics.median(r[4] for r in reference)
                    for system, results in runs.items():
                        seconds = statistics.median(r[0] for r in results)
                        cpu = statistics.median(r[4] for r in results)
                        speed = words * SETTINGS["epochs"] / seconds / 1e6
                        print(f"{name:11} {model:8} {threads:1d} {system:14} {speed:9.2f} "
                              f"{base / seconds:6.2f} "
                              f"{statistics.median(r[1] for r in results):7.0f} "
                              f"{cpu:6.1f} {base_cpu / cpu:6.2f} {cpu / seconds:5.2f} "
                              f"{spread([r[2] for r in results]):>11} "
                              f"{spread([r[3] for r in results]):>11}", flush=True)
                    load = os.getloadavg()
                    print(f"# load average after {load[0]:.2f}", flush=True)
    print(f"words/s: corpus words x epochs / wall time of the whole command, median of "
          f"{options.repeat} (big corpus: {options.big_repeat or options.repeat}); ratio: over "
          "gensim corpus_file in the same block; PSS: median "
          "of the peak of the process tree; CPU s: median user + system seconds of the tree, "
          "CPU ×: gensim corpus_file's over it; cores: CPU s over wall seconds (near T when "
          "the machine had T cores free); WS353 / analogy: mean±sd over the seeds")


if __name__ == "__main__":
    main()
