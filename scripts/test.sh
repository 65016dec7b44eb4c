#!/usr/bin/env bash
# Sets up .venv/ (see setup.sh), installs Debian's Chromium for the browser tests and Tesseract (with its
# Vietnamese model) for the OCR tests, runs the test suite.
# Extra pytest arguments are passed through: bash scripts/test.sh -k retrieval
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS:-dev,milvus,ray}" bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: chromium missing and not root; browser tests will be skipped" >&2
  fi
fi
if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx vie; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-vie >/dev/null) \
      || echo "warning: could not install tesseract-ocr; OCR tests will be skipped" >&2
  else
    echo "warning: tesseract-ocr (with tesseract-ocr-vie) missing and not root; OCR tests will be skipped" >&2
  fi
fi
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
