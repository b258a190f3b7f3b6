#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu 22.04).
# It installs what the grader needs from the distribution (Python, bubblewrap: the sandbox)
# and the grader itself from PyPI into a virtual environment, puts `grader` on PATH, and
# prepares the data once for every container: fetched and MD5-checked if the zip does not
# carry it, split as the notebook splits it.
# AUTOGRADER_ROOT (default /autograder) and GRADER_BIN_DIR (default /usr/local/bin) move it,
# for a trial run outside Gradescope.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
BIN_DIR="${GRADER_BIN_DIR:-/usr/local/bin}"
export GRADER_CACHE="${GRADER_CACHE:-$ROOT/cache}"  # the split prepared here, read by every run

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet "$ROOT/source/grader-src"
mkdir -p "$BIN_DIR"
ln -sf "$ROOT/venv/bin/grader" "$BIN_DIR/grader"

"$BIN_DIR/grader" gradescope setup --root "$ROOT"
