"""embedkit train-w2v against gensim: same corpus, same settings, one run, each training in a
fresh process (wall time, peak RSS), both evaluated by the same code.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_w2v.py [--repeat 3]

For each corpus (``../shared/data/wordnet-glosses.txt.gz``, ``lee_background.cor``) and model
(skip-gram, CBOW), 5 epochs, dim 100, window 5, negative 5, min-count 5, subsample 1e-3,
starting learning rate 0.025 skip-gram / 0.05 CBOW (word2vec's; gensim's ``alpha`` default is
0.025 for both, so it is passed explicitly):
gensim ``Word2Vec(workers=2)`` and embedkit (``threads=2``, and ``threads=1`` on the larger
corpus for the 1 → 2 thread speed-up). Both read the same pre-tokenised copy of the corpus
(lower-cased, one sentence per line), and their timings include the vocabulary pass. Peak
memory is the largest PSS summed over the training process and its children (sampled every
50 ms by a thread while it trains): gensim's threads live in one process, embedkit's second
worker is a forked process sharing the matrices, which PSS counts once.
embedkit's vectors go through its ``.vec`` writer and are read back by gensim's
``KeyedVectors.load_word2vec_format`` (its ``.bin`` too), so the evaluation (gensim's
``evaluate_word_pairs`` on WordSim353 and ``evaluate_word_analogies`` on the Google analogies)
is literally the same code for both. Prints medians over ``--repeat`` runs and the ratios.
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

# Same BLAS limits for both systems, set before NumPy is imported (here and in the children).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CORPORA = {"glosses": DATA / "wordnet-glosses.txt.gz", "lee": DATA / "lee_background.cor"}
SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, subsample=1e-3, epochs=5, seed=1,
                lr={"skipgram": 0.025, "cbow": 0.05})

CHILD = r"""
import json, os, sys, threading, time
import psutil
args = json.loads(sys.argv[1])
s = args["settings"]
peak, training = [0], threading.Event()
def sample():
    # PSS splits shared pages between their users: memory shared by forked workers counts once
    me = psutil.Process(os.getpid())
    while not training.wait(0.05):
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except psutil.NoSuchProcess:
                pass
        peak[0] = max(peak[0], total)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
def peak_pss_mb():
    training.set()
    sampler.join()
    return peak[0] / 2**20
start = time.perf_counter()
if args["system"] == "gensim":
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    model = Word2Vec(LineSentence(args["corpus"]), vector_size=s["dim"], window=s["window"],
                     negative=s["negative"], min_count=s["min_count"], sample=s["subsample"],
                     epochs=s["epochs"], sg=int(args["model"] == "skipgram"),
                     alpha=s["lr"][args["model"]],
                     workers=args["threads"], seed=s["seed"])
    seconds = time.perf_counter() - start
    pss = peak_pss_mb()
    kv = model.wv
else:
    from embedkit.w2v.train import Word2VecConfig, train_word2vec
    model = train_word2vec([args["corpus"]], Word2VecConfig(
        model=args["model"], dim=s["dim"], window=s["window"], negative=s["negative"],
        min_count=s["min_count"], subsample=s["subsample"], epochs=s["epochs"],
        lr=s["lr"][args["model"]], seed=s["seed"], threads=args["threads"]))
    seconds = time.perf_counter() - start
    pss = peak_pss_mb()  # before gensim is imported for the evaluation
    model.save(args["out"] + ".vec")
    model.save(args["out"] + ".bin")
    from gensim.models import KeyedVectors
    kv = KeyedVectors.load_word2vec_format(args["out"] + ".vec", binary=False)
    binary = KeyedVectors.load_word2vec_format(args["out"] + ".bin", binary=True)
    assert binary.index_to_key == kv.index_to_key
    import numpy as np
    assert np.allclose(binary.vectors, kv.vectors, rtol=1e-5, atol=1e-7)
spearman = kv.evaluate_word_pairs(args["wordsim"], delimiter="\t")[1][0]
analogy = kv.evaluate_word_analogies(args["analogies"])[0]
print(json.dumps({"seconds": seconds, "pss_mb": pss, "wordsim": float(spearman),
                  "analogy": float(analogy), "vocab": len(kv.index_to_key)}))
"""


def tokenised_copy(source: Path, directory: str) -> tuple[str, int]:
    """The corpus tokenised by embedkit's tokenizer, one sentence per line, and its word count."""
    from embedkit.io import open_input
    from embedkit.text.tokenize import SENTENCE_END, Tokenizer

    tokenizer = Tokenizer()
    target = os.path.join(directory, source.name.removesuffix(".gz") + ".tok")
    words = 0
    with open_input(source) as lines, open(target, "w", encoding="utf-8") as out:
        for line in lines:
            tokens = [t for t in tokenizer.tokens(line) if t != SENTENCE_END]
            words += len(tokens)
            out.write(" ".join(tokens) + "\n")
    return target, words


def run(system: str, model: str, corpus: str, threads: int, out: str) -> dict:
    args = {"system": system, "model": model, "corpus": corpus, "threads": threads,
            "settings": SETTINGS, "out": out, "wordsim": str(DATA / "wordsim353.tsv"),
            "analogies": str(DATA / "questions-words.txt")}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_w2v: {system} {model} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration")
    parser.add_argument("--corpus", choices=list(CORPORA), action="append",
                        help="only this corpus (repeatable)")
    parser.add_argument("--model", choices=["skipgram", "cbow"], action="append",
                        help="only this model (repeatable)")
    options = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench_w2v: {DATA} not found")
    header = (f"{'corpus':8} {'model':8} {'system':14} {'words/s':>9} {'ratio':>6} "
              f"{'PSS MB':>7} {'WS353':>6} {'analogy':>7} {'vocab':>6}")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name in options.corpus or list(CORPORA):
            corpus, words = tokenised_copy(CORPORA[name], tmp)
            for model in options.model or ["skipgram", "cbow"]:
                systems = [("gensim", 2), ("embedkit", 2)]
                if name == "glosses":
                    systems.append(("embedkit", 1))
                runs: dict = {key: [] for key in systems}
                for _ in range(options.repeat):  # round robin: load changes hit all alike
                    for key in systems:
                        runs[key].append(run(key[0], model, corpus, key[1],
                                             os.path.join(tmp, "v")))
                medians = {key: {field: statistics.median(r[field] for r in results)
                                 for field in results[0]} for key, results in runs.items()}
                base = words * SETTINGS["epochs"] / medians[("gensim", 2)]["seconds"]
                for (system, threads), m in medians.items():
                    speed = words * SETTINGS["epochs"] / m["seconds"]
                    print(f"{name:8} {model:8} {f'{system} x{threads}':14} {speed:9.0f} "
                          f"{speed / base:6.2f} {m['pss_mb']:7.0f} {m['wordsim']:6.3f} "
                          f"{m['analogy']:7.3f} {round(m['vocab']):6d}", flush=True)
    print(f"medians of {options.repeat} runs; words/s = corpus words x epochs / wall time "
          "(vocabulary pass included); ratio = words/s over gensim x2 in the same run")


if __name__ == "__main__":
    main()
