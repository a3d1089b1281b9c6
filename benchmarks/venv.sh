#!/usr/bin/env bash
# Create (once) benchmarks/.venv with embedkit and the peers it is compared against, then print
# the path of its python. Usage: PY=$(bash benchmarks/venv.sh) && "$PY" benchmarks/bench_core.py
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
  "$venv/bin/pip" install -q -e "$here/.." >&2
fi
echo "$venv/bin/python"
