"""`embedkit phrases` against gensim's Phrases + Phraser and the C word2phrase, on the same corpus.

Default corpus ../shared/data/wordnet-glosses.txt.gz (1.46M tokens; ``--copies N`` repeats it N
times), min count 5, threshold 100, one pass: learn the phrases, then write the corpus with them
joined. Each system runs in its own process, in turn, ``--repeats`` times; medians are printed
with the load average of each run.

- embedkit: ``python -m embedkit phrases CORPUS.gz --tokenizer whitespace --no-lowercase``
  (the C tool's tokens), reading the .gz;
- gensim: ``Phrases`` over a ``LineSentence`` of the .gz, frozen to a ``Phraser``, then every
  sentence written through it; its scorer is word2phrase's (total tokens, not gensim's default
  vocabulary size), so both find comparable phrases;
- C: word2phrase.c built by ../shared/peers/build.sh, on the decompressed text (it reads no .gz).

Words/s = corpus tokens / the wall time of the whole process (start-up and imports included);
the work time that each Python process reports (imports excluded) is printed beside it. Peak
memory is the process's VmHWM, read from /proc/PID/status by this script while the process runs
(measured from outside; the high-water mark only grows, so the last reading is the peak). The
outputs are compared with the C tool's, line by line.

Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_phrases.py [--repeats 3]
       [--peers DIR] [--copies N]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "data" / "wordnet-glosses.txt.gz"
MIN_COUNT, THRESHOLD = 5, 100.0

EMBEDKIT = """
import sys, time
start = time.perf_counter()
from embedkit.cli import main
t0 = time.perf_counter()
try:
    main(["phrases", sys.argv[1], "--tokenizer", "whitespace", "--no-lowercase", "--min-count",
          sys.argv[3], "--threshold", sys.argv[4], "-o", sys.argv[2]], standalone_mode=False)
finally:
    print(f"work {time.perf_counter() - t0}", file=sys.stderr)
"""

GENSIM = """
import sys, time
from gensim.models.phrases import Phrases, Phraser
from gensim.models.word2vec import LineSentence

def word2phrase_scorer(worda_count, wordb_count, bigram_count, len_vocab, min_count,
                       corpus_word_count):
    return (bigram_count - min_count) / worda_count / wordb_count * corpus_word_count

t0 = time.perf_counter()
sentences = LineSentence(sys.argv[1])
phraser = Phraser(Phrases(sentences, min_count=int(sys.argv[3]), threshold=float(sys.argv[4]),
                          scoring=word2phrase_scorer))
with open(sys.argv[2], "w") as out:
    for sentence in sentences:
        out.write(" ".join(phraser[sentence]) + "\\n")
print(f"work {time.perf_counter() - t0}", file=sys.stderr)
"""


def run(command: list[str]) -> dict:
    """Run ``command``; its wall time, peak VmHWM (MB, polled from /proc) and reported work."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    peak_kb = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    wall = time.perf_counter() - start
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode:
        raise SystemExit(f"{command[0]} failed:\n{stderr}")
    work = [float(line.split()[1]) for line in stderr.splitlines() if line.startswith("work ")]
    return {"wall": wall, "peak_mb": peak_kb / 1024, "work": work[0] if work else wall,
            "load": os.getloadavg()[0]}


def tokens(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines)


def differing_lines(reference: Path, other: Path) -> tuple[int, int]:
    """(differing lines, phrase tokens in ``other``)."""
    with open(reference, encoding="utf-8", errors="surrogateescape") as a, \
            open(other, encoding="utf-8", errors="surrogateescape") as b:
        differ = phrases = 0
        for left, right in zip(a, b, strict=True):
            right_tokens = right.split()
            differ += left.split() != right_tokens
            phrases += sum("_" in t for t in right_tokens)
    return differ, phrases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peers", type=Path, default=None,
                        help="directory of the built C tools (default: built in a temporary "
                             "directory by ../shared/peers/build.sh)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--copies", type=int, default=1, help="repeat the corpus N times")
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"{args.corpus} is missing")
    with tempfile.TemporaryDirectory(prefix="bench-phrases-") as tmp:
        work = Path(tmp)
        peers = args.peers or work / "peers"
        if not (peers / "word2phrase").exists():
            subprocess.run(["bash", str(SHARED / "peers" / "build.sh"), str(peers)],
                           check=True, stdout=subprocess.DEVNULL)
        opener = gzip.open if args.corpus.suffix == ".gz" else open
        with opener(args.corpus, "rt", encoding="utf-8") as src:
            text = src.read()
        plain, packed = work / "corpus.txt", work / "corpus.txt.gz"
        plain.write_text(text * args.copies, encoding="utf-8")
        with open(plain, "rb") as src, gzip.open(packed, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        n_tokens = tokens(text.splitlines()) * args.copies
        settings = [str(MIN_COUNT), str(THRESHOLD)]
        systems = {
            "embedkit": lambda out: [sys.executable, "-c", EMBEDKIT, str(packed), str(out),
                                     *settings],
            "gensim": lambda out: [sys.executable, "-c", GENSIM, str(packed), str(out),
                                   *settings],
            "C word2phrase": lambda out: [str(peers / "word2phrase"), "-train", str(plain),
                                          "-output", str(out), "-min-count", settings[0],
                                          "-threshold", settings[1], "-debug", "0"],
        }
        results: dict[str, list[dict]] = {name: [] for name in systems}
        for repeat in range(args.repeats):
            for name, command in systems.items():
                result = run(command(work / f"{name.split()[0]}.txt"))
                results[name].append(result)
                print(f"run {repeat + 1} {name:>14}: {result['wall']:6.2f} s wall, "
                      f"{result['work']:6.2f} s work, {result['peak_mb']:7.1f} MB, "
                      f"load {result['load']:.2f}", flush=True)
        print(f"\n{args.corpus.name} x{args.copies}: {n_tokens:,} tokens, min count "
              f"{MIN_COUNT}, threshold {THRESHOLD:g}; medians of {args.repeats} runs")
        print(f"{'system':>14} {'words/s':>10} {'(work)':>10} {'wall s':>7} {'peak MB':>8} "
              f"{'load':>5} {'lines unlike C':>15} {'phrase tokens':>14}")
        speed = {}
        for name, runs in results.items():
            wall = statistics.median(r["wall"] for r in runs)
            busy = statistics.median(r["work"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            load = statistics.median(r["load"] for r in runs)
            speed[name] = n_tokens / wall
            differ, phrases = differing_lines(work / "C.txt", work / f"{name.split()[0]}.txt")
            print(f"{name:>14} {n_tokens / wall:>10,.0f} {n_tokens / busy:>10,.0f} "
                  f"{wall:>7.2f} {peak:>8.1f} {load:>5.2f} {differ:>15,} {phrases:>14,}")
        print(f"\nembedkit words/s: {speed['embedkit'] / speed['gensim']:.2f}x gensim's, "
              f"{speed['embedkit'] / speed['C word2phrase']:.2f}x the C tool's "
              f"(load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
