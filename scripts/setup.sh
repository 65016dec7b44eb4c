#!/usr/bin/env bash
# Creates .venv/ in the repo root and installs the project with its dev extras.
# torch==2.13.0 goes first: it is a local CPU build; letting pip resolve torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-dev}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]"
