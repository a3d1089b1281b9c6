"""train-w2v --subwords against fastText's own tool: speed, memory, quality, unseen words.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_fasttext.py [--repeat 3]
[--model both] [--rare 300]

Both train on the same pre-tokenised copy of the WordNet glosses (bench_w2v's) with the same
settings, fastText's of issue #20: ``-minn 3 -maxn 6 -bucket 2000000``, dim 100, 5 epochs,
2 threads, window 5, negative 5, min-count 5, ``-t 1e-4`` (embedkit ``--subsample 1e-4``),
starting learning rate 0.05 (fastText's default for both models, given to both tools), and
embedkit's noise distribution at fastText's count^0.5 (``--ns-exponent 0.5``; fastText's is
fixed). Each is its own process writing a fastText ``.bin``, measured as bench_w2v measures:
wall time of the whole command, its CPU seconds, and the peak of the summed PSS of its process
tree. PSS splits each page among the processes that map it, so summed over the tree a page
that only the run's processes map (the matrices embedkit's forked workers share, the pages
they inherited copy-on-write) counts once, as in fastText's single process; a page shared
with other processes on the machine (system libraries) counts by the run's share. Summed RSS
would count the shared matrices once per worker. Both files are read by
embedkit's reader (bit-exact to fastText's vectors, see check_fasttext_compat.py) and scored
by the same code: WordSim353 Spearman and analogy accuracy (unseen words skipped, and with
``--oov ngrams``). Words/s is corpus words times epochs over wall seconds, for both. Runs go
round robin (``--model both``: skip-gram and CBOW in the same run); medians of ``--repeat``;
the load average is printed with every figure (the machine is shared: only same-run ratios
count).

Rare-word check (``--rare N``): N base forms ``w`` whose inflection ``w + "s"`` is in the
vocabulary (both seen 5 to 500 times) are deleted from the corpus, both tools train once on
that corpus (the first model given), and each held-out base form's vector from its n-grams
is queried: how often its inflection is among its 10 nearest words, and how many of the 10
nearest words of the base form in the first full-corpus model of the same tool come back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from bench_w2v import DATA, measure, tokenised_copy

from embedkit.vectors.evaluate import evaluate_analogies, evaluate_similarity
from embedkit.vectors.formats import load_vectors
from embedkit.vectors.keyed import KeyedVectors

SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-4, epochs=5,
                minn=3, maxn=6, bucket=2_000_000, threads=2, lr=0.05)
#: fastText's noise distribution: count^0.5 (src/loss.cc), not word2vec's 0.75.
NS_EXPONENT = 0.5
FASTTEXT = r"""
import json, sys
import fasttext
a = json.loads(sys.argv[1])
model = fasttext.train_unsupervised(a["corpus"], model=a["model"], dim=a["dim"], ws=a["window"],
                                    neg=a["negative"], minCount=a["min_count"], t=a["sample"],
                                    epoch=a["epochs"], thread=a["threads"], lr=a["lr"],
                                    minn=a["minn"], maxn=a["maxn"], bucket=a["bucket"],
                                    verbose=0)
model.save_model(a["out"])
"""


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def command(system: str, model: str, corpus: str, out: str, seed: int) -> list[str]:
    s = SETTINGS
    if system == "fasttext":
        # fasttext-wheel's train_unsupervised takes no seed: runs differ by thread timing
        return [sys.executable, "-c", FASTTEXT, json.dumps(dict(s, model=model, corpus=corpus,
                                                                out=out))]
    return [sys.executable, "-m", "embedkit", "train-w2v", corpus, "--model", model,
            "--subwords", f"{s['minn']}-{s['maxn']}", "--buckets", str(s["bucket"]),
            "--dim", str(s["dim"]), "--window", str(s["window"]),
            "--negative", str(s["negative"]), "--min-count", str(s["min_count"]),
            "--subsample", str(s["sample"]), "--epochs", str(s["epochs"]),
            "--threads", str(s["threads"]), "--lr", str(s["lr"]),
            "--ns-exponent", str(NS_EXPONENT), "--seed", str(seed), "-o", out,
            "--format", "fasttext"]


def quality(kv: KeyedVectors) -> dict[str, float]:
    out = {}
    for oov in ("skip", "ngrams"):
        similarity = evaluate_similarity(kv, DATA / "wordsim353.tsv", oov=oov)
        analogies = evaluate_analogies(kv, DATA / "questions-words.txt", oov=oov)
        out[f"wordsim_{oov}"] = similarity.spearman or float("nan")
        out[f"analogy_{oov}"] = analogies.overall.accuracy
    return out


def neighbours(kv: KeyedVectors, vectors: np.ndarray, k: int = 10) -> np.ndarray:
    unit = kv.vectors / np.maximum(kv.norms[:, None], 1e-12)
    queries = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.argsort(-(queries @ unit.T), axis=1)[:, :k]


def held_out_corpus(corpus: str, target: str, count: int, seed: int) -> list[str]:
    """Delete ``count`` base forms (with their ``+s`` inflection seen too) from the corpus."""
    with open(corpus, encoding="utf-8") as lines:
        text = lines.read()
    counts = Counter(text.split())
    bases = sorted(w for w, c in counts.items() if 5 <= c <= 500 and len(w) >= 4
                   and 5 <= counts.get(w + "s", 0) <= 500)
    chosen = set(np.random.default_rng(seed).choice(bases, min(count, len(bases)),
                                                    replace=False).tolist())
    with open(target, "w", encoding="utf-8") as out:
        for line in text.splitlines():
            out.write(" ".join(w for w in line.split() if w not in chosen) + "\n")
    return sorted(chosen)


def rare_word_check(full: KeyedVectors, held: KeyedVectors, bases: list[str]) -> dict:
    assert held.subwords is not None
    unseen = [w for w in bases if w not in held.index and w in full.index]
    vectors, _ = held.subwords.unseen_vectors(unseen)
    found = neighbours(held, vectors)
    inflected = np.mean([held.index.get(w + "s", -1) in row
                         for w, row in zip(unseen, found.tolist(), strict=True)])
    reference = neighbours(full, full.vectors[[full.index[w] for w in unseen]], 11)[:, 1:]
    overlap = np.mean([len({held.words[i] for i in a} & {full.words[i] for i in b}) / 10
                       for a, b in zip(found.tolist(), reference.tolist(), strict=True)])
    return {"held_out": len(unseen), "inflection_in_top10": float(inflected),
            "base_neighbours_back": float(overlap)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default="both", choices=["skipgram", "cbow", "both"])
    parser.add_argument("--rare", type=int, default=300)
    parser.add_argument("--corpus", default=str(DATA / "wordnet-glosses.txt.gz"))
    args = parser.parse_args()
    systems = ("fasttext", "embedkit")
    models = ("skipgram", "cbow") if args.model == "both" else (args.model,)
    with tempfile.TemporaryDirectory(prefix="embedkit-bench-ft-") as scratch:
        corpus = os.path.join(scratch, "corpus.txt")
        words = tokenised_copy(Path(args.corpus), corpus)
        print(f"# {args.corpus}: {words:,} words; {', '.join(models)}; {SETTINGS}; embedkit "
              f"--ns-exponent {NS_EXPONENT}; {load()}", flush=True)
        runs: dict[tuple[str, str], list[dict]] = {(m, s): [] for m in models for s in systems}
        first: dict[tuple[str, str], KeyedVectors] = {}
        for repeat in range(args.repeat):
            for model in models:
                for system in systems:
                    out = os.path.join(scratch, f"{system}-{model}-{repeat}.bin")
                    where = load()
                    seconds, peak, cpu = measure(command(system, model, corpus, out,
                                                         repeat + 1), {}, scratch)
                    kv = load_vectors(out)
                    first.setdefault((model, system), kv)
                    record = {"seconds": seconds, "cores": cpu / seconds, "peak_mb": peak,
                              "words_per_sec": words * SETTINGS["epochs"] / seconds,
                              **quality(kv), "load": where}
                    runs[model, system].append(record)
                    print(f"{model:8} {system:9} run {repeat + 1}: " + json.dumps(record),
                          flush=True)
                    if first[model, system] is not kv:
                        os.remove(out)  # 800 MB each: keep only the first of each
        print(f"# medians (words/s, peak MiB, seconds, quality)  ({load()})")
        for (model, system), records in runs.items():
            medians = {key: statistics.median(r[key] for r in records)
                       for key in records[0] if key != "load"}
            print(f"{model:8} {system:9} " + json.dumps({k: round(v, 4)
                                                         for k, v in medians.items()}))
        for model in models:
            ratio = {key: (statistics.median(r[key] for r in runs[model, "embedkit"])
                           / statistics.median(r[key] for r in runs[model, "fasttext"]))
                     for key in ("words_per_sec", "peak_mb")}
            print(f"# {model}: embedkit / fastText words/s {ratio['words_per_sec']:.3f}, "
                  f"peak memory {ratio['peak_mb']:.3f}  ({load()})", flush=True)
        if args.rare:
            held_corpus = os.path.join(scratch, "held.txt")
            bases = held_out_corpus(corpus, held_corpus, args.rare, 7)
            for system in systems:
                out = os.path.join(scratch, f"{system}-held.bin")
                where = load()
                measure(command(system, models[0], held_corpus, out, 1), {}, scratch)
                result = rare_word_check(first[models[0], system], load_vectors(out), bases)
                print(f"{models[0]:8} {system:9} rare words: "
                      + json.dumps({**result, "load": where}), flush=True)


if __name__ == "__main__":
    main()
