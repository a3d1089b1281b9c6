#!/usr/bin/env python3
"""Make corpora/kjv.txt.gz: the King James Bible, one verse per line.

Source: Debian's ``bible-kjv-text`` package (its compressed text, read with the ``bible`` program
of the ``bible-kjv`` package it recommends). The KJV text is in the public domain.

    apt-get install bible-kjv-text bible-kjv
    python3 corpora/make_kjv.py                    # writes corpora/kjv.txt.gz
    python3 corpora/make_kjv.py -o /tmp/kjv.txt.gz

``bible -l0`` prints each chapter as a heading line (``Genesis 1``) followed by one line per verse,
``  <number> <text>`` (``-l0``: no line wrapping). Headings and blank lines are dropped, the verse
number is cut off and the text is kept as printed (case and punctuation: embedkit's tokeniser
lower-cases and splits). The gzip stream carries no name or time stamp, so the output is the same
byte for byte on every run.
"""

import argparse
import gzip
import re
import subprocess
import sys
from pathlib import Path

ALL_VERSES = "gen1:1-rev22:21"
VERSE = re.compile(r"^ +\d+ (.+)$")
EXPECTED_VERSES = 31_102


def verses(text):
    """Yield the text of every verse line of ``bible -l0`` output, without its number."""
    for line in text.splitlines():
        match = VERSE.match(line)
        if match:
            yield match.group(1).strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent / "kjv.txt.gz")
    args = parser.parse_args()
    text = subprocess.run(["bible", "-l0", ALL_VERSES], check=True, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}).stdout
    lines = list(verses(text))
    if len(lines) != EXPECTED_VERSES:
        sys.exit(f"make_kjv: expected {EXPECTED_VERSES} verses, found {len(lines)}")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(args.output, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
        out.write(data)
    print(f"{args.output}: {len(lines)} verses, {len(data.split())} words", file=sys.stderr)


if __name__ == "__main__":
    main()
