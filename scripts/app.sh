#!/usr/bin/env bash
# Sets up .venv/ (see setup.sh) and starts the app; it builds index/ from corpus/ first if there is none.
# Extra arguments go to app.py: bash scripts/app.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python app.py "$@"
