"""Does `embedkit phrases` join the same phrases as the C `word2phrase`?

Runs both on the same corpus (default ../shared/data/wordnet-glosses.txt.gz, decompressed for
the C tool) at several settings and compares the outputs line by line, token by token.
embedkit reads with ``--tokenizer whitespace --no-lowercase``: the C tool's tokens (it splits
on spaces, tabs and line ends and keeps case). A second pass is the C tool run on its own
output against ``--passes 2``.

Usage (gcc needed to build the C tool from ../shared/peers):
    python benchmarks/check_word2phrase_compat.py [--peers DIR] [--corpus FILE]
Exits 1 when a single-pass setting differs.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "data" / "wordnet-glosses.txt.gz"
SETTINGS = [(5, 100.0), (5, 10.0), (5, 1000.0), (2, 50.0), (20, 100.0), (1, 0.0)]


def build_peers(directory: Path) -> Path:
    """The word2phrase binary, built by ../shared/peers/build.sh when not there yet."""
    binary = directory / "word2phrase"
    if not binary.exists():
        subprocess.run(["bash", str(SHARED / "peers" / "build.sh"), str(directory)], check=True,
                       stdout=subprocess.DEVNULL)
    return binary


def word2phrase(binary: Path, source: Path, target: Path, min_count: int,
                threshold: float) -> None:
    subprocess.run([str(binary), "-train", str(source), "-output", str(target), "-min-count",
                    str(min_count), "-threshold", str(threshold), "-debug", "0"], check=True,
                   stdout=subprocess.DEVNULL)


def embedkit_phrases(source: Path, target: Path, min_count: int, threshold: float,
                     passes: int = 1) -> None:
    subprocess.run([sys.executable, "-m", "embedkit", "phrases", str(source), "--tokenizer",
                    "whitespace", "--no-lowercase", "--min-count", str(min_count),
                    "--threshold", str(threshold), "--passes", str(passes), "-o", str(target)],
                   check=True)


def compare(c_output: Path, ours: Path) -> tuple[int, int, int, int]:
    """(lines, differing lines, phrase tokens of the C tool, phrase tokens of embedkit)."""
    with open(c_output, encoding="utf-8", errors="surrogateescape") as a, \
            open(ours, encoding="utf-8", errors="surrogateescape") as b:
        lines = differing = 0
        theirs, mine = Counter(), Counter()
        for left, right in zip(a, b, strict=True):
            lines += 1
            left_tokens, right_tokens = left.split(), right.split()
            differing += left_tokens != right_tokens
            theirs.update(t for t in left_tokens if "_" in t)
            mine.update(t for t in right_tokens if "_" in t)
    return lines, differing, sum(theirs.values()), sum(mine.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=None,
                        help="directory of the built C tools (default: built in a temporary "
                             "directory)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"skipped: {args.corpus} is missing")
        return 0
    with tempfile.TemporaryDirectory(prefix="phrases-compat-") as tmp:
        work = Path(tmp)
        binary = build_peers(args.peers or work / "peers")
        source = work / "corpus.txt"
        with gzip.open(args.corpus, "rb") if args.corpus.suffix == ".gz" \
                else open(args.corpus, "rb") as src, open(source, "wb") as dst:
            shutil.copyfileobj(src, dst)
        print(f"{args.corpus.name}: word2phrase (C) against embedkit phrases, whitespace "
              "tokens, case kept")
        print(f"{'min-count':>9} {'threshold':>9} {'passes':>6} {'lines':>8} {'differ':>7} "
              f"{'C phrases':>10} {'embedkit':>9}")
        failed = False
        for min_count, threshold in SETTINGS:
            word2phrase(binary, source, work / "c1.txt", min_count, threshold)
            embedkit_phrases(source, work / "e1.txt", min_count, threshold)
            lines, differ, theirs, mine = compare(work / "c1.txt", work / "e1.txt")
            failed |= differ > 0
            print(f"{min_count:>9} {threshold:>9g} {1:>6} {lines:>8} {differ:>7} {theirs:>10} "
                  f"{mine:>9}")
        min_count, threshold = 5, 100.0
        word2phrase(binary, source, work / "c1.txt", min_count, threshold)
        word2phrase(binary, work / "c1.txt", work / "c2.txt", min_count, threshold)
        embedkit_phrases(source, work / "e2.txt", min_count, threshold, passes=2)
        lines, differ, theirs, mine = compare(work / "c2.txt", work / "e2.txt")
        print(f"{min_count:>9} {threshold:>9g} {2:>6} {lines:>8} {differ:>7} {theirs:>10} "
              f"{mine:>9}")
        print("(a second pass may differ where the C tool counts a joined word and a pair "
              "spelled the same, new_york and new york, as one)")
    print("FAIL: single-pass outputs differ" if failed else "OK: single-pass outputs identical")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
